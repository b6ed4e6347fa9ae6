"""Rumour cases' read model and commands (DS-11, issue 14 correction 4), pure and on the in-memory engine.

The fold (open, closed, a close seen before its record, redelivery), the list order key, the form
check, the two commands, the declared `dsgov.rumour` routes on the engine and the command path
(`Operations.apply` over the audit store: at most one close per case).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from services.console.adapters.commands import command_message
from services.console.adapters.rumours import CASE_ACTION, CLOSE_ACTION, RUMOUR_INDEXES, RumourCommandSender
from services.console.domain.commands import SOURCE
from services.console.domain.rumour_commands import (
    CaseForm,
    case_command,
    case_command_id,
    check_case_form,
    close_command,
    close_command_id,
    notice_id_for,
)
from services.console.domain.rumour_view import TEXT_LIMIT
from services.console.entrypoints.app import DEFINITION
from services.console.ports import Actor
from services.console.projections import Projections
from services.console.rumour_projection import rumour_case_aggregate_id
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.rumour import RumourCaseCloseSubmitted, RumourCaseSubmitted
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.console.fakes import NOW, envelope
from tests.unit.console.rumour_fakes import (
    CLAIM,
    REFUTATION,
    closed_case_state,
    closed_event,
    fold_rumour,
    open_case_state,
    recorded_event,
)

PROVIDER = "provider-test"
OLGA = Actor("olga", "operator")
BOB = Actor("bob", "operator")
FORM = CaseForm(CLAIM, REFUTATION, "high", "seen in our outputs")


def test_ds11_a_recorded_rumour_is_an_open_case_with_what_was_found() -> None:
    state = open_case_state("notice-1", matched=3)
    assert (state["kind"], state["provider_id"], state["notice_id"]) == ("rumour_case", PROVIDER, "notice-1")
    assert (state["status"], state["recorded"], state["closure"]) == ("open", True, None)
    assert (state["claim_text"], state["refutation_text"]) == (CLAIM, REFUTATION)
    assert (state["matched_contents"], state["recipients_reached"]) == (3, 5)
    assert state["rumour_id"] == "rumour-notice-1"
    assert state["correlation_id"] == "corr-rumour-notice-1"
    assert state["case_key"].startswith("1|")
    assert state["case_key"].endswith("|notice-1")


def test_ds11_a_close_records_who_closed_it_and_the_notices_sent() -> None:
    state = closed_case_state("notice-2", notices_sent=7)
    closure = state["closure"]
    assert state["status"] == "closed"
    assert (closure["closed_by"], closure["notices_sent"]) == ("console", 7)
    assert closure["actor"] == {"username": "olga", "role": "operator"}
    assert closure["command_id"] == "cause-notice-2"  # the console command it answers
    assert state["case_key"].startswith("0|")
    assert state["claim_text"] == CLAIM  # the record stays


def test_ds11_a_close_seen_before_its_record_stays_closed_when_the_record_arrives() -> None:
    closed = fold_rumour(None, closed_event("notice-3", by="regulator", notices_sent=2))
    assert closed is not None
    assert (closed["status"], closed["recorded"], closed["closure"]["actor"]) == ("closed", False, None)

    both = fold_rumour(closed, recorded_event("notice-3"))

    assert both is not None
    assert (both["status"], both["recorded"], both["claim_text"]) == ("closed", True, CLAIM)
    assert both["closure"] == closed["closure"]
    assert both["case_key"] == closed["case_key"]  # keeps its place in the list
    assert [h["type"] for h in both["history"]] == [T.RUMOUR_CASE_CLOSED, T.RUMOUR_RECORDED]


def test_a_redelivered_event_changes_nothing_and_a_case_closes_once() -> None:
    raw = recorded_event("notice-4")
    state = fold_rumour(None, raw)
    assert fold_rumour(state, raw) is None
    closed = fold_rumour(state, closed_event("notice-4", notices_sent=1))
    assert closed is not None
    again = fold_rumour(closed, closed_event("notice-4", by="regulator", notices_sent=9))
    assert again is not None
    assert again["closure"] == closed["closure"]


def test_long_texts_are_kept_shortened_and_marked() -> None:
    state = open_case_state("notice-5", claim="谣" * (TEXT_LIMIT + 10))
    assert len(state["claim_text"]) == TEXT_LIMIT
    assert state["claim_truncated"] is True
    assert state["refutation_truncated"] is False


def test_the_list_key_puts_open_cases_first_then_the_latest_change() -> None:
    old_open = open_case_state("a-old", time=NOW - timedelta(days=2))
    new_open = open_case_state("b-new", time=NOW)
    closed = closed_case_state("c-closed", closed_at=NOW + timedelta(days=1))
    ordered = sorted([closed, old_open, new_open], key=lambda s: s["case_key"], reverse=True)
    assert [s["notice_id"] for s in ordered] == ["b-new", "a-old", "c-closed"]
    assert RUMOUR_INDEXES == (("state.case_key",),)
    assert set(RUMOUR_INDEXES) <= set(DEFINITION.indexes)  # the page's sort key is indexed


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"claim_text": ""}, "Give the claim"),
        ({"refutation_text": ""}, "refutation text is required"),
        ({"reason": ""}, "A reason is required"),
        ({"reason": "x" * 2001}, "at most 2000"),
        ({"severity": "urgent"}, "Choose a severity"),
        ({"claim_media": "12ab"}, "must be a SHA-256"),
    ],
)
def test_the_form_check_names_each_problem(fields: dict[str, str], problem: str) -> None:
    form = {"claim_text": CLAIM, "refutation_text": REFUTATION, "severity": "high", "reason": "r"} | fields
    problems = check_case_form(**form)
    assert isinstance(problems, list)
    assert any(problem in p for p in problems), problems


def test_ds11_the_open_command_carries_the_assigned_id_the_reason_and_the_actor() -> None:
    notice_id = notice_id_for("rid-1")
    event = case_command(
        FORM,
        notice_id=notice_id,
        username="olga",
        role="operator",
        provider_id=PROVIDER,
        request_id="rid-1",
        now=NOW,
    )
    assert notice_id == "console-rid-1"
    assert (event.type, event.source, event.subject, event.providerid) == (
        T.RUMOUR_CASE_SUBMITTED,
        SOURCE,
        notice_id,
        PROVIDER,
    )
    assert event.id == case_command_id("rid-1") == event.correlationid
    data = RumourCaseSubmitted.model_validate(event.data)
    assert (data.notice_id, data.claim_text, data.refutation_text) == (notice_id, CLAIM, REFUTATION)
    assert (data.severity, data.reason, data.actor.username, data.actor.role) == (
        "high",
        "seen in our outputs",
        "olga",
        "operator",
    )
    message = command_message(event)
    assert (message.topic, message.key) == (topics.CONSOLE_COMMANDS, notice_id)


def test_ds11_the_close_command_continues_the_cases_flow() -> None:
    case = open_case_state("notice-1")
    event = close_command(
        case, reason="no longer spreads", username="olga", role="operator", request_id="r", now=NOW
    )
    assert (event.type, event.subject, event.id) == (
        T.RUMOUR_CASE_CLOSE_SUBMITTED,
        "notice-1",
        close_command_id("r"),
    )
    assert event.correlationid == case["correlation_id"]
    assert event.causationid == case["last_event_id"]
    data = RumourCaseCloseSubmitted.model_validate(event.data)
    assert (data.notice_id, data.reason, data.actor.username) == ("notice-1", "no longer spreads", "olga")
    assert command_message(event).topic == topics.CONSOLE_COMMANDS


def _records(*events: dict[str, Any]) -> list[RawRecord]:
    return [
        RawRecord(topics.RUMOUR, 0, offset, str(raw["subject"]).encode(), json.dumps(raw).encode())
        for offset, raw in enumerate(events)
    ]


async def test_ds11_the_declared_routes_fold_rumour_events_under_the_cases_key() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    config = EngineConfig(service="console", source=SOURCE, provider_ids=frozenset({PROVIDER}))
    engine = Engine(config, [r.bind(Projections(lambda: NOW)) for r in DEFINITION.routes], store, publisher)
    notice = envelope(T.REFUTATION_NOTICE, "user-1", {"recipient_user_id": "user-1", "notice_id": "n-1"})
    batch = _records(recorded_event("n-1"), notice, closed_event("n-1", notices_sent=1))

    report = await engine.process(batch)
    again = await engine.process(batch)

    assert (report.processed, report.ignored, report.dead_letters, report.published) == (2, 1, 0, 0)
    assert again.processed == 0
    [key] = store.docs
    assert key == rumour_case_aggregate_id(PROVIDER, "n-1") == f"rumour:{PROVIDER}/n-1"
    state = store.docs[key]["state"]
    # MongoRumourView filters and sorts on these.
    assert (state["kind"], state["provider_id"], state["status"]) == ("rumour_case", PROVIDER, "closed")
    assert state["case_key"].startswith("0|")
    assert set(DEFINITION.consumes[topics.RUMOUR]) == {T.RUMOUR_RECORDED, T.RUMOUR_CASE_CLOSED}


async def test_ds11_commands_go_through_the_command_path_and_a_case_closes_once() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    sender = RumourCommandSender(store, publisher, publish_timeout_s=1.0, provider_id=PROVIDER)
    notice_id = notice_id_for("rid-1")

    opened = await sender.open_case(
        FORM, notice_id=notice_id, actor=OLGA, request_id="rid-1", client=None, now=NOW
    )
    reopened = await sender.open_case(
        FORM, notice_id=notice_id, actor=OLGA, request_id="rid-1", client=None, now=NOW
    )
    case = open_case_state(notice_id)
    closed = await sender.close_case(
        case, reason="done", actor=OLGA, request_id="c-1", client="10.0.0.1", now=NOW
    )
    rival = await sender.close_case(case, reason="me too", actor=BOB, request_id="c-2", client=None, now=NOW)

    assert (opened.duplicate, opened.published, reopened.duplicate) == (False, True, True)
    assert (closed.accepted, closed.published, rival.accepted) == (True, True, False)
    assert rival.existing is not None
    assert rival.existing["actor"] == {"username": "olga", "role": "operator"}
    audit = store.docs["rumour_case/rid-1"]["state"]
    assert (audit["action"], audit["target"], audit["actor"]) == (CASE_ACTION, notice_id, OLGA.as_dict())
    assert (audit["details"]["reason"], audit["details"]["command_id"]) == (FORM.reason, opened.command_id)
    close_audit = store.docs[f"rumour_close/{notice_id}"]["state"]
    assert (close_audit["action"], close_audit["details"]["reason"]) == (CLOSE_ACTION, "done")
    [sent_open] = publisher.of_type(T.RUMOUR_CASE_SUBMITTED)
    [sent_close] = publisher.of_type(T.RUMOUR_CASE_CLOSE_SUBMITTED)
    assert (sent_open.topic, sent_open.id, sent_open.key) == (
        topics.CONSOLE_COMMANDS,
        opened.command_id,
        notice_id,
    )
    assert (sent_close.id, json.loads(sent_close.value)["data"]["actor"]["username"]) == (
        closed.command_id,
        "olga",
    )
