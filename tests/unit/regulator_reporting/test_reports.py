"""Building the next report of the chain from an incident's draft (DS-10.3)."""

from __future__ import annotations

from services.regulator_reporting.chain import GENESIS_HASH, PublicKey, report_hash
from services.regulator_reporting.domain import incidents as inc
from services.regulator_reporting.domain.reports import Head, pending_of, report_id_for
from services.regulator_reporting.outbound import build_report
from shared.contracts.reporting import ReportSubmitted
from tests.unit.regulator_reporting.factories import (
    NOW,
    NOW_MS,
    POLICY,
    blocked,
    incident,
    pending_for,
    signer,
)


def test_the_first_report_starts_the_chain_and_is_signed_over_what_travels() -> None:
    key = signer()
    event = build_report(pending_for("r1"), Head(0, GENESIS_HASH), key, NOW)

    data = event.data
    ReportSubmitted.model_validate(data)
    assert (data["sequence"], data["prev_hash"], data["key_id"]) == (1, GENESIS_HASH, "k1")
    assert data["hash"] == report_hash(data)
    assert PublicKey("k1", key.public_key).verifies(data["hash"], data["signature"])
    assert event.subject == data["report_id"] == report_id_for("prov-1", "illegal_content/input/r1")
    assert event.type == "dsgov.report.submitted"
    assert data["facts"]["incident_key"] == "illegal_content/input/r1"
    assert data["facts"]["part"] == 1


def test_the_next_report_follows_the_head() -> None:
    head = Head(41, "ab" * 32)
    data = build_report(pending_for("r2"), head, signer(), NOW).data
    assert (data["sequence"], data["prev_hash"]) == (42, "ab" * 32)


def test_a_rebuilt_report_is_identical() -> None:
    one = build_report(pending_for("r1"), Head(0, GENESIS_HASH), signer(), NOW)
    two = build_report(pending_for("r1"), Head(0, GENESIS_HASH), signer(), NOW)
    assert one == two


def test_a_later_part_names_the_report_it_follows() -> None:
    state = incident(blocked("r1"))
    first = pending_of("agg", state)
    marked = inc.mark_reported(
        state, inc.PartRef(first.report_id, 1, first.incident_key, first.draft_digest), NOW_MS, POLICY
    )
    changed = inc.fold(
        marked, "prov-1", blocked("r1", decision_id="d2"), inc.EventRef("e2", "c"), NOW_MS, POLICY
    )

    second = pending_of("agg", changed)
    data = build_report(second, Head(1, "cd" * 32), signer(), NOW).data

    assert second.incident_key == "illegal_content/input/r1#2"
    assert second.report_id != first.report_id
    assert data["facts"]["part"] == 2
    assert data["facts"]["previous_report_id"] == first.report_id
    assert second.causation_id == "e2"
