"""What the complaints pages need (DS-12, GA-15, PI-50): inbox, ticket and target history, resolve command.

Kept apart from `ports.py` so that the complaints inbox stays one addition.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from services.console.domain.complaint_resolution import Resolution
from services.console.ports import Actor, CommandResult, Page


@dataclass(frozen=True)
class ComplaintQuery:
    """Criteria of the inbox: `status` open (default) or resolved, optionally one kind of ticket."""

    status: str = "open"
    kind: str = ""
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class ComplaintCounts:
    """The complaints inbox on the dashboard."""

    open: int
    overdue: int  # open tickets the complaints service flagged overdue


class ComplaintDesk(Protocol):
    """Tickets and target histories from the console's read models; resolutions as commands."""

    async def inbox(self, query: ComplaintQuery) -> Page:
        """Tickets matching `query`: flagged overdue first, then by due date (without their history)."""
        ...

    async def ticket(self, complaint_id: str) -> dict[str, Any] | None:
        """One ticket with its history."""
        ...

    async def counts(self) -> ComplaintCounts:
        """Open and overdue tickets."""
        ...

    async def sanctions(self, user_id: str) -> dict[str, Any] | None:
        """A user's sanctions and lifts (DS-10.3), if the console has seen any."""
        ...

    async def identity(self, user_id: str) -> dict[str, Any] | None:
        """A user's latest identity decision (DS-9), if any."""
        ...

    async def review_items(self, *, request_id: str = "", content_id: str = "") -> list[dict[str, Any]]:
        """Review items (DS-10.1) of a generation request or about a content id, newest first."""
        ...

    async def sent(self, complaint_id: str) -> dict[str, Any] | None:
        """The resolution the console sent for the ticket (its audit record), if any."""
        ...

    async def resolve(
        self,
        ticket: dict[str, Any],
        resolution: Resolution,
        *,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """Record and send the resolution (audit record + command in one write), at most one per ticket."""
        ...
