"""Read adapters over the service's own collection (aggregate documents, see shared.storage).

Queries use nested paths (`state.kind`, `state.grantee_user_id`), which MongoDB and the embedded
nx-27017 both honour; projections stay top-level (`state`, `version`, `updated_ms`) because
nx-27017 flattens nested ones. Indexes are declared in the service definition.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection

from services.generation_review.keys import library_key, user_key


class MongoDirectory:
    """Users and consents as projected by this service."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Read from the service's aggregate collection."""
        self._collection = collection

    async def users(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, Mapping[str, Any]]:
        """One query for every wanted user."""
        ids = [user_key(provider_id, u) for u in dict.fromkeys(user_ids)]
        found: dict[str, Mapping[str, Any]] = {}
        async for doc in self._collection.find({"_id": {"$in": ids}}, {"state": 1}):
            state = doc.get("state") or {}
            if state.get("kind") == "user":
                found[str(state["user_id"])] = state
        return found

    async def consents_granted_to(
        self, provider_id: str, user_ids: Collection[str]
    ) -> Mapping[str, list[Mapping[str, Any]]]:
        """One query (index `state.grantee_user_id`) for every wanted grantee."""
        query = {
            "state.grantee_user_id": {"$in": list(dict.fromkeys(user_ids))},
            "state.kind": "consent",
            "state.provider_id": provider_id,
        }
        found: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        async for doc in self._collection.find(query, {"state": 1}):
            state = doc["state"]
            found[str(state["grantee_user_id"])].append(state)
        return found


class MongoCatalogueSource:
    """The library document and the rumour documents."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Read from the service's aggregate collection."""
        self._collection = collection

    async def library_revision(self, provider_id: str) -> int:
        """The library document's write version (top-level, so cheap to poll)."""
        doc = await self._collection.find_one({"_id": library_key(provider_id)}, {"version": 1})
        return int(doc["version"]) if doc else 0

    async def library_state(self, provider_id: str) -> Mapping[str, Any] | None:
        """The library state."""
        doc = await self._collection.find_one({"_id": library_key(provider_id)}, {"state": 1})
        state: Mapping[str, Any] | None = (doc or {}).get("state") or None
        return state

    async def rumours_since(self, provider_id: str, since_ms: int) -> tuple[list[Mapping[str, Any]], int]:
        """Rumours written at or after `since_ms` (index `state.kind, updated_ms`)."""
        query = {"state.kind": "rumour", "state.provider_id": provider_id, "updated_ms": {"$gte": since_ms}}
        states: list[Mapping[str, Any]] = []
        newest = since_ms
        async for doc in self._collection.find(query, {"state": 1, "updated_ms": 1}):
            states.append(doc["state"])
            newest = max(newest, int(doc.get("updated_ms", 0)))
        return states, newest
