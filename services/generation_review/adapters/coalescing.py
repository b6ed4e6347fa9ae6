"""One store query for all user and consent lookups of a batch (see shared.storage.coalescing).

The engine decides the aggregates of a batch concurrently (one task per request), and every
decision reads its user and that user's consents. Lookups that start in the same event-loop
turn are merged into one `$in` query per provider; each caller gets only what it asked for.
A failure of that query reaches every caller, so the engine retries the batch as usual.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from services.generation_review.domain.projections import ConsentState, UserState
from services.generation_review.ports import Directory
from shared.storage.coalescing import Coalescer


class CoalescingDirectory:
    """A `Directory` whose user and consent lookups are merged per event-loop turn."""

    def __init__(self, inner: Directory) -> None:
        """`inner` answers the merged lookups."""
        self._users: Coalescer[UserState] = Coalescer(inner.users)
        self._consents: Coalescer[list[ConsentState]] = Coalescer(inner.consents_granted_to)

    async def users(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, UserState]:
        """See `Directory.users`."""
        return await self._users.get(provider_id, user_ids)

    async def consents_granted_to(
        self, provider_id: str, user_ids: Collection[str]
    ) -> Mapping[str, list[ConsentState]]:
        """See `Directory.consents_granted_to`."""
        return await self._consents.get(provider_id, user_ids)
