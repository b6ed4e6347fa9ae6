"""The enforcement ladder (DS-10.3, GA-14.2): strikes on a user, sanctions, and their expiry.

Each confirmed violation is a strike (a blocked input or output, or a reviewer's rejection).
The number of strikes within a rolling window picks the rung: by default 1 → `warning`,
2 → `restricted`, 3 → `suspended`, 4 or more → `closed`. A strike whose category is marked
severe goes straight to `closed`. A new strike never lowers a sanction still in force.

What each level means for later requests (`refuses`):

- `warning`: nothing is refused; the user has been told;
- `restricted`: the biometric editing functions (face swap, face/pose manipulation, voice
  cloning/conversion, DS-14.2) are refused until `until`;
- `suspended`: every request is refused until `until`;
- `closed`: every request is refused, for ever (no `until`; reopening is a decision outside
  this service).

A sanction lapses by itself when `until` passes; strikes age out of the window. An upheld appeal
(DS-12, `dsgov.complaint.resolved` with `lift_sanction`) lifts it: the strikes so far are forgiven
and the ladder starts again from the level the resolution names (`none`: from the start), as if
that many strikes had been counted at the moment of the lifting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from services.generation_review.domain.service_types import biometric_editing
from shared.storage.aggregates import AggregateState

LEVELS: Final = ("warning", "restricted", "suspended", "closed")
STRIKE_LIMIT: Final = 200  # strikes kept per user; far more than any window needs


@dataclass(frozen=True)
class LadderPolicy:
    """The ladder, the window and the durations (all configuration)."""

    ladder: tuple[str, ...] = LEVELS
    window: timedelta = timedelta(days=30)
    durations: Mapping[str, timedelta] = field(
        default_factory=lambda: {
            "warning": timedelta(0),
            "restricted": timedelta(days=7),
            "suspended": timedelta(days=30),
        }
    )
    severe_categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Strike:
    """One confirmed violation."""

    strike_id: str  # the decision id: one strike per decision
    at: datetime
    category: str
    request_id: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sanction:
    """A sanction level with its end (None: no end, or nothing to end for a warning)."""

    level: str
    until: datetime | None
    strikes: int = 0


class StrikeRecord(AggregateState):
    """A strike as kept on the user."""

    strike_id: str
    at: datetime
    category: str
    request_id: str
    reasons: tuple[str, ...] = ()


class SanctionRecord(AggregateState):
    """A sanction as it was imposed (the user's history)."""

    strike_id: str
    level: str
    until: datetime | None
    strikes: int
    at: datetime


class LiftRecord(AggregateState):
    """An upheld appeal that lifted a sanction."""

    complaint_id: str
    level_before: str | None
    level_after: str | None
    at: datetime


class Standing(AggregateState):
    """A user's place on the ladder: the current level, its end, strikes and sanctions so far."""

    level: str | None = None
    until: datetime | None = None
    strikes: tuple[StrikeRecord, ...] = ()
    sanctions: tuple[SanctionRecord, ...] = ()
    forgiven_until: datetime | None = None  # strikes at or before this moment no longer count
    base: int = 0  # strikes the ladder restarts from after a lifting, counted at `forgiven_until`
    lifts: tuple[LiftRecord, ...] = ()


def _rank(level: str | None) -> int:
    return LEVELS.index(level) if level in LEVELS else -1


def new_standing() -> Standing:
    """A user with no strikes."""
    return Standing()


def in_force(standing: Standing | None, now: datetime) -> Sanction | None:
    """The sanction that restricts the user at `now` (a lapsed one, or a warning, restricts nothing)."""
    if not standing or not standing.level:
        return None
    level, until = standing.level, standing.until
    if level == "closed":
        return Sanction(level, None)
    if level in ("restricted", "suspended") and until is not None and until > now:
        return Sanction(level, until)
    return None


def refuses(sanction: Sanction | None, service_type: str) -> bool:
    """True when `sanction` forbids a request of `service_type`."""
    if sanction is None:
        return False
    if sanction.level == "restricted":
        return biometric_editing(service_type)
    return sanction.level in ("suspended", "closed")


def apply_strike(
    standing: Standing | None, strike: Strike, policy: LadderPolicy
) -> tuple[Standing, Sanction] | None:
    """The standing after `strike` and the sanction it brings; None when this strike was counted already."""
    current = standing or new_standing()
    if any(s.strike_id == strike.strike_id for s in current.strikes):
        return None
    record = StrikeRecord(
        strike_id=strike.strike_id,
        at=strike.at,
        category=strike.category,
        request_id=strike.request_id,
        reasons=strike.reasons,
    )
    strikes = (*current.strikes, record)[-STRIKE_LIMIT:]
    since = strike.at - policy.window
    forgiven = current.forgiven_until
    counted = sum(1 for s in strikes if s.at > since and (forgiven is None or s.at > forgiven))
    if forgiven is not None and forgiven > since:
        counted += current.base  # the level an appeal restarted the ladder from, while in the window
    level = _level_for(counted, strike.category, policy)
    until = _until(level, strike.at, policy)
    active = in_force(current, strike.at)
    if active and _rank(active.level) >= _rank(level):
        # A new strike never shortens or lowers what is in force.
        level = active.level
        until = None if active.until is None else max(active.until, until or active.until)
    sanction = Sanction(level, until, counted)
    history = SanctionRecord(
        strike_id=strike.strike_id, level=level, until=until, strikes=counted, at=strike.at
    )
    updated = current.model_copy(
        update={
            "level": level,
            "until": until,
            "strikes": strikes,
            "sanctions": (*current.sanctions, history)[-STRIKE_LIMIT:],
        }
    )
    return updated, sanction


def lift(
    standing: Standing | None, level_after: str | None, complaint_id: str, now: datetime, policy: LadderPolicy
) -> tuple[Standing, str | None, str | None] | None:
    """The standing after an upheld appeal, with the levels before and after; None when applied already.

    The level after is never above the level before (an appeal cannot raise a sanction); a
    `restricted` or `suspended` level after runs for its usual duration from now.
    """
    current = standing or new_standing()
    if any(lr.complaint_id == complaint_id for lr in current.lifts):
        return None
    before = current.level
    after = level_after if _rank(level_after) < _rank(before) else _lower(before)
    record = LiftRecord(complaint_id=complaint_id, level_before=before, level_after=after, at=now)
    updated = current.model_copy(
        update={
            "level": after,
            "until": _until(after, now, policy) if after else None,
            "forgiven_until": now,
            "base": _rank(after) + 1,
            "lifts": (*current.lifts, record)[-STRIKE_LIMIT:],
        }
    )
    return updated, before, after


def _lower(level: str | None) -> str | None:
    # Asked to lift to the same level or above it: one rung down instead (never up).
    rank = _rank(level)
    return LEVELS[rank - 1] if rank > 0 else None


def _level_for(counted: int, category: str, policy: LadderPolicy) -> str:
    if category in policy.severe_categories:
        return "closed"
    ladder = policy.ladder or LEVELS
    return ladder[min(counted, len(ladder)) - 1]


def _until(level: str, at: datetime, policy: LadderPolicy) -> datetime | None:
    if level == "closed":
        return None
    duration = policy.durations.get(level, timedelta(0))
    return at + duration if duration > timedelta(0) else None
