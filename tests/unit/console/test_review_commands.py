"""The library and review commands match the contract and continue the flows they belong to."""

from __future__ import annotations

import json

from services.console.adapters.commands import command_message
from services.console.domain.commands import (
    library_change_command,
    library_change_command_id,
    review_decision_command,
    review_decision_command_id,
)
from services.console.entrypoints.app import DEFINITION
from shared.contracts import topics
from shared.contracts.console import LibraryChangeSubmitted, ReviewDecisionSubmitted
from shared.contracts.registry import spec_for
from tests.unit.console.fakes import NOW, pending_item, proposed_entry


def test_a_proposal_starts_a_flow_of_its_own() -> None:
    entry = {"kind": "keyword", "pattern": "guaranteed returns", "category": "fraud", "action": "review"}
    event = library_change_command(
        change="propose",
        entry_id="kw-1",
        entry=entry,
        reason="criterion 4.2",
        username="alice",
        role="operator",
        provider_id="provider-test",
        request_id="r-1",
        now=NOW,
    )

    assert event.type == "dsgov.library.change-submitted"
    assert (event.subject, event.source, event.providerid) == ("kw-1", "dsgov/console", "provider-test")
    assert event.id == library_change_command_id("r-1") != library_change_command_id("r-2")
    assert event.correlationid == event.causationid == event.id
    spec = spec_for(topics.CONSOLE_COMMANDS, event.type)
    assert spec is not None
    data = LibraryChangeSubmitted.model_validate(event.data)
    assert data.model_dump(mode="json") == {
        "change": "propose",
        "entry_id": "kw-1",
        "entry": entry,
        "reason": "criterion 4.2",
        "actor": {"username": "alice", "role": "operator"},
    }
    message = command_message(event)
    assert (message.topic, message.key, message.id) == ("dsgov.console.commands", "kw-1", event.id)


def test_an_approval_continues_the_entrys_flow() -> None:
    state = proposed_entry("kw-1")
    event = library_change_command(
        change="approve",
        entry_id="kw-1",
        entry=None,
        reason="agreed",
        username="bob",
        role="admin",
        provider_id="ignored-when-the-entry-names-one",
        request_id="r-3",
        now=NOW,
        current=state,
    )
    assert event.providerid == "provider-test"
    assert event.correlationid == state["correlation_id"] == "corr-kw-1"
    assert event.causationid == state["last_event_id"]
    assert "entry" not in event.data  # nothing but the change for an approval
    assert event.data["actor"] == {"username": "bob", "role": "admin"}


def test_a_review_decision_is_keyed_by_the_request_and_caused_by_the_queued_event() -> None:
    item = pending_item("item-1")
    event = review_decision_command(
        item,
        decision="reject",
        reason="negative",
        username="olga",
        role="operator",
        request_id="f-1",
        now=NOW,
    )

    assert event.type == "dsgov.review.decision-submitted"
    assert event.subject == "req-1"
    assert event.id == review_decision_command_id("f-1")
    assert event.correlationid == "corr-req-1"
    assert event.causationid == item["queued_event_id"]
    data = ReviewDecisionSubmitted.model_validate(event.data)
    assert (data.item_id, data.request_id, data.decision, data.reason) == (
        "item-1",
        "req-1",
        "reject",
        "negative",
    )
    assert data.actor.username == "olga"
    message = command_message(event)
    assert (message.topic, message.key) == ("dsgov.console.commands", "req-1")
    assert json.loads(message.value)["data"]["actor"] == {"username": "olga", "role": "operator"}


def test_the_service_definition_lists_every_command_on_the_console_topic_and_the_review_events() -> None:
    assert set(DEFINITION.publishes) == {
        "dsgov.consent.withdrawal-submitted",
        "dsgov.library.change-submitted",
        "dsgov.review.decision-submitted",
        "dsgov.rumour.case-submitted",  # DS-11: the provider opens and closes rumour cases
        "dsgov.rumour.case-close-submitted",
        "dsgov.complaint.resolution-submitted",
    }
    assert set(DEFINITION.publishes_on.values()) == {topics.CONSOLE_COMMANDS}
    assert set(DEFINITION.consumes[topics.REVIEW]) == {
        "dsgov.library.updated",
        "dsgov.review.queued",
        "dsgov.review.resolved",
        "dsgov.generation.approved",
        "dsgov.generation.rejected",
        "dsgov.output.approved",
        "dsgov.output.blocked",
        "dsgov.user.sanctioned",
        "dsgov.user.sanction-lifted",
    }
