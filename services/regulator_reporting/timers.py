"""The timers of cybersecurity incidents: the summary reminder and the 30-day summary (CIR).

The next timer of each incident is kept in its stored state (`state.timer_ms`), so timers survive
restarts: each tick fires the due ones through the shared save-and-publish step
(`runtime.operations.apply`), with an operation id derived from the incident and the timer's
time, so a timer fires once even when two processes look at it. A fired timer changes the facts,
which makes the incident due for its next report (numbered and signed by the sequencer).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import partial

from services.regulator_reporting.domain.incidents import Incident
from services.regulator_reporting.domain.reports import SOURCE
from services.regulator_reporting.handlers import ReportingHandlers
from services.regulator_reporting.ports import TimerSource
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
