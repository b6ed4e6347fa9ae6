"""The complaints inbox's read models and resolve form (DS-12, GA-15, PI-50; appeals DS-10.3, GA-14.2).

Pure folds and checks, then the declared routes on the in-memory engine: tickets and per-user
sanction histories under the keys the pages query, the sanction event feeding both the day
counters and the user's history, and one resolution per ticket through the command path.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from services.console.adapters.commands import CommandSender
from services.console.domain.commands import SOURCE
from services.console.domain.complaint_resolution import (
    FormProblem,
    ResolutionForm,
    check_resolution,
    resolution_command,
)
from services.console.domain.complaints_view import TicketView, inbox_keys, inbox_prefix, prefix_range
from services.console.entrypoints.app import DEFINITION
from services.console.ports import Actor
from services.console.projections import Projections
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.complaints import ComplaintResolutionSubmitted
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.console.fakes import NOW, envelope
from tests.unit.console.fakes_complaints import PROVIDER, received_ticket

OLGA = Actor("olga", "operator")
BOB = Actor("bob", "admin")


def _received(complaint_id: str, kind: str = "appeal", due_days: int = 10) -> dict[str, Any]:
    data = {
        "complaint_id": complaint_id,
        "kind": kind,
        "target": {"type": "sanction", "id": "sanction-7"},
        "category": "sanction_dispute",
        "complainant_user_id": "u-1",
        "received_at": NOW.isoformat(),
        "due_at": (NOW + timedelta(days=due_days)).isoformat(),
        "due_rule": {"working_days": 15, "calendar": "PRC State Council", "source": "GA-15"},
    }
    return envelope(T.COMPLAINT_RECEIVED, complaint_id, data)


def _overdue(complaint_id: str, kind: str = "appeal") -> dict[str, Any]:
    data = {
        "complaint_id": complaint_id,
        "kind": kind,
        "due_at": NOW.isoformat(),
        "detected_at": NOW.isoformat(),
    }
    return envelope(T.COMPLAINT_OVERDUE, complaint_id, data)


def _resolved(complaint_id: str, kind: str = "appeal") -> dict[str, Any]:
    data = {
        "complaint_id": complaint_id,
        "kind": kind,
        "outcome": "upheld",
        "reasons": ["the strike was a false positive"],
        "actions": [{"type": "lift_sanction", "user_id": "u-1", "level_after": "none"}],
        "resolver": {"username": "olga", "role": "operator"},
        "resolved_at": NOW.isoformat(),
        "due_at": (NOW + timedelta(days=10)).isoformat(),
        "in_time": True,
        "target": {"type": "sanction", "id": "sanction-7"},
    }
    return envelope(T.COMPLAINT_RESOLVED, complaint_id, data, causationid="cmd-1")


def _sanctioned(user: str, level: str, minutes: int) -> dict[str, Any]:
    data = {"user_id": user, "level": level, "strikes": 3, "category": "fraud", "decision_id": f"d-{level}"}
    return envelope(T.USER_SANCTIONED, user, data, time=NOW + timedelta(minutes=minutes))


def _lifted(user: str, minutes: int) -> dict[str, Any]:
    data = {"user_id": user, "complaint_id": "cmp-1", "level_before": "restricted", "level_after": "none"}
    return envelope(T.USER_SANCTION_LIFTED, user, data, time=NOW + timedelta(minutes=minutes))


def _records(*events: tuple[str, dict[str, Any]]) -> list[RawRecord]:
    return [
        RawRecord(topic, 0, offset, str(raw["subject"]).encode(), json.dumps(raw).encode())
        for offset, (topic, raw) in enumerate(events)
    ]


def _engine(store: InMemoryAggregateStore) -> Engine:
    config = EngineConfig(service="console", source=SOURCE, provider_ids=frozenset({PROVIDER}))
    routes = [r.bind(Projections(lambda: NOW)) for r in DEFINITION.routes]
    return Engine(config, routes, store, InMemoryPublisher(), clock=lambda: NOW)


def test_overdue_tickets_sort_first_then_by_due_date_and_a_resolved_one_leaves_the_open_range() -> None:
    late = received_ticket("b-late", received_at=NOW, due_days=20, overdue=True)
    soon = received_ticket("a-soon", received_at=NOW, due_days=1)
    later = received_ticket("c-later", received_at=NOW, due_days=9)
    ordered = sorted([later, soon, late], key=lambda t: t["inbox_key"])
    assert [t["complaint_id"] for t in ordered] == ["b-late", "a-soon", "c-later"]

    low, high = prefix_range(inbox_prefix(PROVIDER, "open"))
    assert all(low <= t["inbox_key"] < high for t in ordered)
    kind_low, kind_high = prefix_range(inbox_prefix(PROVIDER, "open", "report"))
    assert all(kind_low <= t["inbox_kind_key"] < kind_high for t in ordered)
    appeals = prefix_range(inbox_prefix(PROVIDER, "open", "appeal"))
    assert not any(appeals[0] <= t["inbox_kind_key"] < appeals[1] for t in ordered)
    for other in (PROVIDER + "-2", PROVIDER[:-1], f"{PROVIDER}|open"):  # no provider's range holds another's
        low, high = prefix_range(inbox_prefix(other, "open"))
        assert not any(low <= t["inbox_key"] < high for t in ordered), other


async def test_tickets_and_sanction_histories_are_stored_under_their_keys_redelivery_changes_nothing() -> (
    None
):
    store = InMemoryAggregateStore()
    batch = _records(
        (topics.COMPLAINT, _received("cmp-1")),
        (topics.COMPLAINT, _overdue("cmp-1")),
        (topics.REVIEW, _sanctioned("u-1", "restricted", 1)),
        (topics.REVIEW, _lifted("u-1", 2)),
    )
    engine = _engine(store)

    report = await engine.process(batch)
    again = await engine.process(batch)

    assert (report.processed, report.dead_letters) == (5, 0)  # the sanction counts twice: two read models
    assert again.processed == 0
    ticket = store.docs[f"complaint:{PROVIDER}/cmp-1"]["state"]
    assert (ticket["kind"], ticket["ticket_kind"], ticket["status"], ticket["overdue"]) == (
        "complaint_ticket",
        "appeal",
        "open",
        True,
    )
    assert (ticket["target_type"], ticket["target_id"], ticket["working_days"]) == (
        "sanction",
        "sanction-7",
        15,
    )
    assert ticket["inbox_key"].startswith(f"{len(PROVIDER)}:{PROVIDER}|open|0|")  # flagged overdue: first
    assert ticket["correlation_id"] == "corr-cmp-1"
    history = store.docs[f"sanctions:{PROVIDER}/u-1"]["state"]
    assert [(s["type"], s["level"]) for s in history["steps"]] == [
        ("sanctioned", "restricted"),
        ("lifted", "none"),
    ]
    assert history["level"] == "none"
    day = store.docs[f"stats:{PROVIDER}/{NOW.date().isoformat()}"]["state"]
    assert day["sanctions"] == {"restricted": 1}  # the day counters still see the sanction


async def test_a_resolution_seen_before_its_ticket_leaves_it_resolved_and_out_of_the_open_inbox() -> None:
    store = InMemoryAggregateStore()
    await _engine(store).process(_records((topics.COMPLAINT, _resolved("cmp-2"))))
    await _engine(store).process(_records((topics.COMPLAINT, _received("cmp-2"))))

    ticket = store.docs[f"complaint:{PROVIDER}/cmp-2"]["state"]
    assert ticket["status"] == "resolved"
    assert ticket["resolution"]["outcome"] == "upheld"
    assert ticket["resolution"]["command_id"] == "cmd-1"
    assert ticket["inbox_key"].startswith(f"{len(PROVIDER)}:{PROVIDER}|resolved|")
    assert ticket["received_at"] == NOW.isoformat()


@pytest.mark.parametrize(
    ("kind", "target", "form", "status", "words"),
    [
        ("appeal", ("sanction", "s-1"), ResolutionForm("upheld", "  "), 400, "reason is required"),
        ("appeal", ("sanction", "s-1"), ResolutionForm("maybe", "why"), 400, "Choose an outcome"),
        (
            "report",
            ("content", "c-1"),
            ResolutionForm("upheld", "why", lift_sanction=True),
            400,
            "Only an appeal",
        ),
        ("appeal", ("sanction", "s-1"), ResolutionForm("upheld", "why", takedown=True), 400, "about content"),
        ("report", ("user", "u-9"), ResolutionForm("upheld", "why", takedown=True), 400, "about content"),
        ("report", ("content", "c-1"), ResolutionForm("rejected", "why", takedown=True), 400, "no effects"),
        (
            "appeal",
            ("sanction", "s-1"),
            ResolutionForm("upheld", "why", lift_sanction=True, level_after="closed"),
            400,
            "starts again",
        ),
        ("report", ("content", "c-1"), ResolutionForm("upheld", "x" * 2001), 400, "at most 2000"),
    ],
)
def test_a_resolution_that_would_not_fit_the_ticket_is_refused_before_sending(
    kind: str, target: tuple[str, str], form: ResolutionForm, status: int, words: str
) -> None:
    ticket = received_ticket("cmp-3", kind=kind, target=target, received_at=NOW)
    with pytest.raises(FormProblem) as refused:
        check_resolution(ticket, form)
    assert refused.value.status == status
    assert words in refused.value.message


def test_a_resolved_ticket_takes_no_second_resolution() -> None:
    ticket = received_ticket("cmp-4", received_at=NOW) | {"status": "resolved"}
    with pytest.raises(FormProblem) as refused:
        check_resolution(ticket, ResolutionForm("upheld", "why"))
    assert refused.value.status == 409


def test_the_command_names_the_effects_continues_the_flow_and_is_keyed_by_complaint_id() -> None:
    appeal = received_ticket(
        "cmp-5", kind="appeal", target=("sanction", "s-1"), complainant="u-1", received_at=NOW
    )
    form = ResolutionForm("partly_upheld", " wrong level ", lift_sanction=True, level_after="warning")
    event = resolution_command(
        appeal, check_resolution(appeal, form), username="olga", role="operator", request_id="r-1", now=NOW
    )
    data = ComplaintResolutionSubmitted.model_validate(event.data)

    assert (event.type, event.subject, event.providerid) == (
        T.COMPLAINT_RESOLUTION_SUBMITTED,
        "cmp-5",
        PROVIDER,
    )
    assert (data.outcome, data.reason) == ("partly_upheld", "wrong level")
    assert [(a.type, a.user_id, a.level_after) for a in data.actions] == [("lift_sanction", "u-1", "warning")]
    assert (data.actor.username, data.actor.role) == ("olga", "operator")
    assert event.correlationid == appeal["correlation_id"]
    assert event.causationid == appeal["last_event_id"]

    report = received_ticket("cmp-6", kind="report", target=("content", "c-9"), received_at=NOW)
    takedown = check_resolution(report, ResolutionForm("upheld", "illegal", takedown=True))
    assert [(a.type, a.content_id) for a in takedown.actions] == [("takedown", "c-9")]


async def test_one_resolution_per_ticket_through_the_command_path_with_its_audit_record() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    sender = CommandSender(store, publisher, publish_timeout_s=1.0)
    ticket = received_ticket("cmp-7", received_at=NOW)
    resolution = check_resolution(ticket, ResolutionForm("upheld", "illegal", takedown=True))

    first = await sender.resolve_complaint(
        ticket, resolution, actor=OLGA, request_id="f-1", client="c", now=NOW
    )
    again = await sender.resolve_complaint(
        ticket, resolution, actor=OLGA, request_id="f-1", client="c", now=NOW
    )
    rival = await sender.resolve_complaint(
        ticket, resolution, actor=BOB, request_id="f-2", client="c", now=NOW
    )

    assert (first.accepted, first.duplicate, first.published) == (True, False, True)
    assert (again.duplicate, again.command_id) == (True, first.command_id)
    assert (rival.accepted, rival.command_id) == (False, first.command_id)
    [doc] = store.docs.values()
    assert doc["_id"] == "complaint_resolution/cmp-7"
    audit = doc["state"]
    assert (audit["action"], audit["target"], audit["actor"]) == (
        "complaint_resolution_submitted",
        "cmp-7",
        {"username": "olga", "role": "operator"},
    )
    assert audit["details"]["reason"] == "illegal"
    assert audit["details"]["actions"] == [
        {"type": "takedown", "user_id": None, "content_id": ticket["target_id"], "level_after": "none"}
    ]
    [sent] = publisher.of_type(T.COMPLAINT_RESOLUTION_SUBMITTED)
    assert (sent.topic, sent.id, sent.key) == (topics.CONSOLE_COMMANDS, first.command_id, "cmp-7")


def test_inbox_keys_of_a_resolved_ticket_do_not_rank_it_overdue() -> None:
    ticket = received_ticket("cmp-8", received_at=NOW, overdue=True)
    resolved = TicketView.model_validate(ticket).model_copy(update={"status": "resolved"})
    assert inbox_keys(resolved)["inbox_key"].startswith(f"{len(PROVIDER)}:{PROVIDER}|resolved|1|")
