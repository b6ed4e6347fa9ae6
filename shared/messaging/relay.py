"""The outbox relay: publishes outbox entries that the fast path did not (crash, broker down)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from shared.messaging.publisher import Publisher
from shared.observability import get_logger
from shared.storage.aggregates import AggregateStore

log = get_logger(__name__)


class OutboxRelay:
    """Sweeps aggregates with a pending outbox and publishes it, oldest first, in order."""

    def __init__(
        self, store: AggregateStore, publisher: Publisher, *, interval_s: float = 2.0, grace_ms: int = 5000
    ) -> None:
        """`grace_ms`: leave entries younger than this to the fast path that wrote them."""
        self.store = store
        self.publisher = publisher
        self.interval_s = interval_s
        self.grace_ms = grace_ms

    async def sweep(self, *, include_recent: bool = False) -> int:
        """Publish every pending outbox old enough; return how many messages went out."""
        total = 0
        cutoff = int(time.time() * 1000) - (0 if include_recent else self.grace_ms)
        while True:
            batch = await self.store.with_pending_outbox(cutoff)
            if not batch:
                return total
            messages = [m for a in batch for m in a.outbox]
            await self.publisher.publish(messages)
            await self.store.mark_sent(batch)
            total += len(messages)
            log.info("outbox.relayed", messages=len(messages), aggregates=len(batch))

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep every `interval_s` until `stop` is set; errors are logged and retried."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("outbox.relay_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
