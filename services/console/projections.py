"""The read-model consumer's handlers, folded by the foundation engine.

Topics: `dsgov.consent`, `dsgov.identity` and `dsgov.review` (feature library, human review queue,
decision counters).

Projection handlers only change state: they return `Outcome(state=..., events=[])`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.console.adapters.mongo import (
    consent_aggregate_id,
    identity_aggregate_id,
    library_entry_aggregate_id,
    review_item_aggregate_id,
    review_stats_aggregate_id,
)
from services.console.domain.library_view import LIBRARY_UPDATED, fold_library_entry
from services.console.domain.projection import CONSENT_STATUS, IDENTITY_STATUS, fold_consent, fold_identity
from services.console.domain.proof import NotCanonicalizable
from services.console.domain.review_view import (
    ITEM_TYPES,
    STATS_TYPES,
    fold_review_item,
    fold_stats,
    stats_day,
)
from shared.contracts import topics
from shared.contracts.consent import ConsentEvent
from shared.contracts.generation import ReviewDecision, UserSanctioned
from shared.contracts.identity import IdentityDecision
from shared.contracts.review import LibraryUpdated, ReviewQueued, ReviewResolved
from shared.messaging.codec import Inbound
from shared.messaging.engine import Handler, Outcome, Unprocessable

CONSUMES: dict[str, tuple[str, ...]] = {
    topics.CONSENT: tuple(CONSENT_STATUS),
    topics.IDENTITY: tuple(IDENTITY_STATUS),
    topics.REVIEW: (LIBRARY_UPDATED, *ITEM_TYPES, *STATS_TYPES),
}


def aggregate_id(event: Inbound[Any]) -> str:
    """Every read model lives in one collection, told apart by a prefix.

    Library entries by entry id, review items by item id (a request may have an input item and
    one per output), decision counters by provider and UTC day.
    """
    provider = event.event.providerid
    if event.record.topic == topics.IDENTITY:
        return identity_aggregate_id(provider, event.subject)
    if event.record.topic == topics.REVIEW:
        if event.type == LIBRARY_UPDATED:
            return library_entry_aggregate_id(provider, event.data.entry_id)
        if event.type in ITEM_TYPES:
            return review_item_aggregate_id(provider, event.data.item_id)
        return review_stats_aggregate_id(provider, stats_day(event.event))
    return consent_aggregate_id(provider, event.subject)


class Projections:
    """Folds events into read-model states."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        """`clock` stamps when an event was received."""
        self.clock = clock

    async def on_consent(self, state: dict[str, Any] | None, event: Inbound[ConsentEvent]) -> Outcome:
        """Any `dsgov.consent.*` event: new status, parties, expiry, and a chained history entry."""
        try:
            event_json = event.record.value.decode("utf-8")
            new = fold_consent(
                state, event=event.event, data=event.data, event_json=event_json, received_at=self.clock()
            )
        except NotCanonicalizable as exc:
            raise Unprocessable(f"event cannot be hash-chained: {exc}") from exc
        return Outcome(state=new, events=[])

    async def on_identity(self, state: dict[str, Any] | None, event: Inbound[IdentityDecision]) -> Outcome:
        """`dsgov.identity.verified|rejected`: the user's latest decision."""
        return Outcome(state=fold_identity(state, event=event.event, data=event.data), events=[])

    async def on_library(self, state: dict[str, Any] | None, event: Inbound[LibraryUpdated]) -> Outcome:
        """`dsgov.library.updated` (DS-10.2): the entry's snapshot and its change history."""
        new = fold_library_entry(state, event=event.event, data=event.data, received_at=self.clock())
        return Outcome(state=new, events=[])

    async def on_review_item(
        self, state: dict[str, Any] | None, event: Inbound[ReviewQueued | ReviewResolved]
    ) -> Outcome:
        """`dsgov.review.queued|resolved` (DS-10.1): an item waits for a person, or was decided."""
        new = fold_review_item(state, event=event.event, data=event.data, received_at=self.clock())
        return Outcome(state=new, events=[])

    async def on_review_stats(
        self, state: dict[str, Any] | None, event: Inbound[ReviewDecision | UserSanctioned]
    ) -> Outcome:
        """A review decision or a sanction (DS-10.3): one more on the day's counters."""
        return Outcome(state=fold_stats(state, event=event.event, data=event.data), events=[])


def routes(projections: Projections) -> Mapping[str, Handler]:
    """Event type -> handler."""
    handlers: dict[str, Handler] = {t: projections.on_consent for t in CONSENT_STATUS}
    handlers |= {t: projections.on_identity for t in IDENTITY_STATUS}
    handlers[LIBRARY_UPDATED] = projections.on_library
    handlers |= {t: projections.on_review_item for t in ITEM_TYPES}
    handlers |= {t: projections.on_review_stats for t in STATS_TYPES}
    return handlers
