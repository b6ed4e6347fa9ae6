"""The outbound translator: tickets → `dsgov.complaint.received` / `.resolved` / `.overdue` events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.complaints.domain.deadlines import CHINA_TZ, WorkingCalendar
from services.complaints.domain.rules import REASON_ARTICLES, SOURCES
from services.complaints.domain.ticket import Ticket
from shared.contracts import types as T
from shared.contracts.complaints import (
    ComplaintOverdue,
    ComplaintReceived,
    ComplaintResolved,
    DueRule,
    HeldData,
)
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import Inbound
from shared.messaging.replies import Cause, reply

SOURCE = "dsgov/complaints"


def received_event(cause: Inbound[Any], ticket: Ticket, calendar: WorkingCalendar) -> CloudEvent:
    """The ticket exists; here is the deadline and the published rule it follows."""
    rule = DueRule(
        working_days=ticket.working_days,
        calendar=calendar.name,
        source=SOURCES[ticket.kind],
        calendar_gap=list(ticket.calendar_gap),
    )
    data = ComplaintReceived(
        complaint_id=ticket.complaint_id,
        kind=ticket.kind,
        target=ticket.target,
        category=ticket.category,
        complainant_user_id=ticket.complainant_user_id,
        received_at=ticket.received_at,
        due_at=_beijing(ticket.due_at),
        due_rule=rule,
    )
    return _event(cause, T.COMPLAINT_RECEIVED, ticket, data, ticket.received_at)


def resolved_event(cause: Inbound[Any], ticket: Ticket, answer: HeldData | None) -> CloudEvent:
    """The outcome, its reasons and effects, the resolver, and whether it was in time."""
    res = ticket.resolution
    assert res is not None, "resolved_event needs a resolved ticket"
    data = ComplaintResolved(
        complaint_id=ticket.complaint_id,
        kind=ticket.kind,
        outcome=res.outcome,
        reasons=[f"{REASON_ARTICLES[ticket.kind]}: {res.reason}"],
        actions=list(res.actions),
        resolver=res.resolver,
        resolved_at=res.resolved_at,
        due_at=_beijing(ticket.due_at),
        in_time=res.in_time,
        target=ticket.target,
        answer=answer,
    )
    return _event(cause, T.COMPLAINT_RESOLVED, ticket, data, res.resolved_at)


def overdue_event(cause: Cause, ticket: Ticket, now: datetime) -> CloudEvent:
    """The published deadline passed unresolved."""
    data = ComplaintOverdue(
        complaint_id=ticket.complaint_id, kind=ticket.kind, due_at=_beijing(ticket.due_at), detected_at=now
    )
    return _event(cause, T.COMPLAINT_OVERDUE, ticket, data, now)


def _beijing(moment: datetime) -> datetime:
    # Deadlines end a Beijing working day: publish them in that time zone, whatever the store returns.
    return moment.astimezone(CHINA_TZ)


def _event(
    cause: Inbound[Any] | Cause,
    type_: str,
    ticket: Ticket,
    data: ComplaintReceived | ComplaintResolved | ComplaintOverdue,
    time: datetime,
) -> CloudEvent:
    return reply(cause, type=type_, source=SOURCE, subject=ticket.complaint_id, data=data, time=time)
