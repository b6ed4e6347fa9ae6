"""The verification record of one user: the aggregate state of `identity_verification`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from shared.standards.identifiers import AgeGroup
from shared.storage.aggregates import AggregateState

Status = Literal["verified", "rejected"]
# Earlier decisions are records of the real-identity checks at registration (DS-9, SA-5: user
# account and operation records), kept as network logs for at least six months (CS-1: the longest
# six calendar months are 184 days) and no longer than that by default (PI-19: shortest necessary).
HISTORY_MIN_RETENTION = timedelta(days=184)


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
    keep_since: datetime,
) -> VerificationRecord:
    """The record after `summary`: it becomes the latest decision and joins the history.

    Earlier decisions made before `keep_since` (now minus the retention period) leave the
    history; the latest decision always stays, it is the user's current standing.
    """
    kept = tuple(d for d in (previous.history if previous else ()) if d.decided_at >= keep_since)
    history = (*kept, summary)
    return VerificationRecord(
        **summary.model_dump(),
        user_id=user_id,
        provider_id=provider_id,
        identifier_hmac=identifier_hmac,
        masked_identifier=masked_identifier,
        history=history,
    )


def history_retention(days: int) -> timedelta:
    """The history retention period, or ValueError below the 184-day floor (CS-1)."""
    period = timedelta(days=days)
    if period < HISTORY_MIN_RETENTION:
        raise ValueError(
            f"identity history retention of {days} days is below 184 days "
            "(CS-1: network logs are kept no less than six months)"
        )
    return period
