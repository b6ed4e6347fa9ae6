"""Complaints, reports (举报), appeals (申诉) and personal-information rights requests (DS-12, GA-15, PI-50).

Inbound on `dsgov.platform.complaints`, outbound on `dsgov.complaint`; the console resolves tickets
with `dsgov.complaint.resolution-submitted` on `dsgov.console.commands`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from shared.contracts.base import SHA256_PATTERN, Actor, Payload
from shared.contracts.generation import SanctionLevel

ComplaintKind = Literal["complaint", "report", "appeal", "rights_request"]
TargetType = Literal["content", "user", "generation", "sanction", "consent", "personal_information"]
ComplaintCategory = Literal[
    "illegal_content",
    "rumour",
    "label_missing",
    "infringement",
    "personal_information",
    "sanction_dispute",
    "other",
]
Outcome = Literal["upheld", "partly_upheld", "rejected"]
ActionType = Literal["lift_sanction", "takedown"]


class ComplaintTarget(Payload):
    """What the complaint is about: a reference, never the thing itself."""

    type: TargetType
    id: str = Field(min_length=1, max_length=256)


class EvidenceRef(Payload):
    """A piece of evidence by hash (the files stay with the platform)."""

    sha256: str = Field(pattern=SHA256_PATTERN)
    kind: str = Field(min_length=1, max_length=64)


class ComplaintSubmitted(Payload):
    """`dsgov.complaint.submitted`: a person complains, reports, appeals or exercises a PI right."""

    complaint_id: str = Field(min_length=1, max_length=256)
    kind: ComplaintKind
    complainant_user_id: str | None = Field(
        default=None, max_length=256, description="optional for `report`: anonymous reports are allowed"
    )
    target: ComplaintTarget
    category: ComplaintCategory | None = None
    text: str = Field(default="", max_length=10_000)
    evidence: list[EvidenceRef] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _complainant_unless_anonymous_report(self) -> ComplaintSubmitted:
        if self.kind != "report" and not self.complainant_user_id:
            raise ValueError(
                f"complainant_user_id is required for a {self.kind} (only reports may be anonymous)"
            )
        return self


class DueRule(Payload):
    """The published deadline rule a ticket follows (DS-12, GA-15: the provider publishes it)."""

    working_days: int = Field(ge=1)
    calendar: str = Field(
        description="the working-day calendar, e.g. `PRC State Council (chinese-calendar 1.11.0)`"
    )
    source: str = Field(description="where the number comes from")
    calendar_gap: list[int] = Field(
        default_factory=list,
        description="years the calendar does not know: counted Monday to Friday (the earliest deadline)",
    )


class ComplaintReceived(Payload):
    """`dsgov.complaint.received`: the ticket exists, with its published deadline."""

    complaint_id: str
    kind: ComplaintKind
    target: ComplaintTarget
    category: ComplaintCategory | None = None
    complainant_user_id: str | None = None
    received_at: AwareDatetime
    due_at: AwareDatetime
    due_rule: DueRule


class ResolutionAction(Payload):
    """An effect of a resolution: lift a sanction (appeals) or take content down (reports)."""

    type: ActionType
    user_id: str | None = Field(default=None, max_length=256, description="for `lift_sanction`")
    content_id: str | None = Field(default=None, max_length=256, description="for `takedown`")
    level_after: SanctionLevel | Literal["none"] = Field(
        default="none",
        description="for `lift_sanction`: where the ladder starts again (`none`: from the start)",
    )

    @model_validator(mode="after")
    def _reference_for_the_type(self) -> ResolutionAction:
        if self.type == "lift_sanction" and not self.user_id:
            raise ValueError("lift_sanction needs user_id")
        if self.type == "takedown" and not self.content_id:
            raise ValueError("takedown needs content_id")
        return self


class ComplaintResolutionSubmitted(Payload):
    """`dsgov.complaint.resolution-submitted` (console command): an operator resolves a ticket."""

    complaint_id: str = Field(min_length=1, max_length=256)
    outcome: Outcome
    reason: str = Field(min_length=1, max_length=2000)
    actions: list[ResolutionAction] = Field(default_factory=list, max_length=20)
    actor: Actor


class HeldData(Payload):
    """What dsgov holds about a person (PI-50): references and masked forms only."""

    identity_status: str | None = None
    identity_method: str | None = None
    masked_identifier: str | None = None
    age_group: str | None = None
    consents_as_subject: list[str] = Field(default_factory=list, description="consent ids, newest last")
    sanction_level: str | None = None
    review_decisions: int = 0
    recent_decision_ids: list[str] = Field(default_factory=list)


class ComplaintResolved(Payload):
    """`dsgov.complaint.resolved`: the outcome, its reasons and effects, and who decided."""

    complaint_id: str
    kind: ComplaintKind
    outcome: Outcome
    reasons: list[str]
    actions: list[ResolutionAction] = Field(default_factory=list)
    resolver: Actor
    resolved_at: AwareDatetime
    due_at: AwareDatetime
    in_time: bool
    target: ComplaintTarget | None = None
    answer: HeldData | None = Field(default=None, description="for a rights request: what dsgov holds")


class ComplaintOverdue(Payload):
    """`dsgov.complaint.overdue`: the published deadline passed with the ticket unresolved."""

    complaint_id: str
    kind: ComplaintKind
    due_at: AwareDatetime
    detected_at: AwareDatetime


class SanctionLifted(Payload):
    """`dsgov.user.sanction-lifted` (on `dsgov.review`): an upheld appeal lifted a sanction (DS-10.3)."""

    user_id: str
    complaint_id: str
    level_before: SanctionLevel | Literal["none"]
    level_after: SanctionLevel | Literal["none"]
