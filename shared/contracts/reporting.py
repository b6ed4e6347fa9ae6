"""The signed report stream to the regulator and its acknowledgements (DS-10.3, DS-11, GA-14)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import Payload

ReportCategory = Literal[
    "illegal_content",
    "user_sanction",
    "rumour",
    "takedown",
    "filing",
    "incident",
    "complaint_overdue",
    "complaint_statistics",
]
# Grades of the CAC Measures for Reporting Cybersecurity Incidents: 一般 / 较大 / 重大 / 特别重大.
IncidentSeverity = Literal["general", "relatively_major", "major", "especially_major"]


class ReportSubmitted(Payload):
    """`dsgov.report.submitted`: one report in the per-provider, gap-free, hash-chained stream."""

    report_id: str
    sequence: int = Field(ge=1)
    category: ReportCategory
    articles: list[str]
    occurred_at: AwareDatetime
    detected_at: AwareDatetime
    facts: dict[str, Any] = Field(description="references and hashes, never plaintext identity")
    actions_taken: list[str] = Field(default_factory=list)
    severity: IncidentSeverity | None = Field(default=None, description="`incident` reports: the grade")
    due_at: AwareDatetime | None = Field(
        default=None, description="`incident` reports: the deadline this report answers"
    )
    late: bool | None = Field(
        default=None, description="`incident` reports: numbered after `due_at` (the report says so itself)"
    )
    prev_hash: str = Field(description="hash of the previous report, or 64 zeros for the first")
    hash: str = Field(description="SHA-256 over the RFC 8785 canonical JSON of the report")
    signature: str = Field(description="Ed25519 signature over `hash`, base64")
    key_id: str


class ReportAcknowledged(Payload):
    """`dsgov.report.acknowledged`: the regulator accepted or rejected a report."""

    report_id: str = Field(min_length=1, max_length=256)
    sequence: int = Field(ge=1)
    status: Literal["accepted", "rejected"]
    errors: list[str] = Field(default_factory=list)
