"""The incident-report read model's route: `dsgov.report.submitted` on `dsgov.regulator.reports` (CIR-4).

Kept apart from `projections.py` (registered in `entrypoints/app.py` with one route). Reports of
other categories share one sink key and change nothing.
"""

from __future__ import annotations

from services.console.domain.incident_reports import IncidentReportView, fold_incident_report, incident_id_of
from services.console.projections import Projections
from shared.contracts.reporting import ReportSubmitted
from shared.messaging.codec import Inbound
from shared.messaging.routing import Outcome

INCIDENT_REPORT_PREFIX = "incident_report:"


def incident_report_aggregate_id(provider_id: str, incident_id: str) -> str:
    """The read-model document of an incident's reports."""
    return f"{INCIDENT_REPORT_PREFIX}{provider_id}/{incident_id}"


def incident_report_key(event: Inbound[ReportSubmitted]) -> str:
    """Incident reports by incident id; every other report on one sink document."""
    incident_id = incident_id_of(event.data)
    return incident_report_aggregate_id(event.event.providerid, incident_id or "-not-an-incident")


async def on_incident_report(
    _: Projections, state: IncidentReportView | None, event: Inbound[ReportSubmitted]
) -> Outcome[IncidentReportView]:
    """An `incident` report: its stage, deadline and `late` flag join the incident's view."""
    return Outcome(fold_incident_report(state, provider_id=event.event.providerid, report=event.data))
