"""A Kafka producer and a recorder of everything published on some topics, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer


@dataclass(frozen=True)
class Seen:
    """A record as the recorder saw it."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    received_at: float  # time.monotonic()

    def json(self) -> dict[str, Any]:
        """The value parsed as JSON."""
        result: dict[str, Any] = json.loads(self.value)
        return result


class Recorder:
    """Consumes topics from the beginning (no consumer group) and keeps every record."""

    def __init__(self, bootstrap: str, topics: list[str], *, strip_prefix: str = "") -> None:
        """Record `topics`; topic names are stored without `strip_prefix`."""
        self.records: list[Seen] = []
        self._consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            group_id=None,
            fetch_max_wait_ms=10,  # the embedded broker answers a fetch only when this expires
        )
        self._strip = strip_prefix
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start consuming in the background."""
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    topic = r.topic[len(self._strip) :] if r.topic.startswith(self._strip) else r.topic
                    key = r.key.decode("utf-8", "replace") if r.key is not None else None
                    self.records.append(Seen(topic, r.partition, r.offset, key, r.value or b"", now))

    async def stop(self) -> None:
        """Stop consuming."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    def matching(self, predicate: Callable[[Seen], bool]) -> list[Seen]:
        """Every record so far for which `predicate` holds."""
        return [r for r in list(self.records) if predicate(r)]

    async def wait_for(
        self, predicate: Callable[[Seen], bool], *, count: int = 1, timeout: float = 30.0
    ) -> list[Seen]:
        """Poll until at least `count` matching records arrived; fail with what was seen otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.matching(predicate)
            if len(found) >= count:
                return found
            await asyncio.sleep(0.05)
        found = self.matching(predicate)
        raise AssertionError(f"expected {count} matching records within {timeout}s, saw {len(found)}")


async def start_producer(bootstrap: str, *, max_request_size: int = 4 * 1024 * 1024) -> AIOKafkaProducer:
    """A started producer that can also send oversized test payloads."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=max_request_size, linger_ms=2)
    await producer.start()
    return producer


def of_type(type_: str, subject: str | None = None) -> Callable[[Seen], bool]:
    """Predicate: a CloudEvent of `type_` (and `subject`, when given)."""

    def pred(r: Seen) -> bool:
        try:
            e = r.json()
        except ValueError:
            return False
        return bool(e.get("type") == type_ and (subject is None or e.get("subject") == subject))

    return pred
