"""Read adapters over the service's own collection (tickets and person projections share it).

Queries use nested paths (`state.status`, `state.due_at_ms`), served by the index the definition
declares; projections stay top-level (`state`), which the embedded store returns unflattened.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.complaints.domain.person import Person
from services.complaints.domain.ticket import Ticket

TICKET = "ticket:"
PERSON = "person:"


def ticket_key(provider_id: str, complaint_id: str) -> str:
    """The aggregate id of one ticket."""
    return f"{TICKET}{provider_id}/{complaint_id}"


def person_key(provider_id: str, user_id: str) -> str:
    """The aggregate id of one person projection."""
    return f"{PERSON}{provider_id}/{user_id}"


class MongoPeople:
    """Person projections by user."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Read from the service's aggregate collection."""
        self._collection = collection

    async def person(self, provider_id: str, user_id: str) -> Person | None:
        """The projection of one user, or None."""
        doc = await self._collection.find_one({"_id": person_key(provider_id, user_id)}, {"state": 1})
        return Person.model_validate(doc["state"]) if doc and doc.get("state") else None


class MongoTickets:
    """Tickets the overdue timer must look at."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Read from the service's aggregate collection."""
        self._collection = collection

    async def due(self, now_ms: int, limit: int) -> list[Ticket]:
        """Open tickets past their deadline and not yet reported overdue, earliest first."""
        cursor = (
            self._collection.find(
                {"state.status": "open", "state.due_at_ms": {"$lt": now_ms}, "state.overdue_at": None},
                {"state": 1},
            )
            .sort([("state.status", ASCENDING), ("state.due_at_ms", ASCENDING)])
            .limit(limit)
        )
        return [Ticket.model_validate(doc["state"]) async for doc in cursor]
