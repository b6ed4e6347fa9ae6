"""The in-memory matchers: each provider's current library version and known rumours.

The store is the source of truth. A matcher is built from the library document when its
revision changes, and the rumour index from the rumour documents written since the last look
(with an overlap, so a write with a slightly older clock is not missed). The refresh loop polls
every `interval_s`, so a change applied by any replica takes effect everywhere within about that
time (`refresh_all`, run by the composition root as an `every(...)` worker). Builds run in a
worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Final

from services.generation_review.domain.library import active_entries
from services.generation_review.domain.matcher import Matcher
from services.generation_review.domain.rumours import (
    RumourIndex,
    RumourPolicy,
    RumourState,
    rumour_from_state,
)
from services.generation_review.ports import CatalogueSource
from shared.observability import get_logger

log = get_logger(__name__)

OVERLAP_MS: Final = 10_000


class Catalogue:
    """One provider's matchers."""

    def __init__(self, source: CatalogueSource, provider_id: str, policy: RumourPolicy) -> None:
        """Empty until the first `refresh`."""
        self.source = source
        self.provider_id = provider_id
        self.policy = policy
        self.matcher = Matcher(0, [])
        self.rumours = RumourIndex([], policy)
        self._revision = -1
        self._rumour_states: dict[str, RumourState] = {}
        self._since_ms = 0

    @property
    def library_empty(self) -> bool:
        """True when no approved (active) entry is loaded: nothing could match (never fail open)."""
        return len(self.matcher) == 0

    async def refresh(self) -> bool:
        """Rebuild what changed in the store; True when anything did."""
        changed = await self._refresh_library()
        return await self._refresh_rumours() or changed

    async def _refresh_library(self) -> bool:
        revision = await self.source.library_revision(self.provider_id)
        if revision == self._revision:
            return False
        state = await self.source.library_state(self.provider_id)
        version = state.version if state else 0
        self.matcher = await asyncio.to_thread(Matcher, version, active_entries(state))
        self._revision = revision
        log.info("library.loaded", provider_id=self.provider_id, version=version, active=len(self.matcher))
        return True

    async def _refresh_rumours(self) -> bool:
        states, newest = await self.source.rumours_since(
            self.provider_id, max(0, self._since_ms - OVERLAP_MS)
        )
        changed = [s for s in states if self._rumour_states.get(s.rumour_id) != s]
        self._since_ms = max(self._since_ms, newest)
        if not changed:
            return False
        for s in changed:
            self._rumour_states[s.rumour_id] = s
        rumours = [rumour_from_state(s) for s in self._rumour_states.values()]
        self.rumours = await asyncio.to_thread(RumourIndex, rumours, self.policy)
        log.info("rumours.loaded", provider_id=self.provider_id, known=len(self.rumours))
        return True


class Catalogues:
    """Every provider's matchers, loaded on first use and kept fresh by `refresh_all`."""

    def __init__(self, source: CatalogueSource, policy: RumourPolicy) -> None:
        """Read through `source`; nothing is loaded yet."""
        self.source = source
        self.policy = policy
        self._by_provider: dict[str, Catalogue] = {}
        self._lock = asyncio.Lock()

    async def get(self, provider_id: str) -> Catalogue:
        """The provider's matchers, loading them first if this is the provider's first request."""
        found = self._by_provider.get(provider_id)
        if found is not None:
            return found
        async with self._lock:
            if provider_id not in self._by_provider:
                catalogue = Catalogue(self.source, provider_id, self.policy)
                await catalogue.refresh()
                self._by_provider[provider_id] = catalogue
        return self._by_provider[provider_id]

    async def refresh_all(self) -> None:
        """Pick up changes for every provider seen so far."""
        for catalogue in list(self._by_provider.values()):
            await catalogue.refresh()

    async def without_library(self, provider_ids: Iterable[str]) -> list[str]:
        """The providers among `provider_ids` with no approved feature library (sorted)."""
        return sorted([p for p in provider_ids if (await self.get(p)).library_empty])
