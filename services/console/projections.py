"""The read-model consumer's handlers, folded by the foundation engine.

Topics: `dsgov.consent`, `dsgov.identity`, `dsgov.complaint` (the complaints inbox) and `dsgov.review`
(feature library, human review queue, decision counters, per-user sanction histories). Every read
model lives in one collection, told apart by the prefix of its key (the `*_aggregate_id` functions;
the pages look documents up by them).

Projection handlers only change state: they return `Outcome(state)` with no events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.console.domain.complaints_view import (
    TicketView,
    UserSanctionsView,
    fold_sanctions,
    fold_ticket,
)
from services.console.domain.library_view import LibraryEntryView, fold_library_entry
from services.console.domain.projection import ConsentView, IdentityView, fold_consent, fold_identity
from services.console.domain.proof import NotCanonicalizable
from services.console.domain.review_view import (
    ReviewItemView,
    ReviewStats,
    fold_review_item,
    fold_stats,
    stats_day,
)
from services.console.projections_complaints import TicketEvent
from shared.contracts.complaints import SanctionLifted
from shared.contracts.consent import ConsentEvent
from shared.contracts.generation import ReviewDecision, UserSanctioned
from shared.contracts.identity import IdentityDecision
from shared.contracts.review import LibraryUpdated, ReviewQueued, ReviewResolved
from shared.messaging.codec import Inbound
from shared.messaging.engine import Unprocessable
from shared.messaging.routing import Outcome, prefixed

CONSENT_PREFIX = "consent:"
IDENTITY_PREFIX = "identity:"
consent_key = prefixed(CONSENT_PREFIX)  # a consent event's subject is its consent id
identity_key = prefixed(IDENTITY_PREFIX)  # an identity decision's subject is the user id


def consent_aggregate_id(provider_id: str, consent_id: str) -> str:
    """The read-model document of a consent."""
    return f"{CONSENT_PREFIX}{provider_id}/{consent_id}"


def identity_aggregate_id(provider_id: str, user_id: str) -> str:
    """The read-model document of a user's identity decision."""
    return f"{IDENTITY_PREFIX}{provider_id}/{user_id}"


def library_entry_aggregate_id(provider_id: str, entry_id: str) -> str:
    """The read-model document of a feature-library entry."""
    return f"library:{provider_id}/{entry_id}"


def review_item_aggregate_id(provider_id: str, item_id: str) -> str:
    """The read-model document of a review item."""
    return f"review:{provider_id}/{item_id}"


def review_stats_aggregate_id(provider_id: str, day: str) -> str:
    """The decision counters of one UTC day."""
    return f"stats:{provider_id}/{day}"


def library_key(event: Inbound[LibraryUpdated]) -> str:
    """Library entries by entry id."""
    return library_entry_aggregate_id(event.event.providerid, event.data.entry_id)


def review_item_key(event: Inbound[ReviewQueued | ReviewResolved]) -> str:
    """Review items by item id (a request may have an input item and one per output)."""
    return review_item_aggregate_id(event.event.providerid, event.data.item_id)


def review_stats_key(event: Inbound[Any]) -> str:
    """Decision counters by provider and UTC day."""
    return review_stats_aggregate_id(event.event.providerid, stats_day(event.event))


class Projections:
    """Folds events into read-model states."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        """`clock` stamps when an event was received."""
        self.clock = clock

    async def on_consent(
        self, state: ConsentView | None, event: Inbound[ConsentEvent]
    ) -> Outcome[ConsentView]:
        """Any `dsgov.consent.*` event: new status, parties, expiry, and a chained history entry."""
        try:
            event_json = event.record.value.decode("utf-8")
            new = fold_consent(
                state, event=event.event, data=event.data, event_json=event_json, received_at=self.clock()
            )
        except NotCanonicalizable as exc:
            raise Unprocessable(f"event cannot be hash-chained: {exc}") from exc
        return Outcome(new)

    async def on_identity(
        self, state: IdentityView | None, event: Inbound[IdentityDecision]
    ) -> Outcome[IdentityView]:
        """`dsgov.identity.verified|rejected`: the user's latest decision."""
        return Outcome(fold_identity(state, event=event.event, data=event.data))

    async def on_library(
        self, state: LibraryEntryView | None, event: Inbound[LibraryUpdated]
    ) -> Outcome[LibraryEntryView]:
        """`dsgov.library.updated` (DS-10.2): the entry's snapshot and its change history."""
        return Outcome(
            fold_library_entry(state, event=event.event, data=event.data, received_at=self.clock())
        )

    async def on_review_item(
        self, state: ReviewItemView | None, event: Inbound[ReviewQueued | ReviewResolved]
    ) -> Outcome[ReviewItemView]:
        """`dsgov.review.queued|resolved` (DS-10.1): an item waits for a person, or was decided."""
        return Outcome(fold_review_item(state, event=event.event, data=event.data, received_at=self.clock()))

    async def on_review_stats(
        self, state: ReviewStats | None, event: Inbound[ReviewDecision | UserSanctioned]
    ) -> Outcome[ReviewStats]:
        """A review decision or a sanction (DS-10.3): one more on the day's counters."""
        return Outcome(fold_stats(state, event=event.event, data=event.data))

    async def on_ticket(self, state: TicketView | None, event: Inbound[TicketEvent]) -> Outcome[TicketView]:
        """`dsgov.complaint.received|overdue|resolved` (DS-12, GA-15): the ticket as the service sees it."""
        return Outcome(fold_ticket(state, event=event.event, data=event.data, received_at=self.clock()))

    async def on_sanction(
        self, state: UserSanctionsView | None, event: Inbound[UserSanctioned | SanctionLifted]
    ) -> Outcome[UserSanctionsView]:
        """`dsgov.user.sanctioned|sanction-lifted` (DS-10.3): one more step of the user's ladder."""
        return Outcome(fold_sanctions(state, event=event.event, data=event.data))
