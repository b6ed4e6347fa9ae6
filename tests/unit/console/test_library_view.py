"""The feature-library read model folded from `dsgov.library.updated` (DS-10.2)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from services.console.domain.library_view import (
    LibraryEntryView,
    answered_commands,
    fold_library_entry,
    search_text,
)
from shared.contracts import topics
from shared.contracts.envelope import CloudEvent
from shared.contracts.review import LibraryUpdated
from shared.messaging.codec import DecodeFailure, Inbound, RawRecord, decode
from tests.unit.console.fakes import (
    CONSUMES,
    NOW,
    aggregate_id,
    envelope,
    fold_library,
    library_event,
    proposed_entry,
    queued_event,
    resolved_event,
    snapshot,
)


def _approved(entry_id: str = "kw-1", version: int = 2, **extra: Any) -> dict[str, Any]:
    entry = snapshot(
        entry_id,
        status="active",
        approved_by="console:bob",
        approval_reason="agreed: criterion 4.2",
        updated_version=version,
    )
    return library_event(
        entry_id,
        version=version,
        change="approve",
        entry=entry,
        actor="console:bob",
        reason="agreed: criterion 4.2",
        time=NOW + timedelta(minutes=5),
        **extra,
    )


def test_a_proposal_then_its_approval_by_a_second_person() -> None:
    state: dict[str, Any] | None = proposed_entry("kw-1")
    assert state is not None
    assert (state["status"], state["entry_kind"], state["category"], state["action"]) == (
        "proposed",
        "keyword",
        "fraud",
        "review",
    )
    assert state["proposed_by"] == "console:alice"
    assert state["library_version"] == 1

    state = fold_library(state, _approved(causationid="cmd-approve"))

    assert state is not None
    assert state["status"] == "active"
    assert state["entry"]["approved_by"] == "console:bob"
    assert state["library_version"] == 2
    assert [(h["change"], h["applied"], h["status_after"]) for h in state["history"]] == [
        ("propose", True, "proposed"),
        ("approve", True, "active"),
    ]
    assert state["history"][1]["actor"] == "console:bob"
    assert state["history"][1]["reason"] == "agreed: criterion 4.2"
    assert state["last_refusal"] is None
    assert "cmd-approve" in answered_commands(state)


def test_a_four_eyes_refusal_is_kept_and_shown_until_a_later_change_applies() -> None:
    state: dict[str, Any] | None = proposed_entry("kw-1")
    refused = library_event(
        "kw-1",
        version=1,
        change="approve",
        applied=False,
        entry=snapshot("kw-1"),
        actor="console:alice",
        reason="I approve my own",
        refusal="four_eyes",
        refusal_detail="the proposer may not approve their own entry",
        time=NOW + timedelta(minutes=1),
    )

    state = fold_library(state, refused)

    assert state is not None
    assert state["status"] == "proposed"  # nothing changed
    assert state["last_refusal"]["refusal"] == "four_eyes"
    assert state["last_refusal"]["actor"] == "console:alice"
    assert [h["applied"] for h in state["history"]] == [True, False]
    state = fold_library(state, _approved())
    assert state is not None
    assert state["last_refusal"] is None
    assert [h.get("refusal") for h in state["history"]] == [None, "four_eyes", None]


def test_an_older_event_arriving_late_does_not_roll_the_entry_back() -> None:
    proposal = library_event("kw-1", entry=snapshot("kw-1"))
    state = fold_library(None, _approved())
    assert state is not None

    state = fold_library(state, proposal)

    assert state is not None
    assert state["status"] == "active"
    assert state["entry"]["updated_version"] == 2
    assert [h["library_version"] for h in state["history"]] == [1, 2]  # in library-version order
    assert state["library_version"] == 2


def test_the_same_event_twice_is_ignored() -> None:
    raw = library_event("kw-1", entry=snapshot("kw-1"))
    state = fold_library(None, raw)
    event, data = CloudEvent.model_validate(raw), LibraryUpdated.model_validate(raw["data"])
    previous = LibraryEntryView.model_validate(state)
    assert fold_library_entry(previous, event=event, data=data, received_at=NOW) is None


def test_an_id_whose_every_change_was_refused_is_not_in_the_library() -> None:
    raw = library_event(
        "bad-1",
        applied=False,
        version=4,
        refusal="entry_invalid",
        refusal_detail="not an RE2 regular expression: invalid perl operator: (?=",
    )

    state = fold_library(None, raw)

    assert state is not None
    assert state["status"] == "refused"
    assert state["entry"] is None
    assert state["entry_kind"] is None
    assert state["last_refusal"]["refusal"] == "entry_invalid"
    assert state["library_version"] == 4


def test_the_search_field_holds_id_pattern_category_and_reasons_case_folded() -> None:
    text = search_text("KW-1", snapshot("KW-1", pattern="Straße DEMO", approval_reason="Agreed"))
    assert "kw-1" in text
    assert "strasse demo" in text  # casefold, as the query is
    assert "fraud" in text
    assert "criterion 4.2" in text
    assert "agreed" in text
    assert search_text("only-id", None) == "only-id"


def _inbound(raw: dict[str, Any]) -> Inbound[Any]:
    record = RawRecord(topics.REVIEW, 0, 0, b"k", json.dumps(raw).encode())
    decoded = decode(record, frozenset(CONSUMES[topics.REVIEW]))
    assert isinstance(decoded, Inbound)
    return decoded


def test_each_review_event_folds_into_its_own_document() -> None:
    approved = envelope(
        "dsgov.generation.approved",
        "req-9",
        {"request_id": "req-9", "user_id": "u", "decision_id": "d"},
    )
    ids = {
        "library": aggregate_id(_inbound(library_event("kw/1", entry=snapshot("kw/1")))),
        "queued": aggregate_id(_inbound(queued_event("item-1"))),
        "resolved": aggregate_id(_inbound(resolved_event("item-1"))),
        "stats": aggregate_id(_inbound(approved)),
    }
    assert ids == {
        "library": "library:provider-test/kw/1",
        "queued": "review:provider-test/item-1",
        "resolved": "review:provider-test/item-1",
        "stats": f"stats:provider-test/{NOW.date().isoformat()}",
    }


def _without_version(raw: dict[str, Any]) -> None:
    del raw["data"]["library_version"]


def _renamed(raw: dict[str, Any]) -> None:
    raw["data"]["change"] = "rename"


def _unknown_type(raw: dict[str, Any]) -> None:
    raw["type"] = "dsgov.library.renamed"


def _other_subject(raw: dict[str, Any]) -> None:
    raw["subject"] = "kw-2"


@pytest.mark.parametrize(
    ("spoil", "code"),
    [
        (_without_version, "schema_violation"),
        (_renamed, "schema_violation"),
        (_unknown_type, "unknown_type"),
        (_other_subject, "schema_violation"),
    ],
)
def test_a_malformed_library_event_is_refused_by_the_decoder(
    spoil: Callable[[dict[str, Any]], None], code: str
) -> None:
    raw = library_event("kw-1", entry=snapshot("kw-1"))
    spoil(raw)
    record = RawRecord(topics.REVIEW, 0, 0, b"kw-1", json.dumps(raw).encode())
    decoded = decode(record, frozenset(CONSUMES[topics.REVIEW]))
    assert isinstance(decoded, DecodeFailure)
    assert decoded.code == code
