"""Outbox entries: events written in the same document update as the state change that caused them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.contracts.envelope import CloudEvent
from shared.contracts.registry import outbound_spec
from shared.messaging.codec import encode


@dataclass(frozen=True)
class OutboxMessage:
    """A message waiting to be published: topic, key and the exact bytes to send."""

    id: str
    topic: str
    key: str
    value: str  # the JSON text, stored as a string so every store keeps it byte-for-byte
    type: str
    correlation_id: str

    @classmethod
    def from_event(cls, event: CloudEvent, topic: str | None = None) -> OutboxMessage:
        """Wrap an outbound envelope; its key is the subject, its topic comes from the registry.

        Name the `topic` for a type that travels on more than one (a console command, say).
        """
        return cls(
            id=event.id,
            topic=outbound_spec(event.type, topic).topic,
            key=event.subject,
            value=encode(event).decode("utf-8"),
            type=event.type,
            correlation_id=event.correlation,
        )

    def to_doc(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "id": self.id,
            "topic": self.topic,
            "key": self.key,
            "value": self.value,
            "type": self.type,
            "correlation_id": self.correlation_id,
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OutboxMessage:
        """Read the stored form back."""
        return cls(
            id=doc["id"],
            topic=doc["topic"],
            key=doc["key"],
            value=doc["value"],
            type=doc["type"],
            correlation_id=doc["correlation_id"],
        )
