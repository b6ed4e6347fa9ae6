"""An in-memory bus and publisher: the twin of Kafka and `Publisher` for unit tests and in-memory flows.

Published messages become records on their topic with increasing offsets, exactly as a consumer
would read them (`RawRecord`), so the output of one engine can be fed to another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from aiokafka.errors import KafkaConnectionError

from shared.messaging.codec import RawRecord
from shared.storage.outbox import OutboxMessage


class InMemoryBus:
    """Topics as append-only lists of records."""

    def __init__(self) -> None:
        """No topics yet; a topic exists once something is published to it."""
        self.topics: dict[str, list[RawRecord]] = defaultdict(list)

    def append(self, topic: str, key: bytes | None, value: bytes) -> RawRecord:
        """Add one record at the next offset of partition 0."""
        log = self.topics[topic]
        record = RawRecord(topic=topic, partition=0, offset=len(log), key=key, value=value)
        log.append(record)
        return record

    def read(self, topic: str, since: int = 0) -> list[RawRecord]:
        """The records of `topic` from offset `since` on."""
        return list(self.topics.get(topic, [])[since:])


class InMemoryPublisher:
    """Publishes outbox messages onto an `InMemoryBus`; `outage` fails like an unreachable broker."""

    def __init__(self, bus: InMemoryBus | None = None) -> None:
        """Publish onto `bus` (a new one when none is given)."""
        self.bus = bus or InMemoryBus()
        self.outage = False
        self.sent: list[OutboxMessage] = []

    def topic(self, name: str) -> str:
        """No prefixes in memory."""
        return name

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Append every message in order (all or nothing, as a failed batch of acks would be retried)."""
        if self.outage:
            raise KafkaConnectionError("in-memory broker: simulated outage")
        for m in messages:
            self.bus.append(m.topic, m.key.encode("utf-8"), m.value.encode("utf-8"))
        self.sent.extend(messages)

    def of_type(self, type_: str) -> list[OutboxMessage]:
        """Everything published so far of one event type."""
        return [m for m in self.sent if m.type == type_]
