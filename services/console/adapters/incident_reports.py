"""The dashboard's incident board over the `projections` collection (documents `incident_report:`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.console.adapters.mongo import count
from services.console.domain.incident_reports import (
    AT_RISK_WINDOW_MS,
    BOARD_ROWS,
    IncidentBoard,
    IncidentReportView,
)

Doc = dict[str, Any]

# Declared in the ServiceDefinition beside PROJECTION_INDEXES: the two lists sort on their own field.
INCIDENT_REPORT_INDEXES: tuple[tuple[str, ...], ...] = (
    ("state.kind", "state.provider_id", "state.late"),
    ("state.open_due_ms",),
    ("state.sequence",),
)


class MongoIncidentBoard:
    """Late and at-risk incidents of one provider."""

    def __init__(self, collection: AsyncCollection[Doc], provider_id: str, rows: int = BOARD_ROWS) -> None:
        """Show the incidents of `provider_id`, `rows` per list."""
        self.collection = collection
        self.provider_id = provider_id
        self.rows = rows

    def _incidents(self) -> Doc:
        return {"state.kind": "incident_report", "state.provider_id": self.provider_id}

    async def _list(self, flt: Doc, field: str, direction: int) -> tuple[IncidentReportView, ...]:
        # Exclusion projection only (the embedded store flattens included nested fields).
        cursor = self.collection.find(flt, {"state.reports": 0}).sort(field, direction).limit(self.rows)
        return tuple([IncidentReportView.model_validate(d["state"]) async for d in cursor])

    async def board(self, now: datetime) -> IncidentBoard:
        """Incidents with a late report (latest first) and those due within the hour (earliest first)."""
        late = {**self._incidents(), "state.late": True}
        limit_ms = int(now.timestamp() * 1000) + AT_RISK_WINDOW_MS
        risky = {**self._incidents(), "state.open_due_ms": {"$ne": None, "$lte": limit_ms}}
        return IncidentBoard(
            now_ms=limit_ms - AT_RISK_WINDOW_MS,
            late_count=await count(self.collection, late),
            late=await self._list(late, "state.sequence", DESCENDING),
            at_risk_count=await count(self.collection, risky),
            at_risk=await self._list(risky, "state.open_due_ms", ASCENDING),
        )
