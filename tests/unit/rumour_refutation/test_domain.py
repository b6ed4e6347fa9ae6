"""State of contents, cases and reach shards: order-independence and once-only effects (DS-11, DS-21)."""

from __future__ import annotations

from services.rumour_refutation.domain import case as cases
from services.rumour_refutation.domain import content as contents
from services.rumour_refutation.domain import reach
from services.rumour_refutation.domain.content import CaseRef, ContentState, OutputRecord
from services.rumour_refutation.domain.index import Match
from services.rumour_refutation.domain.reasons import REASONS, article_for

REF = CaseRef("notice-1", "rumour", "rumour-1", "corr-1", "known_rumour")
OUTPUT = OutputRecord(request_id="req-1", event_id="evt-1", sketches="", sizes=(), media=(), text_chars=0)


def _distribute(state: ContentState | None, dist: str, list_id: str, n: int = 2) -> ContentState:
    return contents.record_distribution(
        state,
        "c1",
        distribution_id=dist,
        list_id=list_id,
        recipients=n,
        channel="feed",
        explicit_label_kept=True,
        now_ms=1,
    )


def _match(state: ContentState | None) -> tuple[ContentState, contents.Takedown] | None:
    return contents.apply_match(state, "c1", REF, score=0.9, via="text", cause_id="evt-9", now_ms=2)


def test_an_output_is_indexed_once() -> None:
    first = contents.index_output(None, "c1", OUTPUT, now_ms=5)
    assert first is not None
    assert first.indexed_ms == 5
    assert contents.index_output(first, "c1", OUTPUT, now_ms=6) is None


def test_fan_out_is_due_whichever_of_distribution_and_match_comes_first() -> None:
    dist_first = _match(_distribute(None, "d1", "l1"))
    assert dist_first is not None
    matched = _match(None)
    assert matched is not None
    match_first = _distribute(matched[0], "d1", "l1")
    for state in (dist_first[0], match_first):
        assert contents.pending_items(state) == [("notice-1", "d1")]
        assert state.pending_count == 1


def test_a_match_is_applied_once_and_requires_one_takedown() -> None:
    result = _match(_distribute(None, "d1", "l1"))
    assert result is not None
    state, takedown = result
    assert takedown == contents.Takedown("c1", "notice-1", "rumour-1", "known_rumour", 0.9, "evt-9", "corr-1")
    assert _match(state) is None
    assert contents.matched(state, "notice-1")


def test_a_repeated_distribution_adds_lists_and_is_due_again_only_for_new_lists() -> None:
    result = _match(_distribute(None, "d1", "l1"))
    assert result is not None
    state = contents.complete_fanout(result[0], [("notice-1", "d1", 2)], now_ms=3)
    assert state is not None
    assert state.pending == ()
    again = _distribute(state, "d1", "l2", n=3)  # same distribution id, a new event (list)
    assert contents.list_ids(again, "d1") == ["l1", "l2"]
    assert again.distributions[0].recipients == 5
    assert contents.pending_items(again) == [("notice-1", "d1")]


def test_completing_fan_out_that_is_not_pending_changes_nothing() -> None:
    state = _distribute(None, "d1", "l1")
    assert contents.complete_fanout(state, [("notice-1", "d1", 2)], now_ms=3) is None
    assert contents.complete_fanout(None, [("notice-1", "d1", 2)], now_ms=3) is None


def _opening() -> cases.Opening:
    return cases.Opening("notice-1", "evt-1", "corr-1", "2026-11-22T00:00:00+00:00", 10, 8)


def test_a_rumour_case_lists_what_is_still_to_apply_until_applied() -> None:
    matches = [Match("c1", 0.9, "text"), Match("c2", 1.0, "sha256")]
    state = cases.open_rumour(
        _opening(),
        rumour_id="rumour-1",
        claim_text="claim",
        refutation_text="false",
        severity="high",
        claim_media=[],
        claim_sketches="",
        claim_sizes=[],
        scheme="s",
        matches=matches,
    )
    assert state.to_apply == ("c1", "c2")
    assert cases.initial_matches(state) == {"c1": (0.9, "text"), "c2": (1.0, "sha256")}
    assert cases.case_ref(state) == REF
    done = cases.applied(state, ["c1"])
    assert done is not None
    assert (done.to_apply, done.apply_pending) == (("c2",), 1)
    assert cases.applied(done, ["c1"]) is None


def test_a_repeated_takedown_order_adds_only_new_contents() -> None:
    state = cases.open_takedown_order(_opening(), content_ids=["a", "b", "a"], reason="order")
    assert state.to_apply == ("a", "b")
    assert cases.case_ref(state).reason == "takedown_ordered"
    assert cases.extend_order(state, ["b"], "evt-2", 11) is None
    extended = cases.extend_order(state, ["b", "c"], "evt-2", 11)
    assert extended is not None
    assert extended.to_apply == ("a", "b", "c")


def test_each_recipient_is_notified_once_per_case_however_often_reached() -> None:
    first = reach.notify(None, "notice-1", 3, {"u1": ["c1", "c2"], "u2": ["c1"]}, now_ms=1)
    assert first is not None
    state, notices = first
    assert notices == [reach.Notice("u1", ("c1", "c2")), reach.Notice("u2", ("c1",))]
    again = reach.notify(state, "notice-1", 3, {"u1": ["c3"]}, now_ms=2)
    assert again is not None
    state, notices = again
    assert notices == []  # told already: the extra content is only recorded
    assert next(r for r in state.notified if r.r == "u1").c == ("c1", "c2", "c3")
    assert reach.notify(state, "notice-1", 3, {"u1": ["c3"], "u2": ["c1"]}, now_ms=3) is None


def test_the_shard_of_a_recipient_is_stable() -> None:
    assert reach.shard_of("user-42", 64) == reach.shard_of("user-42", 64)
    assert {reach.shard_of(f"user-{i}", 8) for i in range(200)} == set(range(8))


def test_every_reason_code_is_snake_case_and_cites_its_article() -> None:
    assert {code: article_for(code) for code in REASONS} == {
        "known_rumour": "DS-11",
        "takedown_ordered": "DS-21",
    }
    assert set(cases.REASON_BY_KIND.values()) == set(REASONS)
