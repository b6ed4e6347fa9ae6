"""Building an outgoing event from what caused it: ids, correlation and causation derived in one place.

Every event dsgov publishes names the event (or operation) that caused it: `causationid` is the
cause's id, `correlationid` is carried from the cause, and the id is derived deterministically from
the cause, so a redelivered cause yields byte-identical events that consumers drop (rule 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.contracts.base import Payload
from shared.contracts.envelope import CloudEvent, new_event
from shared.messaging.codec import Inbound
from shared.messaging.ids import derived_id


@dataclass(frozen=True)
class Cause:
    """What an outgoing event answers: an inbound event, or an operation (a timer, a click, a seed)."""

    id: str
    providerid: str
    correlation: str

    @classmethod
    def of(cls, event: Inbound[Any]) -> Cause:
        """The cause an inbound event is."""
        return cls(event.id, event.event.providerid, event.event.correlation)

    @classmethod
    def operation(cls, operation_id: str, providerid: str, correlation: str | None = None) -> Cause:
        """An operation that did not come from Kafka; it starts its own correlation by default."""
        return cls(operation_id, providerid, correlation or operation_id)


def reply(
    cause: Inbound[Any] | Cause,
    *,
    type: str,
    source: str,
    subject: str,
    data: Payload,
    time: datetime,
    id: str | None = None,
    id_parts: tuple[str, ...] | None = None,
) -> CloudEvent:
    """The envelope of an event caused by `cause`.

    The id is `id` when given, else derived from `source`, `id_parts` (default: the type) and the
    cause's id — stable across redeliveries.
    """
    c = Cause.of(cause) if isinstance(cause, Inbound) else cause
    event_id = id or derived_id(source, *(id_parts or (type,)), c.id)
    return new_event(
        type=type,
        source=source,
        subject=subject,
        providerid=c.providerid,
        data=data,
        id=event_id,
        time=time,
        correlationid=c.correlation,
        causationid=c.id,
    )
