"""What the complaints service reads besides the aggregate it decides on."""

from __future__ import annotations

from typing import Protocol

from services.complaints.domain.person import Person
from services.complaints.domain.ticket import Ticket


class PersonDirectory(Protocol):
    """The person projection (for answering rights requests)."""

    async def person(self, provider_id: str, user_id: str) -> Person | None:
        """The projection of one user, or None when dsgov learnt nothing about them."""
        ...


class DueTickets(Protocol):
    """Open tickets whose deadline passed and that were not reported overdue yet."""

    async def due(self, now_ms: int, limit: int) -> list[Ticket]:
        """Up to `limit` such tickets, earliest deadline first."""
        ...
