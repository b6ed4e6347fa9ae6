"""Read-model keys of the complaints inbox (DS-12, GA-15, PI-50; appeals DS-10.3, GA-14.2).

Tickets from `dsgov.complaint` (key `complaint:` + provider + complaint id) and each user's sanctions
and lifts from `dsgov.review` (key `sanctions:` + provider + user id); the handlers are
`Projections.on_ticket` and `Projections.on_sanction`. The sanction events also feed the day
counters (`Projections.on_review_stats`): the engine hands an event with two routes to each route's
aggregate.
"""

from __future__ import annotations

from shared.contracts.complaints import (
    ComplaintOverdue,
    ComplaintReceived,
    ComplaintResolved,
    SanctionLifted,
)
from shared.contracts.generation import UserSanctioned
from shared.messaging.codec import Inbound

TicketEvent = ComplaintReceived | ComplaintOverdue | ComplaintResolved


def ticket_aggregate_id(provider_id: str, complaint_id: str) -> str:
    """The read-model document of a ticket."""
    return f"complaint:{provider_id}/{complaint_id}"


def user_sanctions_aggregate_id(provider_id: str, user_id: str) -> str:
    """The read-model document of a user's sanction history."""
    return f"sanctions:{provider_id}/{user_id}"


def ticket_key(event: Inbound[TicketEvent]) -> str:
    """Tickets by complaint id."""
    return ticket_aggregate_id(event.event.providerid, event.data.complaint_id)


def user_sanctions_key(event: Inbound[UserSanctioned | SanctionLifted]) -> str:
    """Sanction histories by user id."""
    return user_sanctions_aggregate_id(event.event.providerid, event.data.user_id)
