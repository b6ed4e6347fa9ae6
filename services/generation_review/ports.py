"""What the review service needs from the outside world (its own store, read-only here)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Protocol

from services.generation_review.domain.library import LibraryState
from services.generation_review.domain.projections import ConsentState, UserState
from services.generation_review.domain.rumours import RumourState


class Directory(Protocol):
    """Reads the service's own projections of users and consents."""

    async def users(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, UserState]:
        """The stored state of each known user (identity and standing); unknown users are absent."""
        ...

    async def consents_granted_to(
        self, provider_id: str, user_ids: Collection[str]
    ) -> Mapping[str, list[ConsentState]]:
        """Every projected consent whose grantee is one of `user_ids`, by grantee."""
        ...


class CatalogueSource(Protocol):
    """Reads the library and the known rumours, for the in-memory matchers."""

    async def library_revision(self, provider_id: str) -> int:
        """A number that changes whenever the library document is written (0: none yet)."""
        ...

    async def library_state(self, provider_id: str) -> LibraryState | None:
        """The library aggregate's state."""
        ...

    async def rumours_since(self, provider_id: str, since_ms: int) -> tuple[list[RumourState], int]:
        """Rumour states written at or after `since_ms`, and the newest write time seen."""
        ...
