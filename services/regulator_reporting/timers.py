"""Timers: cybersecurity incidents' reminder and 30-day summary (CIR); complaint statistics (DS-12).

The next timer of each incident is kept in its stored state (`state.timer_ms`), so timers survive
restarts: each tick fires the due ones through the shared save-and-publish step
(`runtime.operations.apply`), with an operation id derived from the incident and the timer's
time, so a timer fires once even when two processes look at it. A fired timer changes the facts,
which makes the incident due for its next report (numbered and signed by the sequencer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import partial

from services.regulator_reporting.domain.complaints import (
    StatisticsPolicy,
    counted_from,
    last_closed,
    reportable,
)
from services.regulator_reporting.domain.incidents import Incident, digest
from services.regulator_reporting.domain.reports import SOURCE
from services.regulator_reporting.handlers import ReportingHandlers
from services.regulator_reporting.ports import TicketCounts, TimerSource
from shared.messaging.ids import derived_id
from shared.messaging.routing import Outcome
from shared.observability import get_logger

log = get_logger(__name__)

Decide = Callable[[Incident | None], Outcome[Incident]]
Apply = Callable[[str, str, type[Incident], Decide], Awaitable[bool]]


class IncidentTimers:
    """Fires due incident timers; `tick` is run by `every(...)`."""

    def __init__(
        self,
        source: TimerSource,
        apply: Apply,
        handlers: ReportingHandlers,
        clock: Callable[[], datetime],
        *,
        batch: int = 200,
    ) -> None:
        """`apply` is `runtime.operations.apply` (or the in-memory twin in tests)."""
        self.source = source
        self.apply = apply
        self.handlers = handlers
        self.clock = clock
        self.batch = batch

    async def tick(self) -> int:
        """Fire every timer due now; return how many changed an incident."""
        now = self.clock()
        fired = 0
        for aggregate_id, timer_ms in await self.source.due_timers(int(now.timestamp() * 1000), self.batch):
            operation = derived_id(SOURCE, "timer", aggregate_id, str(timer_ms))
            decide = partial(self.handlers.on_timer, operation_id=operation, now=now)
            if await self.apply(aggregate_id, operation, Incident, decide):
                fired += 1
                log.info("incident.timer_fired", aggregate_id=aggregate_id, timer_ms=timer_ms)
        return fired


class ComplaintStatisticsTimer:
    """Counts each provider's last closed period and reports it (DS-12, GA-15); `tick` runs by `every(...)`.

    Nothing is kept in memory that a restart needs: the counts come from the stored tickets, the
    operation id from the counts' digest (a recount with the same figures is the same operation),
    and the incident's reported digest decides whether a report is owed. Figures that change after
    the period was reported (late events, while it is still the last closed period) give its next part.
    """

    def __init__(
        self,
        source: TicketCounts,
        apply: Apply,
        handlers: ReportingHandlers,
        clock: Callable[[], datetime],
        providers: Sequence[str],
        policy: StatisticsPolicy,
    ) -> None:
        """`providers` are the served ones; `policy` names the period and the settle delay."""
        self.source = source
        self.apply = apply
        self.handlers = handlers
        self.clock = clock
        self.providers = tuple(providers)
        self.policy = policy
        self._applied: dict[str, str] = {}  # aggregate id -> last operation: skips identical recounts
        self._since: dict[str, int] = {}  # provider -> first start (stored; cached once read)

    async def tick(self) -> int:
        """Count the last closed period of every provider; return how many statistics changed."""
        now = self.clock()
        now_ms = int(now.timestamp() * 1000)
        period = last_closed(now_ms, self.policy)
        changed = 0
        for provider in self.providers:
            if provider not in self._since:
                self._since[provider] = await self.source.statistics_since(provider, now_ms)
            since = self._since[provider]
            if not reportable(period, since):
                continue
            counted = await self.source.complaint_counts(provider, period)
            counted = counted.model_copy(update={"counted_from_ms": counted_from(period, since)})
            aggregate_id = f"{provider}/complaint_statistics/{period.kind}/{period.id}"
            operation = derived_id(SOURCE, "statistics", aggregate_id, digest(counted.model_dump()))
            if self._applied.get(aggregate_id) == operation:
                continue
            decide = partial(
                self.handlers.on_statistics,
                provider=provider,
                counted=counted,
                operation_id=operation,
                now=now,
            )
            if await self.apply(aggregate_id, operation, Incident, decide):
                changed += 1
                log.info("complaint_statistics.counted", aggregate_id=aggregate_id, period=period.id)
            self._applied[aggregate_id] = operation
        return changed
