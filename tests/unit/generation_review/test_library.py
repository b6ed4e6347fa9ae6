"""The feature library: proposals, four-eyes approval, disabling, versions and replay (DS-10.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from services.generation_review.config import DEMO_LIBRARY
from services.generation_review.domain.library import (
    ChangeRequest,
    LibraryState,
    active_entries,
    apply_change,
    entries_at,
    new_library,
    seed,
    validate_entry,
)
from services.generation_review.entrypoints.app import load_seed

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
KEYWORD = {"kind": "keyword", "pattern": "demo-x", "category": "fraud", "action": "block"}


def change(
    change: str, entry_id: str = "e1", actor: str = "console:alice", role: str = "operator", **kw: Any
) -> ChangeRequest:
    return ChangeRequest(
        change, entry_id, kw.pop("reason", "criterion 4.2"), actor, role, kw.pop("entry", None)
    )


def proposed(entry: dict[str, Any] = KEYWORD) -> LibraryState:
    decision = apply_change(new_library("p"), change("propose", entry=entry), NOW)
    assert decision.applied
    assert decision.state is not None
    return decision.state


def test_propose_then_approve_by_another_person_activates_with_a_new_version_each_time() -> None:
    state = proposed()
    assert state.version == 1
    assert state.entries["e1"].status == "proposed"
    assert active_entries(state) == []
    decision = apply_change(state, change("approve", actor="console:bob", role="admin", reason="agreed"), NOW)
    assert decision.applied
    assert decision.state is not None
    entry = decision.state.entries["e1"]
    assert (decision.version, entry.status, entry.approved_by, entry.approval_reason) == (
        2,
        "active",
        "console:bob",
        "agreed",
    )
    assert entry.proposed_by == "console:alice"
    assert [h.change for h in entry.history] == ["propose", "approve"]
    assert [e.entry_id for e in active_entries(decision.state)] == ["e1"]


def test_the_proposer_cannot_approve_their_own_entry() -> None:
    decision = apply_change(proposed(), change("approve"), NOW)
    assert (decision.applied, decision.refusal, decision.version) == (False, "four_eyes", 1)
    assert decision.state is not None
    assert decision.state.entries["e1"].status == "proposed"
    assert decision.state.changes[-1].refused == "four_eyes"


@pytest.mark.parametrize(
    ("request_", "refusal"),
    [
        (change("approve", entry_id="nope", actor="console:bob"), "entry_unknown"),
        (change("propose", entry=KEYWORD), "entry_exists"),
        (change("approve", actor="console:vic", role="viewer"), "actor_not_permitted"),
        (
            change("propose", entry_id="e2", entry={**KEYWORD, "kind": "regex", "pattern": "(a"}),
            "entry_invalid",
        ),
        (change("rename", actor="console:bob"), "change_unknown"),
    ],
)
def test_changes_that_break_a_rule_are_refused_and_change_nothing(
    request_: ChangeRequest, refusal: str
) -> None:
    state = proposed()
    decision = apply_change(state, request_, NOW)
    assert (decision.applied, decision.refusal) == (False, refusal)
    assert decision.state is not None
    assert decision.state.version == 1
    assert decision.state.entries.keys() == {"e1"}


def test_disable_takes_an_entry_out_at_once_and_only_once() -> None:
    state = apply_change(proposed(), change("approve", actor="console:bob"), NOW).state
    decision = apply_change(state, change("disable", reason="over-blocks"), NOW)
    assert decision.applied
    assert decision.state is not None
    assert decision.state.entries["e1"].disabled_reason == "over-blocks"
    assert active_entries(decision.state) == []
    again = apply_change(decision.state, change("disable"), NOW)
    assert again.refusal == "already_disabled"


def test_the_library_at_an_earlier_version_can_be_rebuilt_for_replay() -> None:
    state = apply_change(proposed(), change("approve", actor="console:bob"), NOW).state
    state = apply_change(state, change("disable"), NOW).state
    assert state is not None
    assert [e.entry_id for e in entries_at(state, 1)] == []  # proposed
    assert [e.entry_id for e in entries_at(state, 2)] == ["e1"]  # active
    assert [e.entry_id for e in entries_at(state, 3)] == []  # disabled
    assert [e.entry_id for e in entries_at(state, 0)] == []


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (None, "needs `entry`"),
        ({**KEYWORD, "kind": "classifier"}, "kind must be"),
        ({**KEYWORD, "pattern": ""}, "pattern must be"),
        ({**KEYWORD, "category": "Not Valid"}, "category must be"),
        ({**KEYWORD, "action": "shadowban"}, "action must be"),
        ({**KEYWORD, "pattern": "!!!"}, "no letters or digits"),
        ({**KEYWORD, "kind": "sha256", "pattern": "abc"}, "64 hexadecimal"),
        ({**KEYWORD, "kind": "phash", "pattern": "abc"}, "16 hexadecimal"),
        ({**KEYWORD, "kind": "phash", "pattern": "00000000000000ff", "max_distance": 40}, "max_distance"),
    ],
)
def test_invalid_proposals_say_what_is_wrong(entry: dict[str, Any] | None, problem: str) -> None:
    result = validate_entry(entry)
    assert isinstance(result, str)
    assert problem in result


def test_a_phash_entry_gets_the_default_threshold() -> None:
    result = validate_entry({**KEYWORD, "kind": "phash", "pattern": "00000000000000FF"})
    assert not isinstance(result, str)
    assert (result.pattern, result.max_distance) == ("00000000000000ff", 8)


def test_the_demo_library_seeds_an_empty_library_only_and_is_marked_demo() -> None:
    _, entries = load_seed(DEMO_LIBRARY)
    decisions = seed(None, "p", entries, "system:demo-library", NOW)
    assert len(decisions) == len(entries) >= 7
    state = decisions[-1].state
    assert state is not None
    assert state.version == len(entries)
    assert all(e.demo and e.status == "active" for e in state.entries.values())
    assert {e.kind for e in state.entries.values()} == {"keyword", "regex", "sha256", "phash"}
    assert seed(state, "p", entries, "system:demo-library", NOW) == []
