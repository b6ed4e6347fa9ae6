"""Incidents: one per incident key, due when facts are unreported, windows for rumours and takedowns."""

from __future__ import annotations

import pytest

from services.regulator_reporting.domain import incidents as inc
from tests.unit.regulator_reporting.factories import NOW_MS, POLICY, blocked, ref


def fold(
    state: inc.Incident | None, obs: inc.Observation, event: str = "e", at: int = NOW_MS
) -> inc.Incident:
    return inc.fold(state, "prov-1", obs, ref(event), at, POLICY)


def mark(state: inc.Incident, sequence: int, at: int = NOW_MS) -> inc.Incident:
    part = inc.PartRef(f"rep-{sequence}", sequence, inc.part_key(state), state.draft_digest)
    return inc.mark_reported(state, part, at, POLICY)


def rumour(notice: str = "n-1", **kw: object) -> inc.RumourCase:
    return inc.RumourCase(notice_id=notice, rumour_id="r-1", at_ms=NOW_MS, **kw)  # type: ignore[arg-type]


def refutation(recipient: str, notice: str = "n-1") -> inc.Refutation:
    return inc.Refutation(notice_id=notice, recipient_ref=recipient, at_ms=NOW_MS, rumour_id="r-1")


def test_incident_keys_depend_on_facts_not_on_event_ids() -> None:
    assert inc.incident_key(blocked("r1")) == "illegal_content/input/r1"
    assert inc.incident_key(blocked("r1", stage="output")) == "illegal_content/output/r1"
    sanction = inc.Sanction("u1", "warning", 1, (), NOW_MS, decision_id="d9")
    assert inc.incident_key(sanction) == "user_sanction/u1/d9"
    assert inc.incident_key(inc.Sanction("u1", "suspended", 3, (), NOW_MS)) == "user_sanction/u1/suspended-3"
    assert inc.incident_key(rumour("n7")) == inc.incident_key(refutation("x", "n7")) == "rumour/n7"
    order = inc.TakedownOrder("n8", ("c1",), "h", NOW_MS)
    assert (
        inc.incident_key(order) == inc.incident_key(inc.TakedownRequired("n8", "c1", NOW_MS)) == "takedown/n8"
    )


def test_blocked_content_is_due_at_once_with_its_articles_and_action() -> None:
    state = fold(None, blocked("r1"))

    assert state.due_ms == NOW_MS
    d = inc.draft_of(state)
    assert d["category"] == "illegal_content"
    assert d["articles"] == ["DS-10.2", "DS-10.3", "GA-14.1"]  # DS-10.2 from prohibited_content
    assert d["actions_taken"] == ["generation_blocked"]
    assert d["facts"]["reasons"] == [{"code": "prohibited_content", "article": "DS-10.2"}]
    assert d["facts"]["user_id"] == "user-1"


def test_a_known_rumour_block_is_reported_under_ds_11() -> None:
    d = inc.draft_of(fold(None, blocked("r2", code="known_rumour", stage="output")))
    assert "DS-11" in d["articles"]
    assert d["actions_taken"] == ["output_blocked"]


def test_the_same_facts_again_change_nothing_before_or_after_reporting() -> None:
    first = fold(None, blocked("r1"), "e1")
    again = fold(first, blocked("r1"), "e2", at=NOW_MS + 5_000)  # re-emitted with a new event id
    assert again.draft_digest == first.draft_digest
    assert again.due_ms == first.due_ms

    reported = mark(again, 1)
    assert reported.due_ms == inc.NEVER
    assert fold(reported, blocked("r1"), "e3").due_ms == inc.NEVER


def test_new_facts_after_a_report_make_a_second_part_due() -> None:
    reported = mark(fold(None, blocked("r1")), 1)
    later = fold(reported, blocked("r1", decision_id="dec-2"), "e2", at=NOW_MS + 7_000)

    assert later.due_ms == NOW_MS + 7_000
    assert inc.part_key(later) == "illegal_content/input/r1#2"
    assert inc.draft_of(later)["facts"]["decision_ids"] == ["dec-2", "dec-r1"]


