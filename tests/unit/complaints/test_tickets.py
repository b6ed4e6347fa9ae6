"""Tickets: one per complaint id, resolved once with fitting effects, overdue once (DS-12, GA-15, PI-50)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devtools.testing.events import cloud_event
from services.complaints.domain.deadlines import WorkingCalendar
from services.complaints.domain.person import Person, with_consent, with_identity
from services.complaints.domain.rules import DeadlineRules
from services.complaints.domain.ticket import Ticket
from services.complaints.handlers import ComplaintHandlers
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.complaints import ComplaintResolutionSubmitted, ComplaintSubmitted
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import Inbound, RawRecord
from shared.messaging.engine import Unprocessable
from shared.messaging.replies import Cause

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
ACTOR = {"username": "olga", "role": "operator"}


class People:
    def __init__(self, person: Person | None = None) -> None:
        self.found = person

    async def person(self, provider_id: str, user_id: str) -> Person | None:
        return self.found if self.found and self.found.user_id == user_id else None


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def inbound(type_: str, topic: str, model: Any, data: dict[str, Any], subject: str) -> Inbound[Any]:
    raw = cloud_event(type_, data, subject=subject)
    return Inbound(
        RawRecord(topic, 0, 0, subject.encode(), b""),
        CloudEvent.model_validate(raw),
        model.model_validate(data),
    )


def submitted(**data: Any) -> Inbound[ComplaintSubmitted]:
    body = {
        "complaint_id": "c1",
        "kind": "appeal",
        "complainant_user_id": "u1",
        "target": {"type": "sanction", "id": "u1"},
    }
    body |= data
    return inbound(
        T.COMPLAINT_SUBMITTED, topics.PLATFORM_COMPLAINTS, ComplaintSubmitted, body, body["complaint_id"]
    )


def resolution(**data: Any) -> Inbound[ComplaintResolutionSubmitted]:
    body = {
        "complaint_id": "c1",
        "outcome": "upheld",
        "reason": "strike was a false positive",
        "actor": ACTOR,
    }
    body |= data
    return inbound(
        T.COMPLAINT_RESOLUTION_SUBMITTED, topics.CONSOLE_COMMANDS, ComplaintResolutionSubmitted, body, "c1"
    )


def handlers(clock: Clock, people: People | None = None) -> ComplaintHandlers:
    return ComplaintHandlers(WorkingCalendar(), DeadlineRules(appeal=5), people or People(), clock)


async def test_a_ticket_is_received_once_with_its_published_deadline() -> None:
    h = handlers(Clock())
    first = await h.on_submitted(None, submitted())
    assert first.state is not None
    [event] = first.events
    assert isinstance(event, CloudEvent)
    assert event.type == T.COMPLAINT_RECEIVED
    assert event.data["due_rule"]["working_days"] == 5
    assert event.data["due_at"].startswith("2026-03-09T23:59:59.999")  # five working days, Beijing time
    again = await h.on_submitted(first.state, submitted())  # same complaint_id, another event id
    assert again.state is None
    assert again.events == ()


async def test_anonymous_reports_are_allowed_but_not_anonymous_appeals() -> None:
    submitted(kind="report", complainant_user_id=None, target={"type": "content", "id": "k1"})
    with pytest.raises(ValueError, match="only reports may be anonymous"):
        submitted(complainant_user_id=None)


async def test_an_upheld_appeal_lifts_the_complainants_sanction_once() -> None:
    clock = Clock()
    h = handlers(clock)
    ticket = (await h.on_submitted(None, submitted())).state
    action = {"type": "lift_sanction", "user_id": "u1", "level_after": "warning"}
    clock.now += timedelta(days=1)
    out = await h.on_resolution(ticket, resolution(actions=[action]))
    assert out.state is not None
    assert out.state.status == "resolved"
    [event] = out.events
    assert isinstance(event, CloudEvent)
    assert event.data["actions"] == [{**action}]
    assert event.data["in_time"] is True
    assert event.data["reasons"] == ["DS-10.3: strike was a false positive"]
    with pytest.raises(Unprocessable, match="resolved already"):
        await h.on_resolution(out.state, resolution())


@pytest.mark.parametrize(
    ("kind", "target", "action", "rule"),
    [
        (
            "complaint",
            {"type": "user", "id": "u1"},
            {"type": "lift_sanction", "user_id": "u1"},
            "only an appeal",
        ),
        (
            "appeal",
            {"type": "sanction", "id": "u2"},
            {"type": "lift_sanction", "user_id": "u2"},
            "own sanction",
        ),
        (
            "appeal",
            {"type": "content", "id": "k"},
            {"type": "takedown", "content_id": "k"},
            "report or complaint",
        ),
    ],
)
async def test_effects_that_do_not_fit_the_ticket_are_refused(
    kind: str, target: dict[str, str], action: dict[str, str], rule: str
) -> None:
    h = handlers(Clock())
    ticket = (await h.on_submitted(None, submitted(kind=kind, target=target))).state
    with pytest.raises(Unprocessable, match=rule):
        await h.on_resolution(ticket, resolution(actions=[action]))


async def test_a_rejected_ticket_has_no_effects_and_resolving_a_missing_ticket_is_refused() -> None:
    h = handlers(Clock())
    ticket = (await h.on_submitted(None, submitted())).state
    with pytest.raises(Unprocessable, match="no actions"):
        await h.on_resolution(
            ticket, resolution(outcome="rejected", actions=[{"type": "lift_sanction", "user_id": "u1"}])
        )
    with pytest.raises(Unprocessable, match="no ticket"):
        await h.on_resolution(None, resolution())


async def test_a_rights_request_is_answered_with_references_and_masked_forms_only() -> None:
    person = with_consent(
        with_identity(None, "u1", "verified", "id_card", "1101**********002X", "adult"), "u1", "k9"
    )
    h = handlers(Clock(), People(person))
    ticket = (
        await h.on_submitted(
            None, submitted(kind="rights_request", target={"type": "personal_information", "id": "u1"})
        )
    ).state
    [event] = (await h.on_resolution(ticket, resolution())).events
    assert isinstance(event, CloudEvent)
    answer = event.data["answer"]
    assert answer["masked_identifier"] == "1101**********002X"
    assert answer["consents_as_subject"] == ["k9"]
    assert event.data["reasons"][0].startswith("PI-50")


async def test_a_ticket_past_its_deadline_is_overdue_once_and_late_resolutions_say_so() -> None:
    clock = Clock()
    h = handlers(clock)
    ticket = (await h.on_submitted(None, submitted())).state
    assert isinstance(ticket, Ticket)
    decide = h.overdue(Cause.operation("overdue:c1", "provider-test"))
    assert decide(ticket).state is None  # not due yet
    clock.now += timedelta(days=10)
    marked = decide(ticket)
    assert marked.state is not None
    [event] = marked.events
    assert isinstance(event, CloudEvent)
    assert event.type == T.COMPLAINT_OVERDUE
    assert decide(marked.state).state is None  # once
    late = await h.on_resolution(marked.state, resolution())
    [resolved] = late.events
    assert isinstance(resolved, CloudEvent)
    assert resolved.data["in_time"] is False
