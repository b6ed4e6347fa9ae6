"""Handling complaints: receive a ticket once, resolve it once, keep the person projection (DS-12, PI-50)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.complaints.domain.deadlines import WorkingCalendar, add_working_days
from services.complaints.domain.person import (
    Person,
    held_data,
    with_consent,
    with_decision,
    with_identity,
    with_standing,
)
from services.complaints.domain.rules import DeadlineRules
from services.complaints.domain.ticket import Intake, ResolutionRefused, Ticket, overdue, receive, resolve
from services.complaints.outbound import overdue_event, received_event, resolved_event
from services.complaints.ports import PersonDirectory
from shared.contracts.complaints import ComplaintResolutionSubmitted, ComplaintSubmitted, SanctionLifted
from shared.contracts.consent import ConsentEvent
from shared.contracts.generation import UserSanctioned
from shared.contracts.identity import IdentityDecision
from shared.messaging.codec import Inbound
from shared.messaging.engine import Unprocessable
from shared.messaging.replies import Cause
from shared.messaging.routing import Outcome
from shared.observability import get_logger

log = get_logger(__name__)


class ComplaintHandlers:
    """The use cases, with the calendar, the rules, the person directory and the clock injected."""

    def __init__(
        self,
        calendar: WorkingCalendar,
        rules: DeadlineRules,
        people: PersonDirectory,
        clock: Callable[[], datetime],
    ) -> None:
        """Wire the use cases."""
        self.calendar = calendar
        self.rules = rules
        self.people = people
        self.clock = clock

    async def on_submitted(self, state: Ticket | None, event: Inbound[ComplaintSubmitted]) -> Outcome[Ticket]:
        """A new ticket with its deadline; a resubmitted `complaint_id` changes nothing (one ticket)."""
        if state is not None:
            log.info("complaint.already_received", complaint_id=state.complaint_id)
            return Outcome(None)
        sub, now = event.data, self.clock()
        days = self.rules.days(sub.kind)
        intake = Intake(
            complaint_id=sub.complaint_id,
            provider_id=event.event.providerid,
            kind=sub.kind,
            complainant_user_id=sub.complainant_user_id,
            target=sub.target,
            category=sub.category,
            text=sub.text,
            evidence=tuple(sub.evidence),
        )
        ticket = receive(intake, now, add_working_days(self.calendar, now, days), days)
        return Outcome(ticket, [received_event(event, ticket, self.calendar)])

    async def on_resolution(
        self, state: Ticket | None, event: Inbound[ComplaintResolutionSubmitted]
    ) -> Outcome[Ticket]:
        """An operator's resolution; refused (dead-lettered with the rule) when it cannot apply."""
        cmd = event.data
        if state is None:
            raise Unprocessable(f"no ticket {cmd.complaint_id!r} to resolve")
        try:
            ticket = resolve(state, cmd.outcome, cmd.reason, tuple(cmd.actions), cmd.actor, self.clock())
        except ResolutionRefused as exc:
            raise Unprocessable(str(exc)) from None
        answer = None
        if ticket.kind == "rights_request" and ticket.complainant_user_id:
            person = await self.people.person(ticket.provider_id, ticket.complainant_user_id)
            answer = held_data(person)
        return Outcome(ticket, [resolved_event(event, ticket, answer)])

    def overdue(self, cause: Cause) -> Callable[[Ticket | None], Outcome[Ticket]]:
        """The decision of the overdue timer for one ticket (applied once per ticket)."""

        def decide(state: Ticket | None) -> Outcome[Ticket]:
            now = self.clock()
            marked = overdue(state, now) if state else None
            if marked is None:
                return Outcome(None)
            return Outcome(marked, [overdue_event(cause, marked, now)])

        return decide

    async def on_identity(self, state: Person | None, event: Inbound[IdentityDecision]) -> Outcome[Person]:
        """Remember the latest identity decision (masked form only)."""
        d = event.data
        status = "verified" if not d.reasons else "rejected"
        return Outcome(with_identity(state, d.user_id, status, d.method, d.masked_identifier, d.age_group))

    async def on_consent(self, state: Person | None, event: Inbound[ConsentEvent]) -> Outcome[Person]:
        """Remember the consents the person gave (by id)."""
        return Outcome(with_consent(state, event.data.subject_id, event.data.consent_id))

    async def on_decision(self, state: Person | None, event: Inbound[Any]) -> Outcome[Person]:
        """Count review decisions about the person's requests and outputs."""
        data = event.data
        return Outcome(with_decision(state, data.user_id, data.decision_id or event.id))

    async def on_sanctioned(self, state: Person | None, event: Inbound[UserSanctioned]) -> Outcome[Person]:
        """The person's standing after a sanction."""
        return Outcome(with_standing(state, event.data.user_id, event.data.level))

    async def on_sanction_lifted(
        self, state: Person | None, event: Inbound[SanctionLifted]
    ) -> Outcome[Person]:
        """The person's standing after an upheld appeal."""
        return Outcome(with_standing(state, event.data.user_id, event.data.level_after))
