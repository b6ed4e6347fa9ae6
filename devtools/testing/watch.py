"""For benchmarks: note when each expected event first arrives on a topic."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from aiokafka import AIOKafkaConsumer


def by_causation(event: dict[str, Any]) -> Hashable:
    """The id of the event that caused this one (dsgov sets it on everything it publishes)."""
    cause: str = event["causationid"]
    return cause


class ArrivalWatch:
    """Consumes `topic` (no group) and records `perf_counter()` of the first arrival per key."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        key: Callable[[dict[str, Any]], Hashable] = by_causation,
        from_beginning: bool = False,
    ) -> None:
        """`key` names an arrival; by default the id of the causing event."""
        self.arrived: dict[Hashable, float] = {}
        self._key = key
        self._from_beginning = from_beginning
        self._task: asyncio.Task[None] | None = None
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest" if from_beginning else "latest",
            fetch_max_wait_ms=5,  # the embedded broker answers a fetch only when this expires
        )

    async def start(self) -> None:
        """Start consuming (at the end of the topic unless `from_beginning`)."""
        await self.consumer.start()
        if not self._from_beginning:
            await self.consumer.seek_to_end()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    self.arrived.setdefault(self._key(json.loads(r.value)), now)

    async def wait(self, keys: Iterable[Hashable], timeout: float) -> None:
        """Poll until every key arrived; TimeoutError naming how many did not."""
        wanted = list(keys)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(k in self.arrived for k in wanted):
                return
            await asyncio.sleep(0.02)
        missing = sum(1 for k in wanted if k not in self.arrived)
        raise TimeoutError(f"{missing} of {len(wanted)} expected events did not arrive within {timeout}s")

    async def stop(self) -> None:
        """Stop consuming."""
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.consumer.stop()
