"""The expiry worker: publishes `dsgov.consent.expired` within a minute of `expires_at`.

It looks for due consents in the store (not in memory), so expiries that passed while the
service was down are applied at the next start. Each expiry goes through
`Engine.execute(aggregate_id, "expire:<consent_id>", ...)`: state, outbox and the operation id
are one document write, so a crash or a second replica never publishes an expiry twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from services.biometric_consent.domain.consent import epoch_ms
from services.biometric_consent.handlers import ConsentHandlers
from services.biometric_consent.ports import ConsentReader
from shared.messaging.engine import Engine
from shared.observability import get_logger

log = get_logger(__name__)


class ExpiryWorker:
    """Runs `sweep` every `interval_s` until stopped."""

    def __init__(
        self,
        reader: ConsentReader,
        handlers: ConsentHandlers,
        engine: Callable[[], Engine | None],
        clock: Callable[[], datetime],
        *,
        interval_s: float = 5.0,
        batch: int = 500,
    ) -> None:
        """`engine` is read at every round: the runtime builds it after the composition root returns."""
        self.reader = reader
        self.handlers = handlers
        self.engine = engine
        self.clock = clock
        self.interval_s = interval_s
        self.batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep now, then every `interval_s`; errors are logged and the next round tries again."""
        while not stop.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("consent.expiry_sweep_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)

    async def sweep(self) -> int:
        """Expire every due consent (up to `batch` per round, more in the next); return how many."""
        engine = self.engine()
        if engine is None:
            return 0
        applied = 0
        while True:
            due = await self.reader.due_for_expiry(epoch_ms(self.clock()), self.batch)
            round_applied = 0
            for item in due:
                if await engine.execute(item.aggregate_id, f"expire:{item.consent_id}", self.handlers.expire):
                    round_applied += 1
            applied += round_applied
            if len(due) < self.batch or not round_applied:
                break  # the rest (if any) in the next round
        if applied:
            log.info("consent.expired_applied", count=applied)
        return applied
