"""The verification record of one user: the aggregate state of `identity_verification`."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shared.standards.identifiers import AgeGroup
from shared.storage.aggregates import AggregateState

Status = Literal["verified", "rejected"]
HISTORY_LIMIT = 20


class DecisionSummary(AggregateState):
    """One decision on a submission (what the platform was told)."""

    decision_id: str
    event_id: str
    submission_id: str
    status: Status
    method: str
    reasons: tuple[str, ...]
    age_group: AgeGroup
    decided_at: datetime


class VerificationRecord(DecisionSummary):
    """The latest decision, the keyed digest and masked form of the identifier, and earlier decisions.

    Never a plaintext identifier (rule 6): `identifier_hmac` recognises the same number again.
    """

    user_id: str
    provider_id: str
    identifier_hmac: str | None
    masked_identifier: str | None
    history: tuple[DecisionSummary, ...] = ()


def recorded(
    previous: VerificationRecord | None,
    summary: DecisionSummary,
    *,
    user_id: str,
    provider_id: str,
    identifier_hmac: str | None,
    masked_identifier: str | None,
) -> VerificationRecord:
    """The record after `summary`: it becomes the latest decision and joins the history."""
    history = (*(previous.history if previous else ()), summary)[-HISTORY_LIMIT:]
    return VerificationRecord(
        **summary.model_dump(),
        user_id=user_id,
        provider_id=provider_id,
        identifier_hmac=identifier_hmac,
        masked_identifier=masked_identifier,
        history=history,
    )
