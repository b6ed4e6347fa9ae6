"""The overdue timer: publishes `dsgov.complaint.overdue` once per ticket whose deadline passed.

It looks in the store, not in memory, so deadlines that passed while the service was down are
reported at the next start. Each ticket goes through the shared save-and-publish step with the
operation id `overdue:<complaint_id>`: a crash or a second replica never reports one twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.complaints.adapters.mongo import ticket_key
from services.complaints.domain.ticket import Ticket
from services.complaints.handlers import ComplaintHandlers
from services.complaints.ports import DueTickets
from shared.messaging.operations import Operations
from shared.messaging.replies import Cause
from shared.observability import get_logger

log = get_logger(__name__)


class OverdueTimer:
    """One `tick` reports every ticket that became overdue (in rounds of `batch`)."""

    def __init__(
        self,
        tickets: DueTickets,
        handlers: ComplaintHandlers,
        operations: Operations,
        clock: Callable[[], datetime],
        batch: int = 500,
    ) -> None:
        """Wire the timer."""
        self.tickets = tickets
        self.handlers = handlers
        self.operations = operations
        self.clock = clock
        self.batch = batch

    async def tick(self) -> int:
        """Report every overdue ticket; return how many were reported now."""
        reported = 0
        while True:
            due = await self.tickets.due(int(self.clock().timestamp() * 1000), self.batch)
            applied = [await self._report(t) for t in due]
            reported += sum(applied)
            if len(due) < self.batch or not any(applied):
                break
        if reported:
            log.info("complaint.overdue_reported", count=reported)
        return reported

    async def _report(self, ticket: Ticket) -> bool:
        cause = Cause.operation(f"overdue:{ticket.complaint_id}", ticket.provider_id)
        key = ticket_key(ticket.provider_id, ticket.complaint_id)
        return await self.operations.apply(key, cause.id, Ticket, self.handlers.overdue(cause))
