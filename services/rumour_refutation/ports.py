"""What the rumour refutation service needs from its store beyond its aggregates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Protocol, TypeVar

from shared.messaging.routing import Outcome
from shared.storage.aggregates import Aggregate, AggregateState

S = TypeVar("S", bound=AggregateState)


class AggregateReader(Protocol):
    """Reads aggregates of the service's own collection."""

    async def load_many(self, ids: Iterable[str]) -> dict[str, Aggregate]:
        """Every requested aggregate; missing ones come back new."""
        ...


class Applier(Protocol):
    """The shared save-and-publish step (`shared.messaging.operations.Operations`)."""

    async def apply(
        self, aggregate_id: str, operation_id: str, state: type[S], decide: Callable[[S | None], Outcome[S]]
    ) -> bool:
        """Apply `decide` once under `operation_id`; False when it was applied before."""
        ...


class RecipientLists(Protocol):
    """Recipient lists of distributions, kept apart from the content so no document grows without bound.

    A list is written once (idempotently) before the content aggregate refers to it.
    """

    async def put(
        self,
        list_id: str,
        *,
        provider_id: str,
        content_id: str,
        distribution_id: str,
        recipients: Sequence[str],
    ) -> None:
        """Store a list; writing the same list id again changes nothing."""
        ...

    async def get_many(self, list_ids: Sequence[str]) -> dict[str, list[str]]:
        """The recipients of each list found."""
        ...


class CaseStore(Protocol):
    """Queries over the service's own collection (work to do, catch-up, start-up)."""

    async def cases_to_apply(self, limit: int) -> list[Aggregate]:
        """Cases whose matches are not yet recorded on every content."""
        ...

    async def contents_with_fanout_due(self, limit: int) -> list[Aggregate]:
        """Contents with (notice, distribution) fan-out still due."""
        ...

    async def indexed_content_ids(self, since_ms: int) -> list[str]:
        """Aggregate ids of contents whose output was indexed at or after `since_ms`."""
        ...

    def iter_indexed_contents(self) -> AsyncIterator[Aggregate]:
        """Every content with an indexed output (start-up rebuild of the in-memory index)."""
        ...

    async def rumour_cases(self, since_ms: int) -> list[Aggregate]:
        """Rumour cases opened at or after `since_ms`."""
        ...

    async def closed_cases(self, since_ms: int) -> list[Aggregate]:
        """Cases closed at or after `since_ms`."""
        ...
