"""Settings of the complaints service (env prefix `DSGOV_COMPLAINTS_`)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.complaints.domain.deadlines import Supplement, WorkingCalendar
from services.complaints.domain.rules import DeadlineRules


class ComplaintsSettings(BaseSettings):
    """Published deadlines per kind (working days), the overdue timer, the calendar supplement."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_COMPLAINTS_", extra="ignore")

    days_complaint: int = Field(default=15, ge=1, le=120, description="working days to answer a complaint")
    days_report: int = Field(default=15, ge=1, le=120, description="working days to answer a report")
    days_appeal: int = Field(default=15, ge=1, le=120, description="working days to decide an appeal")
    days_rights_request: int = Field(
        default=15, ge=1, le=120, description="working days to answer a personal-information rights request"
    )
    overdue_interval_s: float = Field(
        default=5.0, gt=0, description="how often overdue tickets are looked for"
    )
    calendar_supplement: Path | None = Field(
        default=None,
        description="JSON {holidays: [...], workdays: [...]} (ISO dates) for years chinese-calendar lacks",
    )

    def rules(self) -> DeadlineRules:
        """The published deadline rules."""
        return DeadlineRules(
            complaint=self.days_complaint,
            report=self.days_report,
            appeal=self.days_appeal,
            rights_request=self.days_rights_request,
        )

    def calendar(self) -> WorkingCalendar:
        """The working-day calendar, with the operator's supplement when one is configured."""
        if self.calendar_supplement is None:
            return WorkingCalendar()
        raw = json.loads(self.calendar_supplement.read_text(encoding="utf-8"))
        return WorkingCalendar(
            Supplement(
                holidays=frozenset(date.fromisoformat(d) for d in raw.get("holidays", [])),
                workdays=frozenset(date.fromisoformat(d) for d in raw.get("workdays", [])),
            )
        )
