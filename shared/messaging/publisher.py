"""Publishing outbox messages to Kafka, keyed by subject, with CloudEvents headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker

from shared.contracts.envelope import CONTENT_TYPE
from shared.storage.outbox import OutboxMessage


class Publisher:
    """Sends outbox messages; waits until the broker has acknowledged every one."""

    def __init__(self, broker: KafkaBroker, *, topic_prefix: str = "") -> None:
        """`topic_prefix` namespaces topics (test isolation); production leaves it empty."""
        self._broker = broker
        self._prefix = topic_prefix

    def topic(self, name: str) -> str:
        """The physical topic name for a contract topic name."""
        return self._prefix + name

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish in order (per key order is kept: same key, same partition) and await acks."""
        pending: list[Any] = []
        for m in messages:
            pending.append(
                await self._broker.publish(
                    m.value.encode("utf-8"),
                    topic=self.topic(m.topic),
                    key=m.key.encode("utf-8"),
                    headers={"content-type": CONTENT_TYPE, "ce_id": m.id, "ce_type": m.type},
                    correlation_id=m.correlation_id,
                    no_confirm=True,
                )
            )
        if pending:
            await asyncio.gather(*pending)
