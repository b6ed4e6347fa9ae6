"""Composition root of `complaints`: its routes, the overdue timer, and the start-up calendar check."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from services.complaints.adapters.mongo import PERSON, TICKET, MongoPeople, MongoTickets
from services.complaints.config import ComplaintsSettings
from services.complaints.domain.deadlines import CHINA_TZ
from services.complaints.domain.person import Person
from services.complaints.domain.ticket import Ticket
from services.complaints.handlers import ComplaintHandlers
from services.complaints.outbound import SOURCE
from services.complaints.overdue import OverdueTimer
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.codec import Inbound
from shared.messaging.routing import Route, every, on, prefixed
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings


def _person_of(field: str) -> Callable[[Inbound[Any]], str]:
    """Key an event into the person projection of the user its payload names in `field`."""

    def key(event: Inbound[Any]) -> str:
        return f"{PERSON}{event.event.providerid}/{getattr(event.data, field)}"

    key.__name__ = f"person_of_{field}"
    return key


_BY_USER, _BY_SUBJECT_ID = _person_of("user_id"), _person_of("subject_id")
H = ComplaintHandlers
_PERSON_ROUTES: tuple[Route[H, Any], ...] = (
    on(T.IDENTITY_VERIFIED, H.on_identity, Person, key=_BY_USER),
    on(T.IDENTITY_REJECTED, H.on_identity, Person, key=_BY_USER),
    *(
        on(t, H.on_consent, Person, key=_BY_SUBJECT_ID)
        for t in (T.CONSENT_GRANTED, T.CONSENT_REJECTED, T.CONSENT_WITHDRAWN, T.CONSENT_EXPIRED)
    ),
    *(
        on(t, H.on_decision, Person, key=_BY_USER)
        for t in (T.GENERATION_APPROVED, T.GENERATION_REJECTED, T.OUTPUT_APPROVED, T.OUTPUT_BLOCKED)
    ),
    on(T.USER_SANCTIONED, H.on_sanctioned, Person, key=_BY_USER),
    on(T.USER_SANCTION_LIFTED, H.on_sanction_lifted, Person, key=_BY_USER),
)

DEFINITION = ServiceDefinition[ComplaintHandlers](
    name="complaints",
    source=SOURCE,
    description=(
        "Complaints, reports, appeals and personal-information rights requests with deadlines published "
        "in PRC working days; appeals can lift sanctions (DS-12, GA-15, PI-50, DS-10.3)."
    ),
    routes=(
        on(T.COMPLAINT_SUBMITTED, H.on_submitted, Ticket, key=prefixed(TICKET)),
        on(T.COMPLAINT_RESOLUTION_SUBMITTED, H.on_resolution, Ticket, key=prefixed(TICKET)),
        *_PERSON_ROUTES,
    ),
    publishes=(T.COMPLAINT_RECEIVED, T.COMPLAINT_RESOLVED, T.COMPLAINT_OVERDUE),
    collection="complaints",
    # The overdue timer's query: open tickets by deadline.
    indexes=(("state.status", "state.due_at_ms"),),
)
assert {topics.PLATFORM_COMPLAINTS, topics.CONSOLE_COMMANDS} <= set(DEFINITION.consumes)


def compose_with(
    settings: ComplaintsSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Composition[ComplaintHandlers]]]:
    """The composition step `run_service` calls once the store answers."""

    async def compose(runtime: Runtime) -> Composition[ComplaintHandlers]:
        calendar = settings.calendar()
        calendar.require([clock().astimezone(CHINA_TZ).year])  # never guess a year at start-up
        collection = runtime.store.collection
        handlers = ComplaintHandlers(calendar, settings.rules(), MongoPeople(collection), clock)
        timer = OverdueTimer(MongoTickets(collection), handlers, runtime.operations, clock)
        return Composition(
            handlers, workers=[every("overdue-timer", settings.overdue_interval_s, timer.tick)]
        )

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    await run_service(DEFINITION, CommonSettings(), compose_with(ComplaintsSettings()))
