"""Cybersecurity incidents the platform detects, for reporting to the cyberspace administration.

CONTRACT.md "v1 additions, wave 2" (`dsgov.platform.incidents`); the deadlines and severity grades
follow the CAC Measures for Reporting Cybersecurity Incidents (in force 2025-11-01).
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.contracts.base import Payload


class IncidentDetected(Payload):
    """`dsgov.incident.detected`: the platform detected (or learnt of) a cybersecurity incident."""

    incident_id: str = Field(min_length=1, max_length=256)
    kind: str = Field(
        min_length=1,
        max_length=64,
        description="e.g. `data_leak`, `service_outage`, `intrusion`, `illegal_content_spread`",
    )
    occurred_at: AwareDatetime
    detected_at: AwareDatetime
    cii: bool = Field(description="the provider operates critical information infrastructure (1 h deadline)")
    affected_people: int | None = Field(
        default=None, ge=0, description="people whose personal information leaked or was stolen"
    )
    direct_loss_cny: int | None = Field(default=None, ge=0, description="direct economic loss, whole yuan")
    systems: list[str] = Field(default_factory=list, max_length=1000, description="affected systems, by name")
    description: str | None = Field(
        default=None, max_length=100_000, description="free text; reports carry only its SHA-256"
    )


class IncidentUpdated(Payload):
    """`dsgov.incident.updated`: new facts on an incident (figures replace the earlier ones)."""

    incident_id: str = Field(min_length=1, max_length=256)
    kind: str | None = Field(default=None, min_length=1, max_length=64)
    affected_people: int | None = Field(default=None, ge=0)
    direct_loss_cny: int | None = Field(default=None, ge=0)
    systems: list[str] = Field(default_factory=list, max_length=1000, description="more affected systems")
    description: str | None = Field(default=None, max_length=100_000)


class IncidentClosed(Payload):
    """`dsgov.incident.closed`: handling of the incident ended (the 30-day summary clock starts)."""

    incident_id: str = Field(min_length=1, max_length=256)
    closed_at: AwareDatetime | None = Field(default=None, description="defaults to the event time")
    description: str | None = Field(default=None, max_length=100_000)
