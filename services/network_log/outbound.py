"""The outbound translator: activity records that cannot be kept → `dsgov.deadletter.recorded`.

`network_log` publishes nothing else; it answers inspections with files (`dsgov-inspect`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.network_log.domain.records import Rejected
from shared.contracts.deadletter import ErrorCode
from shared.contracts.envelope import CloudEvent
from shared.messaging.deadletter import dead_letter_event

SERVICE = "network_log"
SOURCE = "dsgov/network-log"


def dead_letters(
    rejected: Sequence[Rejected], *, fallback_provider: str, now: datetime, secret: str
) -> list[CloudEvent]:
    """One dead letter per rejected record; the payload encrypted (the activity topic is sensitive)."""
    out = []
    for r in rejected:
        code: ErrorCode = r.code  # type: ignore[assignment]  # codes come from the codec or the tenancy check
        out.append(
            dead_letter_event(
                service=SERVICE,
                source=SOURCE,
                providerid=r.event.providerid if r.event else fallback_provider,
                record=r.record,
                code=code,
                detail=r.detail,
                attempts=1,
                now=now,
                encrypt_with=secret,
                original_event_id=r.event.id if r.event else None,
                original_type=r.event.type if r.event else None,
                correlation_id=r.event.correlation if r.event else None,
            )
        )
    return out
