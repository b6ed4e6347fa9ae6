"""The published handling deadlines per ticket kind (DS-12, GA-15: the provider sets and publishes them).

No statute fixes these numbers (regulations.md, note 6); the defaults follow the 15-working-day
practice of GB/T 35273-2020 §8.7 for personal-information requests and use it for every kind. Each
is configuration (`DSGOV_COMPLAINTS_DAYS_<KIND>`), and the rule a ticket follows travels with it
(`dsgov.complaint.received.due_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts.complaints import ComplaintKind

SOURCES: dict[ComplaintKind, str] = {
    "complaint": "DS-12, GA-15: provider-published time limit (default 15 working days)",
    "report": "DS-12, GA-15: provider-published time limit (default 15 working days)",
    "appeal": "DS-10.3, GA-14.2, DS-12: provider-published time limit for appeals (default 15 working days)",
    "rights_request": "PI-50; GB/T 35273-2020 §8.7 practice: 15 working days (not mandatory)",
}
REASON_ARTICLES: dict[ComplaintKind, str] = {
    "complaint": "DS-12",
    "report": "DS-12",
    "appeal": "DS-10.3",
    "rights_request": "PI-50",
}


@dataclass(frozen=True)
class DeadlineRules:
    """Working days allowed per kind of ticket."""

    complaint: int = 15
    report: int = 15
    appeal: int = 15
    rights_request: int = 15

    def days(self, kind: ComplaintKind) -> int:
        """The working days allowed for `kind`."""
        return int(getattr(self, kind))
