"""Cybersecurity incident reports as the console sees them (CIR-4; issue 14: late reports flagged).

One read model per incident, folded from the `incident` reports on `dsgov.regulator.reports`
(`dsgov.report.submitted`): its grade, the stage of its latest report, the deadline that report
answered, whether any of its reports was late (the report says so itself: `late`), and the
deadline it still owes. Reports are seen only once they are submitted, so the only deadline a
report can show as still open is the 30-day summary after closure (`facts.summary_due_at` without
`facts.summary_at`). The dashboard lists the incidents with a late report and those whose open
deadline is within the next hour (or already past): at risk of a late report.

Pure: the time is passed in. Field names are the stored ones the dashboard queries
(`state.kind`, `state.provider_id`, `state.late`, `state.open_due_ms`, `state.sequence`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from shared.contracts.reporting import ReportSubmitted
from shared.storage.aggregates import AggregateState

AT_RISK_WINDOW_MS = 3_600_000  # "due within the next hour"
REPORTS_KEPT = 50  # report entries kept per incident (initial, follow-ups, closure, reminder, summary)
BOARD_ROWS = 20  # rows listed per dashboard table; the counts cover all


class ReportEntry(AggregateState):
    """One report of the incident, as far as the board needs it."""

    report_id: str
    sequence: int
    stage: str | None = None
    due_ms: int | None = None
    late: bool = False


class IncidentReportView(AggregateState):
    """The reports of one cybersecurity incident, summed up for the dashboard."""

    kind: Literal["incident_report"] = "incident_report"
    provider_id: str
    incident_id: str
    severity: str | None = None
    stage: str | None = None  # of the latest report
    sequence: int  # of the latest report
    due_ms: int | None = None  # the deadline the latest deadline-answering report answered
    late: bool = False  # any report of the incident was numbered after its deadline
    late_stages: tuple[str, ...] = ()
    open_due_ms: int | None = None  # the deadline still owed (the 30-day summary), if any
    open_stage: str | None = None
    reports: tuple[ReportEntry, ...] = ()


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _fact_ms(facts: dict[str, Any], name: str) -> int | None:
    value = facts.get(name)
    if not isinstance(value, str):
        return None
    try:
        return _ms(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def incident_id_of(report: ReportSubmitted) -> str | None:
    """The incident a report is about; None for other categories (they have no board entry)."""
    value = report.facts.get("incident_id") if report.category == "incident" else None
    return value if isinstance(value, str) and value else None


def fold_incident_report(
    state: IncidentReportView | None, *, provider_id: str, report: ReportSubmitted
) -> IncidentReportView | None:
    """The incident's view with one more report; None when the report is already in it (a re-send).

    Reports may arrive out of order (a re-send after a later report): the latest by sequence gives
    the stage and the open deadline, every report counts for `late`.
    """
    incident_id = incident_id_of(report)
    if incident_id is None:
        return None
    entries = state.reports if state else ()
    if any(e.report_id == report.report_id for e in entries):
        return None
    stage = report.facts.get("stage")
    entry = ReportEntry(
        report_id=report.report_id,
        sequence=report.sequence,
        stage=stage if isinstance(stage, str) else None,
        due_ms=_ms(report.due_at) if report.due_at else None,
        late=bool(report.late),
    )
    kept = tuple(sorted((*entries, entry), key=lambda e: e.sequence))[-REPORTS_KEPT:]
    late = (state.late if state else False) or entry.late
    late_stages = tuple(
        sorted({*(state.late_stages if state else ()), *([entry.stage or "?"] if entry.late else [])})
    )
    if state is not None and state.sequence > report.sequence:  # an older report: only `late` may change
        return state.model_copy(update={"reports": kept, "late": late, "late_stages": late_stages})
    summary_due = _fact_ms(report.facts, "summary_due_at")
    owed = summary_due is not None and "summary_at" not in report.facts
    answered = entry.due_ms if entry.due_ms is not None else (state.due_ms if state else None)
    return IncidentReportView(
        provider_id=provider_id,
        incident_id=incident_id,
        severity=report.severity,
        stage=entry.stage,
        sequence=report.sequence,
        due_ms=answered,
        late=late,
        late_stages=late_stages,
        open_due_ms=summary_due if owed else None,
        open_stage="summary" if owed else None,
        reports=kept,
    )


def at_risk(view: IncidentReportView, now_ms: int) -> bool:
    """The incident owes a report whose deadline is within the next hour or already past."""
    return view.open_due_ms is not None and view.open_due_ms <= now_ms + AT_RISK_WINDOW_MS


@dataclass(frozen=True)
class IncidentBoard:
    """The dashboard's incident section: late and at-risk incidents, counted and listed."""

    now_ms: int
    late_count: int
    late: tuple[IncidentReportView, ...]  # most recent report first
    at_risk_count: int
    at_risk: tuple[IncidentReportView, ...]  # earliest deadline first
    window_ms: int = AT_RISK_WINDOW_MS


def board(views: Iterable[IncidentReportView], now_ms: int, rows: int = BOARD_ROWS) -> IncidentBoard:
    """The board over read models (what the store queries compute; the in-memory twin uses it)."""
    every = list(views)
    late = sorted((v for v in every if v.late), key=lambda v: -v.sequence)
    risky = sorted(
        (v for v in every if at_risk(v, now_ms)), key=lambda v: (v.open_due_ms or 0, v.incident_id)
    )
    return IncidentBoard(now_ms, len(late), tuple(late[:rows]), len(risky), tuple(risky[:rows]))


class IncidentBoardSource(Protocol):
    """Where the dashboard reads the incident board from (one provider's view)."""

    async def board(self, now: datetime) -> IncidentBoard:
        """Late and at-risk incidents at `now`."""
        ...
