"""Building the commands the console sends (pure: ids, time and actor are passed in)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from shared.contracts.base import Actor as ContractActor
from shared.contracts.consent import ConsoleConsentWithdrawal
from shared.contracts.envelope import CloudEvent, new_event
from shared.messaging.ids import derived_id

SOURCE: Final = "dsgov/console"
WITHDRAWAL: Final = "dsgov.consent.withdrawal-submitted"


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
