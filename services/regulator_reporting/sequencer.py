"""Stage 2: the sequencer numbers due incidents into the provider's gap-free, hash-chained stream.

One round: read due incidents (earliest first), build and sign the next reports on top of the
provider's head, insert them in order (the insert is the commit point: the ledger's unique keys
refuse a second report with one sequence number or for one incident part), then record in each
incident which report it got. A crash between the insert and that record is repaired in the next
round: the report is found by its incident key and recorded, never numbered twice. A clash (another
sequencer got there first) drops the cached head; the next round starts from the stored one.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime

from services.regulator_reporting.chain import Signer
from services.regulator_reporting.domain.incidents import Incident, PartRef, Policy, mark_reported
from services.regulator_reporting.domain.reports import Head, Pending, part_ref, pending_of
from services.regulator_reporting.outbound import build_report
from services.regulator_reporting.ports import IncidentSource, NewReport, ReportLedger
from shared.messaging.codec import encode
from shared.observability import get_logger
from shared.storage.aggregates import Aggregate

log = get_logger(__name__)

MARK_ROUNDS = 5


class Sequencer:
    """Numbers, signs and stores reports; one chain per provider."""

    def __init__(
        self,
        queue: IncidentSource,
        ledger: ReportLedger,
        signer: Signer,
        policy: Policy,
        clock: Callable[[], datetime],
        *,
        batch: int = 500,
        ack_timeout_s: float = 900.0,
        on_numbered: Callable[[str, Sequence[NewReport]], None] | None = None,
    ) -> None:
        """`on_numbered(provider, reports)` gets the reports just stored (the publisher sends them)."""
        self.queue = queue
        self.ledger = ledger
        self.signer = signer
        self.policy = policy
        self.clock = clock
        self.batch = batch
        self.ack_timeout_ms = int(ack_timeout_s * 1000)
        self.on_numbered = on_numbered
        self._heads: dict[str, Head] = {}
        # Look for reports already stored for due incidents only when one may exist: at start, and
        # after a clash or an unfinished mark. Otherwise the ledger's unique keys are the check.
        self._repair = True

    async def drain(self) -> int:
        """Rounds until one is not full (a backlog is worked off without pausing); return the count.

        After a failure the cached heads are dropped and the next call starts from the stored ones.
        """
        total = 0
        while True:
            try:
                count = await self.round()
            except Exception:
                self._heads.clear()
                self._repair = True
                raise
            total += count
            if count < self.batch:
                return total

    async def round(self) -> int:
        """One round over up to `batch` due incidents; return how many reports were stored."""
        now = self.clock()
        now_ms = int(now.timestamp() * 1000)
        due = await self.queue.due(now_ms, self.batch)
        by_provider: dict[str, list[tuple[Aggregate, Incident]]] = defaultdict(list)
        for agg in due:
            state = agg.typed(Incident)
            if state is not None and state.draft_digest:
                by_provider[state.provider].append((agg, state))
        repair, self._repair = self._repair, False
        stored = 0
        for provider, incidents in by_provider.items():
            inserted, refs = await self._number(provider, incidents, now, repair)
            stored += inserted
            await self._mark([a for a, _ in incidents if a.id in refs], refs, now_ms)
        return stored

    async def _number(
        self, provider: str, incidents: list[tuple[Aggregate, Incident]], now: datetime, repair: bool
    ) -> tuple[int, dict[str, PartRef]]:
        now_ms = int(now.timestamp() * 1000)
        pendings = [pending_of(a.id, state) for a, state in incidents]
        keys = [p.incident_key for p in pendings]
        existing = await self.ledger.by_incident_keys(provider, keys) if repair else {}
        refs: dict[str, PartRef] = {}
        for p in pendings:
            if (found := existing.get(p.incident_key)) is not None:
                refs[p.aggregate_id] = PartRef(
                    found.report_id, found.sequence, p.incident_key, found.draft_digest
                )
        fresh = [p for p in pendings if p.aggregate_id not in refs]
        head = self._heads.get(provider) or await self.ledger.head(provider)
        reports, head_after = await asyncio.to_thread(self._build, fresh, head, now)
        inserted = await self.ledger.append(reports, now_ms, now_ms + self.ack_timeout_ms)
        if inserted < len(reports):
            self._heads.pop(provider, None)  # someone else numbered first: start from the stored head
            self._repair = True
            log.warning("sequencer.clash", provider=provider, planned=len(reports), inserted=inserted)
        else:
            self._heads[provider] = head_after
        for p, r in zip(fresh[:inserted], reports[:inserted], strict=True):
            refs[p.aggregate_id] = part_ref(p, r.sequence)
        if inserted:
            if self.on_numbered:
                self.on_numbered(provider, reports[:inserted])
            log.info(
                "reports.numbered",
                provider=provider,
                count=inserted,
                last_sequence=reports[inserted - 1].sequence,
            )
        return inserted, refs

    def _build(self, pendings: Sequence[Pending], head: Head, now: datetime) -> tuple[list[NewReport], Head]:
        reports = []
        for p in pendings:
            event = build_report(p, head, self.signer, now)
            head = Head(head.sequence + 1, event.data["hash"])
            reports.append(
                NewReport(
                    provider=p.provider,
                    sequence=head.sequence,
                    report_id=p.report_id,
                    incident_key=p.incident_key,
                    hash=head.hash,
                    prev_hash=event.data["prev_hash"],
                    key_id=self.signer.key_id,
                    category=event.data["category"],
                    draft_digest=p.draft_digest,
                    event_id=event.id,
                    correlation_id=event.correlation,
                    value=encode(event).decode("utf-8"),
                )
            )
        return reports, head

    async def _mark(self, aggregates: list[Aggregate], refs: dict[str, PartRef], now_ms: int) -> None:
        todo = aggregates
        for _ in range(MARK_ROUNDS):
            for agg in todo:
                state = agg.typed(Incident)
                assert state is not None  # only incidents with a draft are numbered
                agg.state = mark_reported(state, refs[agg.id], now_ms, self.policy)
                agg.dirty = True
            lost = await self.queue.save(todo)
            if not lost:
                return
            # An event changed the incident meanwhile: apply the mark to the fresh copy.
            reloaded = await self.queue.load(lost)
            todo = [reloaded[i] for i in lost]
        self._repair = True  # the next round finds their reports by incident key
        log.warning("sequencer.mark_deferred", incidents=len(todo))
