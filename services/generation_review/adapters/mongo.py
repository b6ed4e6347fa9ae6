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

from services.generation_review.domain.library import LibraryState
from services.generation_review.domain.projections import ConsentState, UserState
from services.generation_review.domain.rumours import RumourState
from services.generation_review.handlers import library_key, user_key


class MongoDirectory:
    """Users and consents as projected by this service."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Read from the service's aggregate collection."""
        self._collection = collection

    async def users(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, UserState]:
        """One query for every wanted user."""
        ids = [user_key(provider_id, u) for u in dict.fromkeys(user_ids)]
        found: dict[str, UserState] = {}
        async for doc in self._collection.find({"_id": {"$in": ids}, "state.kind": "user"}, {"state": 1}):
            user = UserState.model_validate(doc["state"])
            found[user.user_id] = user
        return found

    async def consents_granted_to(
        self, provider_id: str, user_ids: Collection[str]
    ) -> Mapping[str, list[ConsentState]]:
        """One query (index `state.grantee_user_id`) for every wanted grantee."""
        query = {
            "state.grantee_user_id": {"$in": list(dict.fromkeys(user_ids))},
            "state.kind": "consent",
            "state.provider_id": provider_id,
        }
        found: dict[str, list[ConsentState]] = defaultdict(list)
        async for doc in self._collection.find(query, {"state": 1}):
            consent = ConsentState.model_validate(doc["state"])
            found[consent.grantee_user_id].append(consent)
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

    async def library_state(self, provider_id: str) -> LibraryState | None:
        """The library state."""
        doc = await self._collection.find_one({"_id": library_key(provider_id)}, {"state": 1})
        state = (doc or {}).get("state")
        return LibraryState.model_validate(state) if state else None

    async def rumours_since(self, provider_id: str, since_ms: int) -> tuple[list[RumourState], int]:
        """Rumours written at or after `since_ms` (index `state.kind, updated_ms`)."""
        query = {"state.kind": "rumour", "state.provider_id": provider_id, "updated_ms": {"$gte": since_ms}}
        states: list[RumourState] = []
        newest = since_ms
        async for doc in self._collection.find(query, {"state": 1, "updated_ms": 1}):
            states.append(RumourState.model_validate(doc["state"]))
            newest = max(newest, int(doc.get("updated_ms", 0)))
        return states, newest
