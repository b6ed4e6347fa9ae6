"""Identity history kept by time, not by count (CS-1: records kept no less than six months)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity_verification.domain.record import (
    HISTORY_MIN_RETENTION,
    DecisionSummary,
    VerificationRecord,
    history_retention,
    recorded,
)

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def summary(n: int, at: datetime) -> DecisionSummary:
    return DecisionSummary(
        decision_id=f"d{n}",
        event_id=f"e{n}",
        submission_id=f"s{n}",
        status="rejected",
        method="mobile",
        reasons=("mobile_invalid",),
        age_group="unknown",
        decided_at=at,
    )


def build(decisions: list[DecisionSummary], now: datetime) -> VerificationRecord:
    record: VerificationRecord | None = None
    for d in decisions:
        record = recorded(
            record,
            d,
            user_id="u1",
            provider_id="p",
            identifier_hmac=None,
            masked_identifier=None,
            established=None,
            keep_since=now - HISTORY_MIN_RETENTION,
        )
    assert record is not None
    return record


def test_more_than_twenty_recent_decisions_are_all_kept() -> None:
    decisions = [summary(i, NOW - timedelta(days=30) + timedelta(hours=i)) for i in range(45)]
    record = build(decisions, NOW)
    assert [d.decision_id for d in record.history] == [f"d{i}" for i in range(45)]


def test_decisions_older_than_184_days_leave_and_one_at_183_days_stays() -> None:
    old, kept = summary(1, NOW - timedelta(days=185)), summary(2, NOW - timedelta(days=183))
    record = build([old, kept, summary(3, NOW)], NOW)
    assert [d.decision_id for d in record.history] == ["d2", "d3"]
    assert record.decision_id == "d3"


def test_the_latest_decision_stays_however_old_it_is() -> None:
    record = build([summary(1, NOW - timedelta(days=400))], NOW)
    assert [d.decision_id for d in record.history] == ["d1"]


def test_a_retention_below_184_days_is_refused() -> None:
    with pytest.raises(ValueError, match="CS-1"):
        history_retention(183)
    assert history_retention(365) == timedelta(days=365)
