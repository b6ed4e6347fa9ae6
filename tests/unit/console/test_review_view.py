"""The human review queue's read model (DS-10.1), the decision counters (DS-10.3) and the claim rules."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from services.console.domain.claims import Take, decide_problem, holder, take_problem
from services.console.domain.review_view import ReviewStats, fold_stats, stats_key
from shared.contracts import topics
from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import GenerationApproved, GenerationRejected, UserSanctioned
from shared.messaging.codec import DecodeFailure, RawRecord, decode
from tests.unit.console.fakes import (
    CONSUMES,
    HIT,
    NOW,
    envelope,
    fold_item,
    pending_item,
    queued_event,
    resolved_event,
)


def test_a_queued_item_is_pending_with_why_it_was_flagged() -> None:
    state = pending_item("item-1", text="<b>checked</b> demo-review-term", media=[])

    assert state["status"] == "pending"
    assert state["queue_rank"] == 0
    assert state["hits"] == [HIT | {"distance": None}]
    assert state["categories"] == ["demo_negative"]
    assert state["text"] == "<b>checked</b> demo-review-term"  # kept as received; pages escape it
    assert state["queued_ms"] == int(NOW.timestamp() * 1000)
    assert state["correlation_id"] == "corr-req-1"
    assert state["resolution"] is None


def test_the_resolution_records_the_reviewer_and_what_the_platform_got() -> None:
    state = fold_item(pending_item("item-1"), resolved_event("item-1", decision="reject"))

    assert state is not None
    assert state["status"] == "resolved"
    assert state["queue_rank"] == 1
    assert state["resolution"] == {
        "decision": "reject",
        "outcome_type": "dsgov.generation.rejected",
        "decision_id": "dec-item-1",
        "reviewer": {"username": "olga", "role": "operator"},
        "reason": "harmless in context",
        "resolved_at": NOW.isoformat(),
        "command_id": "cmd-x",
    }
    assert state["hits"]  # what was flagged stays visible
    assert [h["type"] for h in state["history"]] == ["dsgov.review.queued", "dsgov.review.resolved"]


def test_a_resolution_seen_before_the_queued_event_stays_resolved() -> None:
    state = fold_item(None, resolved_event("item-1"))
    assert state is not None
    assert state["status"] == "resolved"
    assert state["hits"] == []

    state = fold_item(state, queued_event("item-1"))

    assert state is not None
    assert state["status"] == "resolved"
    assert state["queue_rank"] == 1
    assert state["hits"][0]["entry_id"] == "demo-kw-review"
    assert state["resolution"]["decision"] == "approve"


def test_the_same_event_twice_is_ignored() -> None:
    raw = queued_event("item-1")
    assert fold_item(fold_item(None, raw), raw) is None


@pytest.mark.parametrize(
    "spoil",
    [
        {"hits": [{"entry_id": "x"}]},  # a hit without kind, category, action
        {"stage": "middle"},
        {"queued_at": "yesterday"},
        {"item_id": None},
    ],
)
def test_a_malformed_queued_event_is_a_dead_letter_not_a_queue_item(spoil: dict[str, Any]) -> None:
    raw = queued_event("item-1")
    raw["data"] |= spoil
    record = RawRecord(topics.REVIEW, 0, 0, b"req-1", json.dumps(raw).encode())
    decoded = decode(record, frozenset(CONSUMES[topics.REVIEW]))
    assert isinstance(decoded, DecodeFailure)
    assert decoded.code == "schema_violation"


def _decision(type_: str, reviewer: bool = False, time: Any = NOW) -> tuple[CloudEvent, Any]:
    data: dict[str, Any] = {"request_id": "r", "user_id": "u", "decision_id": "d"}
    if reviewer:
        data["reviewer"] = {"username": "olga", "role": "operator"}
    event = CloudEvent.model_validate(envelope(type_, "r", data, time=time))
    model = GenerationApproved if type_.endswith("approved") else GenerationRejected
    return event, model.model_validate(data)


def test_decisions_and_sanctions_are_counted_per_utc_day() -> None:
    state: ReviewStats | None = None
    for type_, human in [
        ("dsgov.generation.approved", False),
        ("dsgov.generation.approved", True),
        ("dsgov.generation.rejected", True),
    ]:
        event, data = _decision(type_, human)
        state = fold_stats(state, event=event, data=data)
    sanction = {"user_id": "u", "level": "warning", "strikes": 1}
    event = CloudEvent.model_validate(envelope("dsgov.user.sanctioned", "u", sanction))
    state = fold_stats(state, event=event, data=UserSanctioned.model_validate(sanction))

    assert state.decisions == {"generation_approved": 2, "generation_rejected": 1}
    assert state.human == 2
    assert state.sanctions == {"warning": 1}
    assert state.day == NOW.date().isoformat()
    assert state.day_ms == int(NOW.replace(hour=0, minute=0).timestamp() * 1000)
    assert stats_key("dsgov.output.blocked") == "output_blocked"
    late = NOW.replace(hour=23, minute=59) + timedelta(minutes=2)  # after midnight UTC: the next day
    event, data = _decision("dsgov.generation.approved", time=late)
    assert fold_stats(None, event=event, data=data).day == (NOW + timedelta(days=1)).date().isoformat()


ITEM = {"status": "pending"}


def _take(seq: int, who: str) -> Take:
    return Take("item-1", seq, who, "operator", NOW.isoformat())


def test_the_newest_take_holds_the_item() -> None:
    assert holder([]) is None
    assert holder([_take(2, "bob"), _take(1, "olga"), _take(3, "olga")]) == _take(3, "olga")


def test_taking_an_item() -> None:
    assert take_problem(ITEM, None, "olga", 0) is None
    assert take_problem(ITEM, _take(1, "olga"), "bob", 1) is None  # an explicit take-over
    assert "already hold" in str(take_problem(ITEM, _take(1, "olga"), "olga", 1))
    stale = take_problem(ITEM, _take(2, "bob"), "olga", 1)  # bob took it after olga's page loaded
    assert stale is not None
    assert "bob (operator)" in stale
    assert "resolved" in str(take_problem({"status": "resolved"}, None, "olga", 0))


def test_only_the_holder_decides() -> None:
    assert decide_problem(ITEM, _take(1, "olga"), "olga") is None
    assert "Take the item" in str(decide_problem(ITEM, None, "olga"))
    assert "olga holds this item" in str(decide_problem(ITEM, _take(1, "olga"), "bob"))
    assert "resolved" in str(decide_problem({"status": "resolved"}, _take(1, "olga"), "olga"))
