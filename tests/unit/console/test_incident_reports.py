"""Incident reports on the console (CIR-4; issue 14): late reports and reports at risk on the dashboard.

The read model is folded from `dsgov.report.submitted` through the console's declared route on the
in-memory engine (re-sends change nothing, other categories make no view), and the dashboard shows
the incidents with a late report and those whose owed report is due within the hour, with counts.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from services.console.domain.commands import SOURCE
from services.console.domain.incident_reports import (
    IncidentReportView,
    at_risk,
    board,
    fold_incident_report,
)
from services.console.entrypoints.app import DEFINITION
from services.console.incident_projection import incident_report_aggregate_id
from services.console.projections import Projections
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.reporting import ReportSubmitted
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.console.conftest import sign_in_as
from tests.unit.console.fakes import NOW, Fakes

PROVIDER = "provider-test"
HOUR = timedelta(hours=1)


def z(when: datetime) -> str:
    return when.isoformat()


def report(
    incident: str,
    sequence: int,
    stage: str,
    *,
    late: bool | None = None,
    due: datetime | None = None,
    category: str = "incident",
    **facts: Any,
) -> dict[str, Any]:
    """A report payload as regulator_reporting publishes it (chain fields are not checked here)."""
    data: dict[str, Any] = {
        "report_id": f"rep-{incident}-{sequence}",
        "sequence": sequence,
        "category": category,
        "articles": ["CIR-4"],
        "occurred_at": z(NOW - 5 * HOUR),
        "detected_at": z(NOW - 5 * HOUR),
        "facts": {"incident_id": incident, "stage": stage, "severity": "major", **facts},
        "actions_taken": ["incident_reported"],
        "prev_hash": "0" * 64,
        "hash": "a" * 64,
        "signature": "c2ln",
        "key_id": "k1",
    }
    if category == "incident":
        data["severity"] = "major"
    if due is not None:
        data["due_at"] = z(due)
        data["late"] = late
    return data


def fold(state: IncidentReportView | None, data: dict[str, Any]) -> IncidentReportView | None:
    return fold_incident_report(state, provider_id=PROVIDER, report=ReportSubmitted.model_validate(data))


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


# --------------------------------------------------------------------------- the read model


def test_a_late_initial_report_flags_the_incident_and_a_resend_changes_nothing() -> None:
    initial = report("inc-1", 1, "initial", late=True, due=NOW - HOUR)
    view = fold(None, initial)
    assert view is not None
    assert (view.late, view.late_stages, view.stage, view.due_ms) == (
        True,
        ("initial",),
        "initial",
        ms(NOW - HOUR),
    )
    assert view.open_due_ms is None
    assert fold(view, initial) is None  # re-sent byte-identical: already in the view


def test_a_closed_incident_owes_its_summary_until_it_is_reported() -> None:
    view = fold(None, report("inc-2", 1, "initial", late=False, due=NOW))
    assert view is not None
    assert view.late is False
    summary_due = NOW + timedelta(minutes=40)
    view = fold(view, report("inc-2", 5, "closure", summary_due_at=z(summary_due)))
    assert view is not None
    assert (view.open_due_ms, view.open_stage) == (ms(summary_due), "summary")
    assert at_risk(view, ms(NOW))  # due within the hour
    assert not at_risk(view, ms(NOW - HOUR))  # two hours before the deadline: not yet

    done = fold(
        view,
        report(
            "inc-2",
            9,
            "summary",
            late=False,
            due=summary_due,
            summary_due_at=z(summary_due),
            summary_at=z(NOW),
        ),
    )
    assert done is not None
    assert (done.open_due_ms, done.stage, done.late) == (None, "summary", False)


def test_an_older_report_arriving_later_keeps_the_latest_stage_but_counts_as_late() -> None:
    closure = fold(None, report("inc-3", 7, "closure", summary_due_at=z(NOW + 30 * 24 * HOUR)))
    assert closure is not None
    view = fold(closure, report("inc-3", 2, "initial", late=True, due=NOW - 2 * HOUR))
    assert view is not None
    assert (view.stage, view.sequence, view.late, view.late_stages) == ("closure", 7, True, ("initial",))
    assert [r.sequence for r in view.reports] == [2, 7]


def test_reports_of_other_categories_make_no_incident_view() -> None:
    assert fold(None, report("x", 1, "initial", category="takedown")) is None


def test_the_board_counts_late_and_at_risk_incidents() -> None:
    late = fold(None, report("late-1", 3, "initial", late=True, due=NOW - HOUR))
    risky = fold(None, report("risky-1", 4, "closure", summary_due_at=z(NOW + 30 * timedelta(minutes=1))))
    overdue = fold(None, report("over-1", 2, "closure", summary_due_at=z(NOW - timedelta(minutes=5))))
    calm = fold(None, report("calm-1", 1, "closure", summary_due_at=z(NOW + 10 * 24 * HOUR)))
    views = [v for v in (late, risky, overdue, calm) if v is not None]
    b = board(views, ms(NOW))
    assert (b.late_count, [v.incident_id for v in b.late]) == (1, ["late-1"])
    assert (b.at_risk_count, [v.incident_id for v in b.at_risk]) == (2, ["over-1", "risky-1"])


# --------------------------------------------------------------------------- through the engine


async def test_the_console_route_folds_incident_reports_into_one_document_per_incident() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    config = EngineConfig(service="console", source=SOURCE, provider_ids=frozenset({PROVIDER}))
    engine = Engine(config, [r.bind(Projections(lambda: NOW)) for r in DEFINITION.routes], store, publisher)

    def record(offset: int, data: dict[str, Any], event_id: str) -> RawRecord:
        event = {
            "specversion": "1.0",
            "id": event_id,
            "source": "dsgov/regulator-reporting",
            "type": T.REPORT_SUBMITTED,
            "time": z(NOW),
            "subject": data["report_id"],
            "datacontenttype": "application/json",
            "providerid": PROVIDER,
            "data": data,
        }
        return RawRecord(
            topics.REGULATOR_REPORTS, 0, offset, data["report_id"].encode(), json.dumps(event).encode()
        )

    initial = report("inc-9", 1, "initial", late=True, due=NOW - HOUR)
    batch = [
        record(0, initial, "ev-1"),
        record(1, initial, "ev-1"),  # redelivered
        record(2, report("inc-9", 2, "closure", summary_due_at=z(NOW + HOUR / 2)), "ev-2"),
        record(3, report("other", 3, "initial", category="takedown"), "ev-3"),
    ]
    result = await engine.process(batch)
    assert result.dead_letters == 0

    doc = store.docs[incident_report_aggregate_id(PROVIDER, "inc-9")]
    state = doc["state"]  # the fields the dashboard's store queries use
    assert (state["kind"], state["provider_id"], state["late"]) == ("incident_report", PROVIDER, True)
    assert (state["stage"], state["sequence"], state["open_due_ms"]) == ("closure", 2, ms(NOW + HOUR / 2))
    assert len(state["reports"]) == 2
    views = [d["state"] for d in store.docs.values() if d.get("state")]
    assert [v["incident_id"] for v in views] == ["inc-9"]  # the takedown report made no view


# --------------------------------------------------------------------------- the dashboard over HTTP


async def test_the_dashboard_lists_late_and_at_risk_incidents_with_counts(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    for data in (
        report("inc-late", 4, "initial", late=True, due=NOW - 3 * HOUR),
        report("inc-soon", 6, "closure", summary_due_at=z(NOW + timedelta(minutes=20))),
        report(
            "inc-past",
            5,
            "summary_reminder",
            due=NOW - timedelta(minutes=1),
            late=False,
            summary_due_at=z(NOW - timedelta(minutes=1)),
        ),
        report("inc-calm", 2, "closure", summary_due_at=z(NOW + 20 * 24 * HOUR)),
    ):
        view = fold(None, data)
        assert view is not None
        fakes.deps.incidents.put(view)  # type: ignore[attr-defined]

    sign_in_as(fakes, client, "vera", "viewer")
    page = await client.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    late_block = html.split('id="count-incidents-late"')[1].split("</div>")[0]
    risk_block = html.split('id="count-incidents-at-risk"')[1].split("</div>")[0]
    assert '<div class="n">1' in late_block
    assert '<div class="n">2' in risk_block
    at_risk_table = html.split('id="incidents-at-risk"')[1].split("</table>")[0]
    assert at_risk_table.index("inc-past") < at_risk_table.index("inc-soon")  # earliest deadline first
    assert "inc-calm" not in at_risk_table
    assert at_risk_table.count("overdue") == 1  # inc-past's summary deadline already passed
    late_table = html.split('id="incidents-late"')[1].split("</table>")[0]
    assert "inc-late" in late_table
    assert "initial" in late_table
    assert "inc-soon" not in late_table


async def test_the_dashboard_with_no_incident_reports_shows_zero_counts(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    sign_in_as(fakes, client, "vera", "viewer")
    html = (await client.get("/dashboard")).text
    assert '<div class="n">0' in html.split('id="count-incidents-late"')[1].split("</div>")[0]
    assert 'id="incidents-at-risk"' not in html
