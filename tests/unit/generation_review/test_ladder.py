"""The enforcement ladder: strikes, levels, the window, severe categories, expiry (DS-10.3, GA-14.2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.generation_review.domain.ladder import (
    LadderPolicy,
    Standing,
    Strike,
    apply_strike,
    in_force,
    refuses,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
POLICY = LadderPolicy(severe_categories=frozenset({"terrorism"}))


def strike(n: int, at: datetime, category: str = "fraud") -> Strike:
    return Strike(f"d-{n}", at, category, f"r-{n}", ("prohibited_content",))


def strikes(*ats: datetime, policy: LadderPolicy = POLICY) -> tuple[Standing | None, list[Any]]:
    standing: Standing | None = None
    sanctions = []
    for n, at in enumerate(ats):
        result = apply_strike(standing, strike(n, at), policy)
        assert result is not None
        standing, sanction = result
        sanctions.append(sanction)
    return standing, sanctions


def test_the_default_ladder_climbs_warning_restricted_suspended_closed() -> None:
    days = [T0 + timedelta(days=d) for d in range(5)]
    _, sanctions = strikes(*days)
    assert [s.level for s in sanctions] == ["warning", "restricted", "suspended", "closed", "closed"]
    assert [s.strikes for s in sanctions] == [1, 2, 3, 4, 5]
    assert sanctions[0].until is None  # a warning restricts nothing
    assert sanctions[1].until == days[1] + timedelta(days=7)
    assert sanctions[2].until == days[2] + timedelta(days=30)
    assert sanctions[3].until is None  # closed: for ever


def test_a_severe_category_closes_at_the_first_strike() -> None:
    result = apply_strike(None, strike(1, T0, "terrorism"), POLICY)
    assert result is not None
    standing, sanction = result
    assert (sanction.level, sanction.until) == ("closed", None)
    assert in_force(standing, T0 + timedelta(days=10_000)) is not None


def test_strikes_outside_the_window_do_not_count() -> None:
    _, sanctions = strikes(T0, T0 + timedelta(days=31))
    assert [s.level for s in sanctions] == ["warning", "warning"]
    assert sanctions[1].strikes == 1


def test_a_sanction_lapses_when_until_passes() -> None:
    standing, [_, restricted] = strikes(T0, T0 + timedelta(days=1))
    assert restricted.until is not None
    assert in_force(standing, restricted.until - timedelta(seconds=1)) is not None
    assert in_force(standing, restricted.until) is None


def test_a_new_strike_never_lowers_what_is_in_force() -> None:
    policy = LadderPolicy(durations={"suspended": timedelta(days=90), "restricted": timedelta(days=7)})
    standing, sanctions = strikes(T0, T0 + timedelta(days=1), T0 + timedelta(days=2), policy=policy)
    assert sanctions[-1].level == "suspended"
    later = T0 + timedelta(days=40)  # the earlier strikes aged out: the count alone says warning
    result = apply_strike(standing, strike(9, later), policy)
    assert result is not None
    assert (result[1].level, result[1].until) == ("suspended", sanctions[-1].until)


def test_the_same_strike_counts_once() -> None:
    standing, _ = strikes(T0)
    assert apply_strike(standing, strike(0, T0), POLICY) is None


def test_a_configured_ladder_and_durations_are_used() -> None:
    policy = LadderPolicy(ladder=("suspended", "closed"), durations={"suspended": timedelta(hours=1)})
    _, sanctions = strikes(T0, T0 + timedelta(minutes=1), policy=policy)
    assert [(s.level, s.until) for s in sanctions] == [
        ("suspended", T0 + timedelta(hours=1)),
        ("closed", None),
    ]


@pytest.mark.parametrize(
    ("level", "service_type", "refused"),
    [
        ("warning", "face_swap", False),
        ("restricted", "face_swap", True),
        ("restricted", "voice_cloning", True),
        ("restricted", "text_dialogue", False),
        ("suspended", "text_dialogue", True),
        ("closed", "image_generation", True),
    ],
)
def test_what_each_level_refuses(level: str, service_type: str, refused: bool) -> None:
    from services.generation_review.domain.ladder import Sanction

    assert refuses(Sanction(level, T0), service_type) is refused
    assert refuses(None, service_type) is False