def test_marking_is_idempotent_and_keeps_changes_made_after_the_snapshot() -> None:
    state = fold(None, blocked("r1"))
    snapshot = inc.PartRef("rep-1", 1, inc.part_key(state), state.draft_digest)
    changed = fold(state, blocked("r1", decision_id="dec-2"), "e2", at=NOW_MS + 1)

    marked = inc.mark_reported(changed, snapshot, NOW_MS + 2, POLICY)

    assert [p.sequence for p in marked.parts] == [1]
    assert marked.due_ms == NOW_MS + 2  # the later decision still has to be reported
    assert inc.mark_reported(marked, snapshot, NOW_MS + 3, POLICY) == marked


def test_rumour_cases_wait_until_quiet_but_not_longer_than_the_maximum_delay() -> None:
    state = fold(None, rumour())
    assert state.due_ms == NOW_MS + POLICY.settle_ms

    for i in range(1, 30):  # a notice every 500 ms keeps it from settling...
        state = fold(state, refutation(f"rcp-{i}"), f"e{i}", at=NOW_MS + 500 * i)
    assert state.due_ms == NOW_MS + POLICY.max_delay_ms  # ...until the maximum delay


def test_a_rumour_report_counts_distinct_recipients_and_hashes_texts() -> None:
    state = fold(
        None, rumour(claim_text_sha256=inc.sha256_text("the claim"), matched_content_ids=("c2", "c1"))
    )
    for i, who in enumerate(["a", "b", "a"]):  # "a" notified twice counts once
        state = fold(state, refutation(who), f"e{i}")

    d = inc.draft_of(state)
    assert d["category"] == "rumour"
    assert d["articles"] == ["DS-11"]
    assert d["actions_taken"] == ["rumour_recorded", "matching_generation_blocked", "refutation_sent"]
    facts = d["facts"]
    assert facts["refutation_notices_sent"] == 2
    assert facts["recipients_reached"] == 2
    assert facts["matched_content"]["ids"] == ["c1", "c2"]
    assert facts["claim_text_sha256"] == inc.sha256_text("the claim")
    assert "the claim" not in str(state)


def test_takedown_orders_and_required_takedowns_make_one_takedown_report() -> None:
    state = fold(None, inc.TakedownOrder("n9", ("c1", "c2"), inc.sha256_text("reason"), NOW_MS))
    state = fold(state, inc.TakedownRequired("n9", "c1", NOW_MS + 10, rumour_id="r-1"), "e2")

    d = inc.draft_of(state)
    assert d["category"] == "takedown"
    assert d["articles"] == ["DS-10.3", "DS-11", "DS-21", "GA-14.1"]
    assert d["actions_taken"] == ["takedown_order_received", "takedown_required"]
    assert d["facts"]["ordered_content"]["count"] == 2
    assert d["facts"]["takedown_required_content"]["ids"] == ["c1"]


def test_long_id_lists_are_listed_in_part_and_covered_by_count_and_digest() -> None:
    ids = tuple(f"c{i:05d}" for i in range(inc.LISTED_IDS + 50))
    facts = inc.draft_of(fold(None, inc.TakedownOrder("n1", ids, "h", NOW_MS)))["facts"]["ordered_content"]

    assert facts["count"] == len(ids)
    assert len(facts["ids"]) == inc.LISTED_IDS
    assert facts["sha256"] == inc.sha256_text("\n".join(sorted(ids)))


def test_tracked_ids_are_capped_and_the_report_says_so() -> None:
    ids = tuple(f"c{i:06d}" for i in range(inc.CONTENT_CAP + 1))
    facts = inc.draft_of(fold(None, inc.TakedownOrder("n1", ids, "h", NOW_MS)))["facts"]["ordered_content"]
    assert facts["count"] == inc.CONTENT_CAP
    assert facts["truncated"] is True


def test_sanctions_name_the_ladder_step_and_keep_no_free_text() -> None:
    obs = inc.Sanction(
        "u1",
        "suspended",
        3,
        (("prohibited_content", "DS-10.2"),),
        NOW_MS,
        until_ms=NOW_MS + 86_400_000,
        decision_id="d1",
        category="contains free text, not a code",
    )
    d = inc.draft_of(fold(None, obs))

    assert d["articles"] == ["DS-10.2", "DS-10.3", "GA-14.2"]
    assert d["actions_taken"] == ["service_suspended", "strike_recorded"]
    assert d["facts"]["until"] == "2026-11-23T08:00:00.000Z"
    assert d["facts"]["category"].startswith("sha256:")


def test_facts_that_cannot_be_canonicalised_are_refused() -> None:
    with pytest.raises(inc.InvalidIncident, match="RFC 8785"):
        fold(None, blocked("r\ud800"))
