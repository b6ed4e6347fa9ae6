"""Tickets: one per `complaint_id`, received with a published deadline, resolved once (DS-12, GA-15, PI-50).

Pure functions over the frozen `Ticket` state; time is passed in. Reasons are tied to articles in
`reasons.py`. Effects of a resolution are only named here (lift a sanction, take content down):
the services that own sanctions and takedowns act on `dsgov.complaint.resolved`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from services.complaints.domain.deadlines import Deadline
from shared.contracts.base import Actor
from shared.contracts.complaints import (
    ComplaintCategory,
    ComplaintKind,
    ComplaintTarget,
    EvidenceRef,
    Outcome,
    ResolutionAction,
)
from shared.storage.state import AggregateState

Status = Literal["open", "resolved"]


class Resolution(AggregateState):
    """How a ticket was resolved, by whom and when."""

    outcome: Outcome
    reason: str
    actions: tuple[ResolutionAction, ...] = ()
    resolver: Actor
    resolved_at: datetime
    in_time: bool


class Ticket(AggregateState):
    """One complaint, report, appeal or rights request and its handling."""

    complaint_id: str
    provider_id: str
    kind: ComplaintKind
    complainant_user_id: str | None = None
    target: ComplaintTarget
    category: ComplaintCategory | None = None
    text: str = ""
    evidence: tuple[EvidenceRef, ...] = ()
    received_at: datetime
    due_at: datetime
    due_at_ms: int  # indexed with `status` for the overdue timer (integers compare exactly in every store)
    working_days: int
    calendar_gap: tuple[int, ...] = ()
    status: Status = "open"
    overdue_at: datetime | None = None
    resolution: Resolution | None = None


@dataclass(frozen=True)
class Intake:
    """A submission as the domain sees it."""

    complaint_id: str
    provider_id: str
    kind: ComplaintKind
    complainant_user_id: str | None
    target: ComplaintTarget
    category: ComplaintCategory | None
    text: str
    evidence: tuple[EvidenceRef, ...]


def receive(intake: Intake, received_at: datetime, deadline: Deadline, working_days: int) -> Ticket:
    """A new open ticket with its published deadline."""
    return Ticket(
        complaint_id=intake.complaint_id,
        provider_id=intake.provider_id,
        kind=intake.kind,
        complainant_user_id=intake.complainant_user_id,
        target=intake.target,
        category=intake.category,
        text=intake.text,
        evidence=intake.evidence,
        received_at=received_at,
        due_at=deadline.due_at,
        due_at_ms=int(deadline.due_at.timestamp() * 1000),
        working_days=working_days,
        calendar_gap=deadline.calendar_gap,
    )


class ResolutionRefused(Exception):
    """A resolution that cannot apply to this ticket (the reason names the rule)."""


def check_actions(ticket: Ticket, outcome: Outcome, actions: tuple[ResolutionAction, ...]) -> None:
    """Refuse effects that do not fit the ticket.

    Only an upheld appeal lifts a sanction, only an upheld report or complaint takes content down,
    and a rejected ticket has no effect.
    """
    if outcome == "rejected" and actions:
        raise ResolutionRefused("a rejected ticket has no actions")
    for action in actions:
        if action.type == "lift_sanction" and ticket.kind != "appeal":
            raise ResolutionRefused("only an appeal can lift a sanction (DS-10.3, GA-14.2)")
        if action.type == "lift_sanction" and action.user_id != ticket.complainant_user_id:
            raise ResolutionRefused("an appeal lifts the complainant's own sanction only")
        if action.type == "takedown" and ticket.kind not in ("report", "complaint"):
            raise ResolutionRefused("only a report or complaint about content leads to a takedown (DS-12)")


def resolve(
    ticket: Ticket,
    outcome: Outcome,
    reason: str,
    actions: tuple[ResolutionAction, ...],
    resolver: Actor,
    now: datetime,
) -> Ticket:
    """The ticket resolved; raises `ResolutionRefused` when already resolved or the actions do not fit."""
    if ticket.status == "resolved":
        raise ResolutionRefused(f"ticket {ticket.complaint_id} is resolved already")
    check_actions(ticket, outcome, actions)
    resolution = Resolution(
        outcome=outcome,
        reason=reason,
        actions=actions,
        resolver=resolver,
        resolved_at=now,
        in_time=now <= ticket.due_at,
    )
    return ticket.model_copy(update={"status": "resolved", "resolution": resolution})


def overdue(ticket: Ticket, now: datetime) -> Ticket | None:
    """The ticket marked overdue once its deadline passed unresolved; None when nothing changes."""
    if ticket.status != "open" or ticket.overdue_at is not None or now <= ticket.due_at:
        return None
    return ticket.model_copy(update={"overdue_at": now})
