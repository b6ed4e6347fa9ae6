"""The resolve form of a ticket and the command it sends (DS-12, GA-15; appeals DS-10.3, GA-14.2). Pure.

The console checks the same fit rules the complaints service applies (it refuses a resolution that
does not fit by dead-lettering it), so an operator learns at once instead of waiting for nothing:
a rejected ticket has no effects; only an upheld or partly upheld appeal lifts a sanction, and only
the complainant's own; only a report or complaint about content takes that content down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, cast, get_args

from services.console.domain.commands import SOURCE
from shared.contracts import types as T
from shared.contracts.base import Actor as ContractActor
from shared.contracts.complaints import ComplaintResolutionSubmitted, Outcome, ResolutionAction
from shared.contracts.envelope import CloudEvent, new_event
from shared.messaging.ids import derived_id

RESOLUTION: Final = T.COMPLAINT_RESOLUTION_SUBMITTED
OUTCOMES: Final[tuple[Outcome, ...]] = get_args(Outcome)
LEVELS_AFTER: Final = ("none", "warning", "restricted", "suspended")  # where the ladder starts again
MAX_REASON: Final = 2000

LevelAfter = Literal["none", "warning", "restricted", "suspended"]


@dataclass(frozen=True)
class ResolutionForm:
    """The resolve form as submitted (strings as they came, checkboxes as booleans)."""

    outcome: str
    reason: str
    lift_sanction: bool = False
    level_after: str = "none"
    takedown: bool = False


@dataclass(frozen=True)
class Resolution:
    """A checked resolution, ready to be sent."""

    outcome: Outcome
    reason: str
    actions: tuple[ResolutionAction, ...]


class FormProblem(Exception):
    """What is wrong with the form, with the HTTP status to answer (400 bad form, 409 ticket state)."""

    def __init__(self, status: int, message: str) -> None:
        """A problem to show on the ticket page."""
        super().__init__(message)
        self.status = status
        self.message = message


def can_lift(ticket: Mapping[str, Any]) -> bool:
    """The ticket is an appeal by a known user: an upheld resolution may lift their sanction."""
    return ticket.get("ticket_kind") == "appeal" and bool(ticket.get("complainant_user_id"))


def can_take_down(ticket: Mapping[str, Any]) -> bool:
    """The ticket reports or complains about content: an upheld resolution may take it down."""
    return ticket.get("ticket_kind") in ("report", "complaint") and (
        ticket.get("target_type") == "content" and bool(ticket.get("target_id"))
    )


def check_resolution(ticket: Mapping[str, Any], form: ResolutionForm) -> Resolution:
    """The resolution the form asks for, or `FormProblem`."""
    if ticket.get("status") != "open":
        raise FormProblem(409, "This ticket is resolved already.")
    if form.outcome not in OUTCOMES:
        raise FormProblem(400, f"Choose an outcome: {', '.join(OUTCOMES)}.")
    reason = form.reason.strip()
    if not reason:
        raise FormProblem(400, "A reason is required: it is sent to the person as the answer (DS-12).")
    if len(reason) > MAX_REASON:
        raise FormProblem(400, f"The reason may have at most {MAX_REASON} characters.")
    outcome: Outcome = form.outcome
    actions = _actions(ticket, form)
    if outcome == "rejected" and actions:
        raise FormProblem(400, "A rejected ticket has no effects: untick the actions or change the outcome.")
    return Resolution(outcome, reason, actions)


def _actions(ticket: Mapping[str, Any], form: ResolutionForm) -> tuple[ResolutionAction, ...]:
    actions: list[ResolutionAction] = []
    if form.lift_sanction:
        if not can_lift(ticket):
            raise FormProblem(400, "Only an appeal lifts a sanction, and only the appellant's (DS-10.3).")
        if form.level_after not in LEVELS_AFTER:
            raise FormProblem(400, f"Choose where the ladder starts again: {', '.join(LEVELS_AFTER)}.")
        actions.append(
            ResolutionAction(
                type="lift_sanction",
                user_id=str(ticket["complainant_user_id"]),
                level_after=cast(LevelAfter, form.level_after),
            )
        )
    if form.takedown:
        if not can_take_down(ticket):
            raise FormProblem(400, "Only a report or complaint about content takes content down (DS-12).")
        actions.append(ResolutionAction(type="takedown", content_id=str(ticket["target_id"])))
    return tuple(actions)


def resolution_command_id(request_id: str) -> str:
    """The command id of one submitted resolve form: a resubmission yields the same id."""
    return derived_id(SOURCE, "complaint-resolution", request_id)


def resolution_command(
    ticket: Mapping[str, Any],
    resolution: Resolution,
    *,
    username: str,
    role: str,
    request_id: str,
    now: datetime,
) -> CloudEvent:
    """`dsgov.complaint.resolution-submitted` on `dsgov.console.commands` for a ticket of the read model.

    Keyed by complaint id (the complaints service keeps one ticket per id); it continues the
    ticket's flow and is caused by the latest ticket event the operator saw.
    """
    data = ComplaintResolutionSubmitted(
        complaint_id=str(ticket["complaint_id"]),
        outcome=resolution.outcome,
        reason=resolution.reason,
        actions=list(resolution.actions),
        actor=ContractActor.model_validate({"username": username, "role": role}),
    )
    command_id = resolution_command_id(request_id)
    return new_event(
        type=RESOLUTION,
        source=SOURCE,
        subject=data.complaint_id,
        providerid=str(ticket["provider_id"]),
        data=data,
        id=command_id,
        time=now,
        correlationid=ticket.get("correlation_id") or command_id,
        causationid=ticket.get("last_event_id") or command_id,
    )
