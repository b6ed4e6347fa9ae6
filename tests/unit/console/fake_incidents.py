"""In-memory incident board for the console's unit tests: the domain's `board` over stored views."""

from __future__ import annotations

from datetime import datetime

from services.console.domain.incident_reports import IncidentBoard, IncidentReportView, board


class FakeIncidentBoard:
    """Incident report views by incident id; the same selection and order as the store queries."""

    def __init__(self) -> None:
        self.views: dict[str, IncidentReportView] = {}

    def put(self, view: IncidentReportView) -> None:
        self.views[view.incident_id] = view

    async def board(self, now: datetime) -> IncidentBoard:
        return board(self.views.values(), int(now.timestamp() * 1000))
