"""Cybersecurity incidents (CAC Measures for Reporting Cybersecurity Incidents, "CIR"; PI-57).

Grades at each published threshold, the 1 h (CII) / 4 h deadline, follow-ups, the reminder and
30-day summary timer across restarts, and late reports flagged in the report itself. Events go
through the engine with the service's own routes; time is the injected clock, never a sleep.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from devtools.testing.events import cloud_event
from services.regulator_reporting.config import ReportingSettings
from services.regulator_reporting.domain import cyber
from services.regulator_reporting.entrypoints.app import DEFINITION
from services.regulator_reporting.handlers import ReportingHandlers
from services.regulator_reporting.outbound import SOURCE
from services.regulator_reporting.sequencer import Sequencer
from services.regulator_reporting.timers import IncidentTimers
from services.regulator_reporting.verification import StreamRecord, verify_stream
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.messaging.operations import Operations
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.regulator_reporting.factories import NOW, POLICY, ring, signer
from tests.unit.regulator_reporting.fakes import MemoryLedger, StoreQueue

PROVIDER = "provider-test"
KEY = signer()
DAY = timedelta(days=1)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class World:
    """One reporting process over a store and a ledger that outlive it (`restart` makes a new one)."""

    def __init__(self) -> None:
        self.clock = Clock(NOW)
        self.store = InMemoryAggregateStore()
        self.publisher = InMemoryPublisher()
        self.ledger = MemoryLedger()
        self.offset = 0
        self.restart()

    def restart(self) -> None:
        self.handlers = ReportingHandlers(self.ledger, POLICY, self.clock)
        config = EngineConfig(
            service="regulator_reporting", source=SOURCE, provider_ids=frozenset({PROVIDER})
        )
        routes = [r.bind(self.handlers) for r in DEFINITION.routes]
        self.engine = Engine(config, routes, self.store, self.publisher, clock=self.clock)
        queue = StoreQueue(self.store)
        self.sequencer = Sequencer(queue, self.ledger, KEY, POLICY, self.clock)
        self.timers = IncidentTimers(
            queue, Operations(self.store, self.publisher).apply, self.handlers, self.clock
        )

    async def send(self, type_: str, data: dict[str, Any]) -> int:
        """Deliver one platform event; return how many were dead-lettered."""
        self.offset += 1
        value = json.dumps(cloud_event(type_, data, subject=data["incident_id"])).encode()
        record = RawRecord(topics.PLATFORM_INCIDENTS, 0, self.offset, data["incident_id"].encode(), value)
        return (await self.engine.process([record])).dead_letters

    async def reports(self) -> list[dict[str, Any]]:
        """Number what is due now; return every report of the ledger, in sequence order."""
        while await self.sequencer.round():
            pass
        docs = sorted(self.ledger.docs.values(), key=lambda d: d["sequence"])
        return [json.loads(d["value"])["data"] for d in docs]


def detected(
    incident_id: str = "inc-1", *, cii: bool = False, detected_at: datetime = NOW, **kw: Any
) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "kind": "data_leak",
        "occurred_at": (detected_at - timedelta(hours=2)).isoformat(),
        "detected_at": detected_at.isoformat(),
        "cii": cii,
        "systems": ["user-db"],
        "description": "张三的订单表被导出",
        **kw,
    }


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- grading


@pytest.mark.parametrize(
    ("people", "loss", "severity"),
    [
        (None, None, "general"),
        (999_999, 4_999_999, "general"),
        (1_000_000, None, "relatively_major"),  # "以上" includes the figure itself
        (None, 5_000_000, "relatively_major"),
        (9_999_999, 19_999_999, "relatively_major"),
        (10_000_000, None, "major"),
        (None, 20_000_000, "major"),
        (99_999_999, 99_999_999, "major"),
        (100_000_000, None, "especially_major"),
        (None, 100_000_000, "especially_major"),
        (0, 250_000_000, "especially_major"),  # the higher of the two figures decides
    ],
)
def test_incidents_are_graded_at_each_published_threshold(
    people: int | None, loss: int | None, severity: str
) -> None:
    assert cyber.grade(people, loss, cyber.Thresholds()).severity == severity


def test_the_grade_names_the_figure_it_rests_on() -> None:
    g = cyber.grade(10_000_000, 5_000_000, cyber.Thresholds())
    assert (g.severity, g.basis) == ("major", ("affected_people>=10000000",))


def settings(**kw: Any) -> ReportingSettings:
    seed = base64.b64encode(bytes(32)).decode()
    return ReportingSettings(signing_key=seed, key_id="k1", **kw)


def test_the_figures_are_configurable_stricter_but_never_looser_than_published() -> None:
    stricter = settings(incident_people=(500_000, 5_000_000, 50_000_000)).policy().incidents
    assert cyber.grade(500_000, None, stricter.thresholds).severity == "relatively_major"

    with pytest.raises(ValidationError, match="may not exceed the published figures"):
        settings(incident_loss_cny=(6_000_000, 20_000_000, 100_000_000))
    with pytest.raises(ValidationError):
        settings(incident_report_within_h=5)  # CIR Art. 4: at most 4 hours


# --------------------------------------------------------------------------- reports


@pytest.mark.parametrize(("cii", "within"), [(True, timedelta(hours=1)), (False, timedelta(hours=4))])
async def test_a_detected_incident_is_reported_at_once_with_its_grade_and_deadline(
    cii: bool, within: timedelta
) -> None:
    world = World()
    detected_at = NOW - timedelta(minutes=10)

    assert (
        await world.send(
            T.INCIDENT_DETECTED, detected(cii=cii, detected_at=detected_at, affected_people=2_000_000)
        )
        == 0
    )
    [report] = await world.reports()

    assert report["category"] == "incident"
    assert report["severity"] == "relatively_major"
    assert when(report["due_at"]) == detected_at + within  # CIR Art. 4: 1 h for CII, else 4 h
    assert report["late"] is False
    assert report["articles"] == ["CIR-4", "PI-57"]  # personal information leaked: PI-57 too
    facts = report["facts"]
    assert (facts["stage"], facts["cii"], facts["severity_basis"]) == (
        "initial",
        cii,
        ["affected_people>=1000000"],
    )
    assert "张三" not in json.dumps(report, ensure_ascii=False)  # the description only as SHA-256
    assert len(facts["description_sha256"]) == 1


async def test_an_update_makes_a_follow_up_with_the_new_grade_and_a_repeat_changes_nothing() -> None:
    world = World()
    await world.send(T.INCIDENT_DETECTED, detected(affected_people=500_000))
    [first] = await world.reports()  # the initial report went out at once
    update = {"incident_id": "inc-1", "affected_people": 12_000_000, "systems": ["order-db"]}

    await world.send(T.INCIDENT_UPDATED, update)
    await world.send(T.INCIDENT_UPDATED, update)  # re-emitted by the platform
    again, follow_up = await world.reports()

    assert again == first

    assert first["severity"] == "general"
    assert follow_up["severity"] == "major"
    assert follow_up["facts"]["stage"] == "follow_up"
    assert follow_up["facts"]["part"] == 2
    assert follow_up["facts"]["previous_report_id"] == first["report_id"]
    assert follow_up["facts"]["systems"] == ["order-db", "user-db"]
    assert "due_at" not in follow_up  # a follow-up answers no deadline of its own
    assert "late" not in follow_up


async def test_an_update_of_an_incident_never_detected_is_dead_lettered() -> None:
    world = World()
    assert await world.send(T.INCIDENT_UPDATED, {"incident_id": "ghost", "affected_people": 1}) == 1
    assert await world.reports() == []


async def test_the_reminder_and_summary_timers_survive_restarts_and_the_summary_comes_before_day_30() -> None:
    world = World()
    await world.send(T.INCIDENT_DETECTED, detected())
    await world.reports()
    await world.send(T.INCIDENT_CLOSED, {"incident_id": "inc-1", "closed_at": NOW.isoformat()})
    _, closure = await world.reports()
    assert closure["facts"]["stage"] == "closure"
    assert when(closure["facts"]["summary_due_at"]) == NOW + 30 * DAY

    world.restart()
    world.clock.now = NOW + 22 * DAY  # before the reminder: nothing fires
    assert await world.timers.tick() == 0

    world.restart()  # a new process reads the timer from the store
    world.clock.now = NOW + 23 * DAY
    assert await world.timers.tick() == 1
    reminder = (await world.reports())[-1]
    assert reminder["facts"]["stage"] == "summary_reminder"
    assert (when(reminder["due_at"]), reminder["late"]) == (NOW + 30 * DAY, False)

    world.restart()
    world.clock.now = NOW + 29 * DAY
    assert await world.timers.tick() == 1
    summary = (await world.reports())[-1]
    assert summary["facts"]["stage"] == "summary"
    assert (when(summary["due_at"]), summary["late"]) == (NOW + 30 * DAY, False)
    assert "summary_submitted" in summary["actions_taken"]

    world.clock.now = NOW + 40 * DAY
    assert await world.timers.tick() == 0  # no timer is left
    assert len(await world.reports()) == 4
    records = [
        StreamRecord(str(d["sequence"]), d["value"].encode()) for _, d in sorted(world.ledger.docs.items())
    ]
    assert verify_stream(records, ring(KEY)).ok  # the regulator's verify accepts incident reports


async def test_reports_that_would_be_late_say_so_themselves() -> None:
    world = World()
    detected_at = NOW - timedelta(hours=5)  # the platform told us after the 4 hours had passed
    await world.send(T.INCIDENT_DETECTED, detected(detected_at=detected_at))

    [initial] = await world.reports()
    assert (when(initial["due_at"]), initial["late"]) == (detected_at + timedelta(hours=4), True)

    await world.send(T.INCIDENT_CLOSED, {"incident_id": "inc-1", "closed_at": (NOW - 31 * DAY).isoformat()})
    assert (await world.reports())[-1]["facts"]["stage"] == "closure"

    assert await world.timers.tick() == 1  # long past day 30: straight to the summary, flagged late
    summary = (await world.reports())[-1]
    assert summary["facts"]["stage"] == "summary"
    assert (when(summary["due_at"]), summary["late"]) == (NOW - DAY, True)
    assert "summary_reminder_at" not in summary["facts"]
