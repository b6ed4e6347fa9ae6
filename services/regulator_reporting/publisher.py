"""Stage 3: the publisher sends stored reports, and re-sends those not acknowledged in time.

First sends follow a published mark per provider ("every report up to N went out at least once"):
each round takes the reports after the mark in sequence order — handed over by the sequencer of
this process when they continue the mark, otherwise read from the ledger — publishes them as the
exact bytes stored when they were numbered, waits for the broker, then advances the mark: one
small write per batch. A crash between publishing and advancing the mark only causes identical re-sends,
which the regulator's `verify` accepts. Re-sends are driven by each report's `next_send_ms`: a
report not acknowledged within the timeout goes out again, byte-identical (same CloudEvents id,
same report id and sequence). Every report of a provider goes to one partition of
`dsgov.regulator.reports` (the key stays the report id, as the contract says), so the regulator
reads the stream in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from datetime import datetime

from faststream.kafka import KafkaBroker

from services.regulator_reporting.ports import NewReport, Outgoing, ReportLedger
from shared.contracts import types as T
from shared.contracts.envelope import CONTENT_TYPE
from shared.observability import get_logger

log = get_logger(__name__)


class ReportPublisher:
    """Publishes reports after the published mark, and due re-sends, until stopped."""

    def __init__(
        self,
        ledger: ReportLedger,
        broker: KafkaBroker,
        *,
        topic: str,
        partition: int,
        ack_timeout_s: float,
        clock: Callable[[], datetime],
        batch: int = 500,
        interval_s: float = 0.1,
        wake: asyncio.Event | None = None,
    ) -> None:
        """`topic` is the physical topic name; `wake` is set by the sequencer when reports are stored."""
        self.ledger = ledger
        self.broker = broker
        self.topic = topic
        self.partition = partition
        self.ack_timeout_ms = int(ack_timeout_s * 1000)
        self.resend_check_s = min(1.0, ack_timeout_s / 4)
        self.clock = clock
        self.batch = batch
        self.interval_s = interval_s
        self.wake = wake or asyncio.Event()
        self._providers: set[str] | None = None  # read from the ledger at the first round
        self._marks: dict[str, int] = {}
        self._handed: dict[str, deque[Outgoing]] = defaultdict(deque)
        self._caught_up: dict[str, float] = {}  # provider -> when the ledger last had nothing new
        self._resend_checked = 0.0

    def numbered(self, provider: str, reports: Sequence[NewReport] = ()) -> None:
        """The sequencer stored `reports` of `provider` (in order): publish them soon."""
        if self._providers is not None:
            self._providers.add(provider)
        handed = self._handed[provider]
        if len(handed) > 10 * self.batch:
            handed.clear()  # publishing is behind: the ledger has them all, read them from there
        handed.extend(
            Outgoing(
                r.provider, r.provider, r.sequence, r.report_id, r.event_id, r.correlation_id, r.value, 0
            )
            for r in reports
        )
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until stopped; errors are logged and the next round starts from the stored mark."""
        while not stop.is_set():
            count = 0
            try:
                count = await self.round()
            except Exception:
                log.exception("publisher.round_failed")
                self._marks.clear()
                self._handed.clear()
                self._caught_up.clear()
            if count < self.batch:
                await self._pause(stop)

    async def _pause(self, stop: asyncio.Event) -> None:
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self.wake.wait())]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED), self.interval_s
            )
        for w in waiters:
            w.cancel()
        self.wake.clear()

    async def round(self) -> int:
        """First sends for every provider, then due re-sends; return how many went out."""
        if self._providers is None:
            self._providers = set(await self.ledger.providers())
        sent = 0
        for provider in sorted(self._providers):
            sent += await self._first_sends(provider)
        if time.monotonic() - self._resend_checked >= self.resend_check_s:
            self._resend_checked = time.monotonic()
            sent += await self._resends()
        return sent

    async def _first_sends(self, provider: str) -> int:
        mark = self._marks.get(provider)
        if mark is None:
            mark = self._marks[provider] = await self.ledger.published_upto(provider)
        reports = self._take_handed(provider, mark) or await self._read_after(provider, mark)
        if not reports:
            return 0
        await self._publish(reports)
        last = reports[-1].sequence
        await self.ledger.set_published_upto(provider, last)
        self._marks[provider] = last
        return len(reports)

    async def _read_after(self, provider: str, mark: int) -> list[Outgoing]:
        # Caught up and nothing handed over: the ledger is looked at only once per check period
        # (another process may have numbered reports and not published them).
        if time.monotonic() - self._caught_up.get(provider, -1e9) < self.resend_check_s:
            return []
        reports = await self.ledger.after(provider, mark, self.batch)
        if reports:
            self._caught_up.pop(provider, None)
        else:
            self._caught_up[provider] = time.monotonic()
        return reports

    def _take_handed(self, provider: str, mark: int) -> list[Outgoing]:
        # Only a run that continues the mark exactly: anything else (another process numbered in
        # between, a restart) is read from the ledger instead.
        handed = self._handed[provider]
        while handed and handed[0].sequence <= mark:
            handed.popleft()
        taken: list[Outgoing] = []
        while handed and len(taken) < self.batch and handed[0].sequence == mark + len(taken) + 1:
            taken.append(handed.popleft())
        return taken

    async def _resends(self) -> int:
        now_ms = int(self.clock().timestamp() * 1000)
        due = await self.ledger.due(now_ms, self.batch)
        # A report is re-sent only after its first send, so the stream's order is kept.
        due = [r for r in due if r.sequence <= self._marks.get(r.provider, 0)]
        if not due:
            return 0
        await self._publish(due)
        await self.ledger.mark_resent([r.doc_id for r in due], now_ms, now_ms + self.ack_timeout_ms)
        log.warning("reports.resent_unacknowledged", count=len(due), sequences=[r.sequence for r in due][:20])
        return len(due)

    async def _publish(self, reports: Sequence[Outgoing]) -> None:
        pending = [
            await self.broker.publish(
                r.value.encode("utf-8"),
                topic=self.topic,
                key=r.report_id.encode("utf-8"),
                partition=self.partition,
                headers={"content-type": CONTENT_TYPE, "ce_id": r.event_id, "ce_type": T.REPORT_SUBMITTED},
                correlation_id=r.correlation_id,
                no_confirm=True,
            )
            for r in reports
        ]
        await asyncio.gather(*pending)
