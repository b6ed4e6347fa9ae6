"""The expiry sweep: publishes `dsgov.consent.expired` within a minute of `expires_at` (DS-14.2).

It looks for due consents in the store (not in memory), so expiries that passed while the
service was down are applied at the next start. Each expiry is one operation
(`operations.apply(aggregate_id, "expire:<consent_id>", ...)`): state, outbox and the operation id
are one document write, so a crash or a second replica never publishes an expiry twice.
The composition root runs the sweep as a periodic worker (`every`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.biometric_consent.domain.consent import epoch_ms
from services.biometric_consent.domain.state import ConsentState
from services.biometric_consent.handlers import ConsentHandlers
from services.biometric_consent.ports import ConsentReader
from shared.messaging.operations import Operations
from shared.observability import get_logger

log = get_logger(__name__)


class ExpirySweep:
    """One round of expiries; call it as a worker's tick."""

    def __init__(
        self,
        reader: ConsentReader,
        handlers: ConsentHandlers,
        operations: Operations,
        clock: Callable[[], datetime],
        *,
        batch: int = 500,
    ) -> None:
        """Read due consents with `reader`, expire each through `operations`."""
        self.reader = reader
        self.handlers = handlers
        self.operations = operations
        self.clock = clock
        self.batch = batch

    async def __call__(self) -> int:
        """Expire every due consent (up to `batch` per query, more in the next); return how many."""
        applied = 0
        while True:
            due = await self.reader.due_for_expiry(epoch_ms(self.clock()), self.batch)
            round_applied = 0
            for item in due:
                operation = f"expire:{item.consent_id}"
                if await self.operations.apply(
                    item.aggregate_id, operation, ConsentState, self.handlers.expire
                ):
                    round_applied += 1
            applied += round_applied
            if len(due) < self.batch or not round_applied:
                break  # the rest (if any) in the next round
        if applied:
            log.info("consent.expired_applied", count=applied)
        return applied
