"""Complaint handling: overdue tickets and handling statistics per period (DS-12, GA-15, PI-50).

A provider must handle complaints and reports in the time it published (DS-12, GA-15) and answer
personal-information rights requests (PI-50). Every `dsgov.complaint.*` event folds into one
*ticket* (key `complaint_overdue/<complaint_id>`): a ticket is reported only once it is overdue
(category `complaint_overdue`). The handling statistics of a period (category
`complaint_statistics`) are counted from the tickets once the period ended (plus a settle delay
for late events), by the statistics timer.

Periods are calendar days, ISO weeks (Monday first) or months in Beijing time. China has kept
UTC+8 without daylight saving since 1991, so a fixed offset is exact for every date dsgov sees.

Pure: times are passed in (epoch ms).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Literal

from shared.storage.aggregates import AggregateState

PeriodKind = Literal["day", "week", "month"]
KINDS: tuple[str, ...] = ("complaint", "report", "appeal", "rights_request")
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
TIMEZONE_NAME = "Asia/Shanghai"


@dataclass(frozen=True)
class StatisticsPolicy:
    """How handling statistics are cut and when they are counted (see `ReportingSettings`)."""

    period: PeriodKind = "month"
    delay_ms: int = 3_600_000  # late events of a period settle this long after its end


# --------------------------------------------------------------------------- observations


@dataclass(frozen=True)
class Received:
    """`complaint.received`: the ticket exists with its published deadline."""

    complaint_id: str
    kind: str
    received_ms: int
    due_ms: int


@dataclass(frozen=True)
class Resolved:
    """`complaint.resolved`: answered, in time or late."""

    complaint_id: str
    kind: str
    resolved_ms: int
    due_ms: int
    in_time: bool


@dataclass(frozen=True)
class Overdue:
    """`complaint.overdue`: the published deadline passed unresolved."""

    complaint_id: str
    kind: str
    due_ms: int
    detected_ms: int


ComplaintObservation = Received | Resolved | Overdue


class Ticket(AggregateState):
    """What reporting knows of one ticket; the first value of each fact stays (redelivery is a no-op).

    Field names are queried by the statistics count (`state.acc.complaint.<name>`): keep them.
    """

    complaint_id: str
    kind: str
    due_ms: int | None = None
    received_ms: int | None = None
    resolved_ms: int | None = None
    in_time: bool | None = None
    overdue_ms: int | None = None


def observe(current: Ticket | None, obs: ComplaintObservation) -> Ticket:
    """The ticket after one more event; an event seen before changes nothing."""
    t = current or Ticket(complaint_id=obs.complaint_id, kind=obs.kind)
    changes: dict[str, object] = {}
    if t.due_ms is None:
        changes["due_ms"] = obs.due_ms
    if isinstance(obs, Received) and t.received_ms is None:
        changes["received_ms"] = obs.received_ms
    elif isinstance(obs, Resolved) and t.resolved_ms is None:
        changes.update(resolved_ms=obs.resolved_ms, in_time=obs.in_time)
    elif isinstance(obs, Overdue) and t.overdue_ms is None:
        changes["overdue_ms"] = obs.detected_ms
    return t.model_copy(update=changes) if changes else t


# --------------------------------------------------------------------------- periods


@dataclass(frozen=True)
class Period:
    """One reporting period: `[start_ms, end_ms)` in Beijing time, named like `2026-11`."""

    kind: PeriodKind
    id: str
    start_ms: int
    end_ms: int


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def period_of(ms: int, kind: PeriodKind) -> Period:
    """The period containing the instant `ms`, cut in Beijing time."""
    local = datetime.fromtimestamp(ms / 1000, UTC).astimezone(BEIJING)
    day = datetime(local.year, local.month, local.day, tzinfo=BEIJING)
    if kind == "day":
        return Period(kind, day.date().isoformat(), _ms(day), _ms(day + timedelta(days=1)))
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(kind, f"{year}-W{week:02d}", _ms(start), _ms(start + timedelta(days=7)))
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return Period(kind, f"{start.year}-{start.month:02d}", _ms(start), _ms(end))


def reportable(period: Period, since_ms: int) -> bool:
    """A period is reported only when dsgov was counting before it ended (`since_ms`: first start).

    Periods that ended before the first start would report figures dsgov never saw.
    """
    return period.end_ms > since_ms


def counted_from(period: Period, since_ms: int) -> int | None:
    """When counting began inside `period` (its report says so), else None."""
    return since_ms if period.start_ms < since_ms < period.end_ms else None


def last_closed(now_ms: int, policy: StatisticsPolicy) -> Period:
    """The latest period whose end plus the settle delay has passed at `now_ms`."""
    current = period_of(now_ms - policy.delay_ms, policy.period)
    return period_of(current.start_ms - 1, policy.period)


# --------------------------------------------------------------------------- counting


class KindCounts(AggregateState):
    """The handling figures of one kind of ticket in one period."""

    kind: str
    received: int = 0
    resolved_in_time: int = 0
    resolved_late: int = 0
    overdue: int = 0


class Statistics(AggregateState):
    """The handling statistics of one provider in one period (one entry per kind, in KINDS order)."""

    period: PeriodKind
    period_id: str
    start_ms: int
    end_ms: int
    by_kind: tuple[KindCounts, ...]
    counted_from_ms: int | None = None  # set when counting started inside the period (first deployment)


def _within(ms: int | None, period: Period) -> bool:
    return ms is not None and period.start_ms <= ms < period.end_ms


def statistics(period: Period, counts: Iterable[KindCounts]) -> Statistics:
    """Statistics with every known kind listed (zeros included) and unknown kinds after them."""
    by = {c.kind: c for c in counts}
    ordered = [by.pop(k, KindCounts(kind=k)) for k in KINDS] + [by[k] for k in sorted(by)]
    return Statistics(
        period=period.kind,
        period_id=period.id,
        start_ms=period.start_ms,
        end_ms=period.end_ms,
        by_kind=tuple(ordered),
    )


def count(tickets: Iterable[Ticket], period: Period) -> Statistics:
    """The period's statistics over tickets (what the store query computes; used by the in-memory twin).

    received: received in the period; resolved in time / late: resolved in the period; overdue:
    found overdue in the period. Each ticket counts at most once per figure.
    """
    figures: dict[str, dict[str, int]] = {}
    for t in tickets:
        f = figures.setdefault(t.kind, {})
        hits = {
            "received": _within(t.received_ms, period),
            "resolved_in_time": _within(t.resolved_ms, period) and t.in_time is True,
            "resolved_late": _within(t.resolved_ms, period) and t.in_time is False,
            "overdue": _within(t.overdue_ms, period),
        }
        for name, hit in hits.items():
            f[name] = f.get(name, 0) + int(hit)
    return statistics(period, (KindCounts(kind=k, **f) for k, f in figures.items() if any(f.values())))
