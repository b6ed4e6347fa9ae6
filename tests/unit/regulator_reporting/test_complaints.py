"""Complaint reporting: every overdue ticket, and handling statistics per period (DS-12, GA-15, PI-50).

Events go through the engine with the service's own routes; the statistics timer runs with an
injected clock (never a sleep) over the in-memory twin of the store, and `restart` builds a new
process (handlers, sequencer, timers) over the same store and ledger.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from devtools.testing.events import cloud_event
from services.regulator_reporting.config import ReportingSettings
from services.regulator_reporting.domain import complaints
from services.regulator_reporting.entrypoints.app import DEFINITION
from services.regulator_reporting.handlers import ReportingHandlers
from services.regulator_reporting.outbound import SOURCE
from services.regulator_reporting.sequencer import Sequencer
from services.regulator_reporting.timers import ComplaintStatisticsTimer
from services.regulator_reporting.verification import StreamRecord, verify_stream
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.messaging.operations import Operations
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.regulator_reporting.factories import POLICY, ring, signer
from tests.unit.regulator_reporting.fakes import MemoryLedger, StoreQueue

PROVIDER = "provider-test"
KEY = signer()
HOUR = timedelta(hours=1)
BEIJING = complaints.BEIJING
# 2026-11 in Beijing: 2026-10-31T16:00Z .. 2026-11-30T16:00Z
NOV_START = datetime(2026, 11, 1, tzinfo=BEIJING)
DEC_START = datetime(2026, 12, 1, tzinfo=BEIJING)
COUNTING_SINCE = datetime(2026, 10, 20, tzinfo=BEIJING)  # when the service first counted (its first start)
STATS = complaints.StatisticsPolicy(period="month", delay_ms=3_600_000)
MONTHLY = dataclasses.replace(POLICY, statistics=STATS)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class World:
    """One reporting process over a store and a ledger that outlive it (`restart` makes a new one)."""

    def __init__(
        self, now: datetime = NOV_START + timedelta(days=10), since: datetime | None = COUNTING_SINCE
    ) -> None:
        self.clock = Clock(now)
        self.since = {} if since is None else {PROVIDER: ms(since)}  # stored: outlives restarts
        self.store = InMemoryAggregateStore()
        self.publisher = InMemoryPublisher()
        self.ledger = MemoryLedger()
        self.offset = 0
        self.restart()

    def restart(self) -> None:
        self.handlers = ReportingHandlers(self.ledger, MONTHLY, self.clock)
        config = EngineConfig(
            service="regulator_reporting", source=SOURCE, provider_ids=frozenset({PROVIDER})
        )
        routes = [r.bind(self.handlers) for r in DEFINITION.routes]
        self.engine = Engine(config, routes, self.store, self.publisher, clock=self.clock)
        queue = StoreQueue(self.store, self.since)
        self.sequencer = Sequencer(queue, self.ledger, KEY, MONTHLY, self.clock)
        self.statistics = ComplaintStatisticsTimer(
            queue,
            Operations(self.store, self.publisher).apply,
            self.handlers,
            self.clock,
            [PROVIDER],
            STATS,
        )

    async def send(self, type_: str, data: dict[str, Any], event_id: str | None = None) -> int:
        """Deliver one complaints event; return how many were dead-lettered."""
        self.offset += 1
        event = cloud_event(type_, data, subject=data["complaint_id"], event_id=event_id)
        value = json.dumps(event).encode()
        record = RawRecord(topics.COMPLAINT, 0, self.offset, data["complaint_id"].encode(), value)
        return (await self.engine.process([record])).dead_letters

    async def reports(self) -> list[dict[str, Any]]:
        """Number what is due now; return every report of the ledger, in sequence order."""
        while await self.sequencer.round():
            pass
        docs = sorted(self.ledger.docs.values(), key=lambda d: d["sequence"])
        return [json.loads(d["value"])["data"] for d in docs]

    def verified(self) -> bool:
        records = [
            StreamRecord(str(d["sequence"]), d["value"].encode()) for _, d in sorted(self.ledger.docs.items())
        ]
        return verify_stream(records, ring(KEY)).ok


def of(reports: list[dict[str, Any]], category: str) -> list[dict[str, Any]]:
    return [r for r in reports if r["category"] == category]


def received(
    cid: str, at: datetime, kind: str = "complaint", due: timedelta = 15 * 24 * HOUR
) -> dict[str, Any]:
    return {
        "complaint_id": cid,
        "kind": kind,
        "target": {"type": "content", "id": f"content-{cid}"},
        "complainant_user_id": "user-1",
        "received_at": at.isoformat(),
        "due_at": (at + due).isoformat(),
        "due_rule": {"working_days": 15, "calendar": "test", "source": "README"},
    }


def resolved(cid: str, at: datetime, due: datetime, kind: str = "complaint") -> dict[str, Any]:
    return {
        "complaint_id": cid,
        "kind": kind,
        "outcome": "upheld",
        "reasons": ["checked"],
        "resolver": {"username": "op", "role": "operator"},
        "resolved_at": at.isoformat(),
        "due_at": due.isoformat(),
        "in_time": at <= due,
    }


def overdue(cid: str, due: datetime, detected: datetime, kind: str = "complaint") -> dict[str, Any]:
    return {"complaint_id": cid, "kind": kind, "due_at": due.isoformat(), "detected_at": detected.isoformat()}


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# --------------------------------------------------------------------------- overdue tickets


async def test_an_overdue_ticket_is_reported_once_however_often_it_is_delivered() -> None:
    world = World()
    t0 = NOV_START + timedelta(days=1)
    due = t0 + 15 * 24 * HOUR
    assert await world.send(T.COMPLAINT_RECEIVED, received("c-1", t0)) == 0
    assert await world.reports() == []  # a ticket in time is counted, not reported

    late = overdue("c-1", due, due + timedelta(seconds=5))
    assert await world.send(T.COMPLAINT_OVERDUE, late, event_id="ev-overdue") == 0
    await world.send(T.COMPLAINT_OVERDUE, late, event_id="ev-overdue")  # redelivered
    await world.send(T.COMPLAINT_OVERDUE, late)  # re-emitted with another event id
    await world.send(T.COMPLAINT_RESOLVED, resolved("c-1", due + HOUR, due))  # resolved late afterwards

    [report] = of(await world.reports(), "complaint_overdue")
    assert report["articles"] == ["DS-12", "GA-15"]
    assert report["facts"] == {
        "complaint_id": "c-1",
        "kind": "complaint",
        "due_at": due.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "detected_at": (due + timedelta(seconds=5))
        .astimezone(UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z"),
        "incident_key": "complaint_overdue/c-1",
        "part": 1,
    }
    assert datetime.fromisoformat(report["occurred_at"]) == due  # the deadline is when it went wrong
    assert len(await world.reports()) == 1
    assert world.verified()


async def test_an_overdue_rights_request_is_reported_under_pi_50() -> None:
    world = World()
    t0 = NOV_START + timedelta(days=1)
    await world.send(T.COMPLAINT_OVERDUE, overdue("r-1", t0, t0 + HOUR, kind="rights_request"))
    [report] = await world.reports()
    assert (report["category"], report["articles"]) == ("complaint_overdue", ["DS-12", "GA-15", "PI-50"])


async def test_a_ticket_resolved_in_time_is_never_reported_on_its_own() -> None:
    world = World()
    t0 = NOV_START + timedelta(days=1)
    await world.send(T.COMPLAINT_RECEIVED, received("c-1", t0))
    await world.send(T.COMPLAINT_RESOLVED, resolved("c-1", t0 + HOUR, t0 + 15 * 24 * HOUR))
    assert await world.reports() == []


# --------------------------------------------------------------------------- statistics


async def november(world: World) -> None:
    """Five tickets in November 2026 (Beijing): each figure at least once, two kinds."""
    t0 = NOV_START + timedelta(days=2)
    due = t0 + 15 * 24 * HOUR
    for cid in ("c-1", "c-2", "c-3"):
        await world.send(T.COMPLAINT_RECEIVED, received(cid, t0))
    await world.send(T.COMPLAINT_RECEIVED, received("a-1", t0, kind="appeal"))
    await world.send(T.COMPLAINT_RESOLVED, resolved("c-1", t0 + HOUR, due))  # in time
    await world.send(T.COMPLAINT_OVERDUE, overdue("c-2", due, due + timedelta(seconds=5)))
    await world.send(T.COMPLAINT_RESOLVED, resolved("c-2", due + HOUR, due))  # late
    await world.send(T.COMPLAINT_OVERDUE, overdue("a-1", due, due + timedelta(seconds=5), kind="appeal"))
    await world.send(T.COMPLAINT_RECEIVED, received("c-1", t0))  # re-emitted: counted once


def figures(report: dict[str, Any]) -> dict[str, Any]:
    return {"totals": report["facts"]["totals"], "by_kind": report["facts"]["by_kind"]}


async def test_a_period_is_reported_once_after_it_ended_with_each_figure_by_kind() -> None:
    world = World()
    await november(world)

    world.clock.now = DEC_START + timedelta(minutes=30)  # ended, but late events still settle
    await world.statistics.tick()
    stats = of(await world.reports(), "complaint_statistics")
    assert all(r["facts"]["period_id"] == "2026-10" for r in stats)  # only October (empty) so far

    world.clock.now = DEC_START + HOUR
    assert await world.statistics.tick() == 1
    [nov] = [
        r for r in of(await world.reports(), "complaint_statistics") if r["facts"]["period_id"] == "2026-11"
    ]
    zero = {"received": 0, "resolved_in_time": 0, "resolved_late": 0, "overdue": 0}
    assert figures(nov) == {
        "totals": {"received": 4, "resolved_in_time": 1, "resolved_late": 1, "overdue": 2},
        "by_kind": {
            "complaint": {"received": 3, "resolved_in_time": 1, "resolved_late": 1, "overdue": 1},
            "report": zero,
            "appeal": {"received": 1, "resolved_in_time": 0, "resolved_late": 0, "overdue": 1},
            "rights_request": zero,
        },
    }
    assert nov["facts"]["period"] == "month"
    assert nov["facts"]["timezone"] == "Asia/Shanghai"
    assert (nov["facts"]["period_start"], nov["facts"]["period_end"]) == (
        "2026-10-31T16:00:00.000Z",
        "2026-11-30T16:00:00.000Z",
    )
    assert nov["articles"] == ["DS-12", "GA-15"]  # no rights request handled: PI-50 not engaged
    assert nov["facts"]["incident_key"] == "complaint_statistics/month/2026-11"

    before = len(await world.reports())
    world.clock.now += timedelta(minutes=5)
    assert await world.statistics.tick() == 0  # the same figures: nothing new
    assert len(await world.reports()) == before
    assert world.verified()


async def test_the_statistics_timer_survives_a_restart_and_late_events_make_a_later_part() -> None:
    world = World()
    await november(world)
    world.restart()  # down across the end of the month
    world.clock.now = DEC_START + 3 * HOUR
    world.restart()
    await world.statistics.tick()
    [first] = of(await world.reports(), "complaint_statistics")
    assert first["facts"]["totals"]["received"] == 4

    world.restart()  # a new process recounts the same figures: no second report
    assert await world.statistics.tick() == 0
    assert len(of(await world.reports(), "complaint_statistics")) == 1

    # A resolution dated in November arrives after the month was reported: part 2, cumulative.
    nov_30 = DEC_START - timedelta(minutes=1)
    await world.send(T.COMPLAINT_RESOLVED, resolved("c-3", nov_30, nov_30 + HOUR))
    world.restart()
    assert await world.statistics.tick() == 1
    first_again, second = of(await world.reports(), "complaint_statistics")
    assert first_again == first
    assert second["facts"]["part"] == 2
    assert second["facts"]["previous_report_id"] == first["report_id"]
    assert second["facts"]["incident_key"] == "complaint_statistics/month/2026-11#2"
    assert second["facts"]["totals"]["resolved_in_time"] == 2
    assert world.verified()


async def test_a_period_boundary_is_cut_in_beijing_time() -> None:
    world = World()
    last_nov_minute = datetime(2026, 11, 30, 15, 59, tzinfo=UTC)  # 23:59 in Beijing, 30 Nov
    first_dec_minute = datetime(2026, 11, 30, 16, 1, tzinfo=UTC)  # 00:01 in Beijing, 1 Dec (UTC: Nov)
    await world.send(T.COMPLAINT_RECEIVED, received("c-nov", last_nov_minute))
    await world.send(T.COMPLAINT_RECEIVED, received("c-dec", first_dec_minute, kind="rights_request"))

    world.clock.now = DEC_START + HOUR
    await world.statistics.tick()
    world.clock.now = datetime(2027, 1, 1, 1, tzinfo=BEIJING)
    await world.statistics.tick()
    by_period = {r["facts"]["period_id"]: r for r in of(await world.reports(), "complaint_statistics")}
    assert by_period["2026-11"]["facts"]["by_kind"]["complaint"]["received"] == 1
    assert by_period["2026-11"]["facts"]["by_kind"]["rights_request"]["received"] == 0
    assert by_period["2026-12"]["facts"]["by_kind"]["rights_request"]["received"] == 1
    assert by_period["2026-12"]["facts"]["by_kind"]["complaint"]["received"] == 0
    assert by_period["2026-12"]["articles"] == ["DS-12", "GA-15", "PI-50"]


@pytest.mark.parametrize(
    ("kind", "at", "period_id", "start"),
    [
        (
            "day",
            datetime(2026, 11, 30, 16, 0, tzinfo=UTC),
            "2026-12-01",
            datetime(2026, 12, 1, tzinfo=BEIJING),
        ),
        (
            "day",
            datetime(2026, 11, 30, 15, 59, tzinfo=UTC),
            "2026-11-30",
            datetime(2026, 11, 30, tzinfo=BEIJING),
        ),
        # Sunday 2026-11-29 23:30 in Beijing is still ISO week 48 (Monday 23 Nov first)
        (
            "week",
            datetime(2026, 11, 29, 15, 30, tzinfo=UTC),
            "2026-W48",
            datetime(2026, 11, 23, tzinfo=BEIJING),
        ),
        (
            "week",
            datetime(2026, 11, 29, 16, 0, tzinfo=UTC),
            "2026-W49",
            datetime(2026, 11, 30, tzinfo=BEIJING),
        ),
        (
            "week",
            datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
            "2026-W53",
            datetime(2026, 12, 28, tzinfo=BEIJING),
        ),
        ("month", datetime(2026, 12, 31, 16, 0, tzinfo=UTC), "2027-01", datetime(2027, 1, 1, tzinfo=BEIJING)),
    ],
)
def test_periods_are_days_iso_weeks_or_months_in_beijing_time(
    kind: complaints.PeriodKind, at: datetime, period_id: str, start: datetime
) -> None:
    p = complaints.period_of(ms(at), kind)
    assert (p.id, p.start_ms) == (period_id, ms(start))
    assert complaints.period_of(p.end_ms, kind).start_ms == p.end_ms  # periods tile without gaps
    assert complaints.period_of(p.end_ms - 1, kind) == p


def test_the_period_is_configurable_and_defaults_to_the_month() -> None:
    seed = base64.b64encode(bytes(32)).decode()
    assert ReportingSettings(signing_key=seed, key_id="k1").policy().statistics == STATS
    weekly = ReportingSettings(
        signing_key=seed, key_id="k1", complaint_statistics_period="week", complaint_statistics_delay_s=60
    )
    assert weekly.policy().statistics == complaints.StatisticsPolicy(period="week", delay_ms=60_000)
    with pytest.raises(ValidationError):
        ReportingSettings(signing_key=seed, key_id="k1", complaint_statistics_period="year")


async def test_periods_that_ended_before_the_first_start_are_not_reported() -> None:
    # A new deployment on 10 December: November's figures were never seen, so no November report;
    # December is reported from the first start on, and says so (`counted_from`).
    first_start = datetime(2026, 12, 10, 9, tzinfo=BEIJING)
    world = World(now=first_start, since=None)
    assert await world.statistics.tick() == 0
    assert await world.reports() == []

    world.clock.now = datetime(2027, 1, 1, 1, tzinfo=BEIJING)
    world.restart()  # the first start is stored, not taken from the restart
    assert await world.statistics.tick() == 1
    [dec] = of(await world.reports(), "complaint_statistics")
    assert dec["facts"]["period_id"] == "2026-12"
    assert datetime.fromisoformat(dec["facts"]["counted_from"]) == first_start
