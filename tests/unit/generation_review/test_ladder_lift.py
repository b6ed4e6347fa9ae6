"""An upheld appeal lifts a sanction and the ladder starts again from the level it names (DS-10.3, DS-12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.generation_review.domain.ladder import (
    LadderPolicy,
    Standing,
    Strike,
    apply_strike,
    in_force,
    lift,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
POLICY = LadderPolicy()


def strikes(n: int, start: datetime = T0, standing: Standing | None = None) -> Standing:
    current = standing
    for i in range(n):
        result = apply_strike(
            current, Strike(f"d{start:%s}-{i}", start + timedelta(minutes=i), "spam", "r"), POLICY
        )
        assert result is not None
        current = result[0]
    assert current is not None
    return current


def next_level(standing: Standing, at: datetime) -> str:
    result = apply_strike(standing, Strike(f"next-{at:%s}", at, "spam", "r"), POLICY)
    assert result is not None
    return result[1].level


@pytest.mark.parametrize(
    ("level_after", "now_in_force", "next_strike"),
    [(None, None, "warning"), ("warning", None, "restricted"), ("restricted", "restricted", "suspended")],
)
def test_the_next_strike_after_a_lifting_starts_from_the_level_the_resolution_names(
    level_after: str | None, now_in_force: str | None, next_strike: str
) -> None:
    suspended = strikes(3)
    assert suspended.level == "suspended"
    lifted_at = T0 + timedelta(hours=1)
    result = lift(suspended, level_after, "appeal-1", lifted_at, POLICY)
    assert result is not None
    standing, before, after = result
    assert (before, after) == ("suspended", level_after)
    active = in_force(standing, lifted_at)
    assert (active.level if active else None) == now_in_force
    assert next_level(standing, lifted_at + timedelta(hours=1)) == next_strike


def test_a_lifting_is_applied_once_per_appeal() -> None:
    standing, _, _ = lift(strikes(2), None, "appeal-1", T0 + timedelta(hours=1), POLICY) or (None, None, None)
    assert standing is not None
    assert lift(standing, None, "appeal-1", T0 + timedelta(hours=2), POLICY) is None


def test_an_appeal_never_raises_a_sanction() -> None:
    result = lift(strikes(2), "closed", "appeal-1", T0 + timedelta(hours=1), POLICY)
    assert result is not None
    assert result[1:] == ("restricted", "warning")  # one rung down instead


def test_the_restart_level_ages_out_of_the_window_like_the_strikes_it_stands_for() -> None:
    result = lift(strikes(3), "restricted", "appeal-1", T0, POLICY)
    assert result is not None
    assert next_level(result[0], T0 + POLICY.window + timedelta(days=1)) == "warning"
