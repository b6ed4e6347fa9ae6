"""Building the commands the console sends (pure: ids, time and actor are passed in)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

from shared.contracts import types as T
from shared.contracts.base import Actor as ContractActor
from shared.contracts.consent import ConsoleConsentWithdrawal
from shared.contracts.console import LibraryChangeSubmitted, ReviewDecisionSubmitted
from shared.contracts.envelope import CloudEvent, new_event
from shared.messaging.ids import derived_id

SOURCE: Final = "dsgov/console"
WITHDRAWAL: Final = T.CONSENT_WITHDRAWAL_SUBMITTED


def withdrawal_command_id(request_id: str) -> str:
    """The command id of one submitted withdrawal form: a resubmission yields the same id."""
    return derived_id(SOURCE, "withdrawal", request_id)


def withdrawal_command(
    consent: Mapping[str, Any],
    *,
    reason: str,
    username: str,
    role: str,
    request_id: str,
    now: datetime,
) -> CloudEvent:
    """`dsgov.consent.withdrawal-submitted` on `dsgov.console.commands` for a consent in the read model.

    It continues the consent's flow (correlation id of the events about it) and is caused by the
    latest consent event the operator saw.
    """
    data = ConsoleConsentWithdrawal(
        consent_id=consent["consent_id"],
        subject_id=consent["subject_id"],
        reason=reason,
        actor=ContractActor.model_validate({"username": username, "role": role}),
    )
    command_id = withdrawal_command_id(request_id)
    return new_event(
        type=WITHDRAWAL,
        source=SOURCE,
        subject=data.consent_id,
        providerid=consent["provider_id"],
        data=data,
        id=command_id,
        time=now,
        correlationid=consent.get("correlation_id") or command_id,
        causationid=consent.get("last_event_id") or command_id,
    )


LIBRARY_CHANGE: Final = T.LIBRARY_CHANGE_SUBMITTED
REVIEW_DECISION: Final = T.REVIEW_DECISION_SUBMITTED


def library_change_command_id(request_id: str) -> str:
    """The command id of one submitted library form: a resubmission yields the same id."""
    return derived_id(SOURCE, "library-change", request_id)


def library_change_command(
    *,
    change: Literal["propose", "approve", "disable"],
    entry_id: str,
    entry: Mapping[str, Any] | None,
    reason: str,
    username: str,
    role: str,
    provider_id: str,
    request_id: str,
    now: datetime,
    current: Mapping[str, Any] | None = None,
) -> CloudEvent:
    """`dsgov.library.change-submitted` (DS-10.2): propose (with `entry`), approve or disable an entry.

    An approval or a disabling continues the entry's flow (`current` is its read model): the
    correlation id of the events about it, caused by the latest one the operator saw. A proposal
    starts a flow of its own.
    """
    data = LibraryChangeSubmitted(
        change=change,
        entry_id=entry_id,
        entry=dict(entry) if entry is not None else None,
        reason=reason,
        actor=ContractActor.model_validate({"username": username, "role": role}),
    )
    command_id = library_change_command_id(request_id)
    current = current or {}
    return new_event(
        type=LIBRARY_CHANGE,
        source=SOURCE,
        subject=entry_id,
        providerid=current.get("provider_id") or provider_id,
        data=data,
        id=command_id,
        time=now,
        correlationid=current.get("correlation_id") or command_id,
        causationid=current.get("last_event_id") or command_id,
    )


def review_decision_command_id(request_id: str) -> str:
    """The command id of one submitted review decision form."""
    return derived_id(SOURCE, "review-decision", request_id)


def review_decision_command(
    item: Mapping[str, Any],
    *,
    decision: Literal["approve", "reject"],
    reason: str,
    username: str,
    role: str,
    request_id: str,
    now: datetime,
) -> CloudEvent:
    """`dsgov.review.decision-submitted` (DS-10.1 manual review) for an item of the read model.

    Keyed by the generation request, so it reaches the review service in order with the request's
    other events; it continues the request's flow and is caused by the `review.queued` event.
    """
    data = ReviewDecisionSubmitted(
        item_id=item["item_id"],
        request_id=item["request_id"],
        decision=decision,
        reason=reason,
        actor=ContractActor.model_validate({"username": username, "role": role}),
    )
    command_id = review_decision_command_id(request_id)
    return new_event(
        type=REVIEW_DECISION,
        source=SOURCE,
        subject=data.request_id,
        providerid=item["provider_id"],
        data=data,
        id=command_id,
        time=now,
        correlationid=item.get("correlation_id") or command_id,
        causationid=item.get("queued_event_id") or item.get("last_event_id") or command_id,
    )
