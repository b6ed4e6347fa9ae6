"""The complaints inbox (DS-12, GA-15, PI-50; appeals DS-10.3, GA-14.2): inbox, ticket and target, resolve.

Everyone signed in reads (viewers too, as for the review queue); operators and admins resolve.
A resolution is a `dsgov.complaint.resolution-submitted` command (audit record + outbox in one
write, at most one per ticket); the ticket shows "resolution sent" until the complaints service's
`dsgov.complaint.resolved` arrives.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.domain.complaint_resolution import (
    LEVELS_AFTER,
    MAX_REASON,
    OUTCOMES,
    FormProblem,
    ResolutionForm,
    can_lift,
    can_take_down,
    check_resolution,
)
from services.console.domain.complaints_view import TICKET_KINDS, TICKET_STATUSES, is_past_due
from services.console.domain.roles import Permission
from services.console.ports import ConsentQuery
from services.console.ports_complaints import ComplaintQuery
from services.console.web.base import ConsoleDeps, Guarded, client_of, deps_of, principal_of, render
from services.console.web.pages_consents import consent_url
from services.console.web.pages_review import review_url

WAIT_FOR_RESOLUTION_MS = 120_000  # the ticket page refreshes itself this long after a resolution was sent
NOTICES = {
    "resolution_submitted": "Resolution sent. The ticket is resolved once the complaints service confirms.",
    "resolution_deferred": (
        "Resolution recorded. The broker did not confirm in time; it will be sent automatically."
    ),
    "resolution_duplicate": "This resolution form was already submitted; nothing was sent twice.",
}


def complaint_url(complaint_id: str, action: str = "ticket") -> str:
    """The URL of a ticket's page or action (ids are percent-encoded)."""
    return f"/complaints/{action}/{quote(complaint_id, safe='')}"


async def inbox(request: Request, status: str = "open", kind: str = "", page: str = "1") -> Response:
    deps = deps_of(request)
    error = None
    if status not in TICKET_STATUSES:
        error, status = f"Unknown view; choose one of {', '.join(TICKET_STATUSES)}.", "open"
    if kind and kind not in TICKET_KINDS:
        error, kind = f"Unknown kind; choose one of {', '.join(TICKET_KINDS)}.", ""
    number = int(page) if re.fullmatch(r"\d{1,6}", page) and int(page) >= 1 else 1
    query = ComplaintQuery(status, kind, number)
    result = await deps.complaints.inbox(query)
    now = deps.clock()
    return await render(
        request,
        "complaints.html",
        400 if error else 200,
        query=query,
        result=result,
        past_due={str(t["complaint_id"]) for t in result.items if is_past_due(t, now)},
        pages=max(1, -(-result.total // query.page_size)),
        statuses=TICKET_STATUSES,
        kinds=TICKET_KINDS,
        complaint_url=complaint_url,
        error=error,
    )


async def ticket(request: Request, complaint_id: str, notice: str = "") -> Response:
    return await _ticket_page(request, complaint_id, notice=NOTICES.get(notice))


async def resolve(
    request: Request,
    complaint_id: str,
    outcome: Annotated[str, Form(max_length=32)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    lift_sanction: Annotated[str, Form(max_length=8)] = "",
    level_after: Annotated[str, Form(max_length=16)] = "none",
    takedown: Annotated[str, Form(max_length=8)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    deps = deps_of(request)
    state = await deps.complaints.ticket(complaint_id)
    if state is None:
        return await _not_found(request, complaint_id)
    form = ResolutionForm(outcome, reason, lift_sanction == "on", level_after, takedown == "on")
    try:
        resolution = check_resolution(state, form)
        request_uuid = str(uuid.UUID(request_id))
    except FormProblem as problem:
        return await _ticket_page(request, complaint_id, problem.status, error=problem.message, form=form)
    except ValueError:
        message = "The form is incomplete; reload the page and try again."
        return await _ticket_page(request, complaint_id, 400, error=message, form=form)
    result = await deps.complaints.resolve(
        state,
        resolution,
        actor=principal_of(request).actor,
        request_id=request_uuid,
        client=client_of(request),
        now=deps.clock(),
    )
    if not result.accepted:
        who = (result.existing or {}).get("actor") or {}
        message = f"A resolution of this ticket was already sent by {who.get('username', 'someone')}."
        return await _ticket_page(request, complaint_id, 409, error=message)
    notice = "resolution_duplicate" if result.duplicate else "resolution_submitted"
    if not result.published:
        notice = "resolution_deferred"
    return RedirectResponse(f"{complaint_url(complaint_id)}?notice={notice}", status_code=303)


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/complaints", Permission.READ)(inbox)
    r.get("/complaints/ticket/{complaint_id:path}", Permission.READ)(ticket)
    r.post("/complaints/resolve/{complaint_id:path}", Permission.RESOLVE)(resolve)


async def target_history(deps: ConsoleDeps, state: dict[str, Any]) -> dict[str, Any]:
    """What the console's own read models know about the ticket's target (and the appellant).

    sanction / user / appeals: the user's sanctions and lifts; generation: the review items of the
    request; content: the review items about that content id; consent: the consent; personal
    information (rights requests): the person's identity decision and consents as subject.
    """
    kind = state.get("target_type")
    target = str(state.get("target_id") or "")
    person = str(state.get("complainant_user_id") or "")
    found: dict[str, Any] = {"sanctions": None, "review_items": None, "consent": None, "identity": None}
    found |= {"consents": None, "sanctions_of": ""}
    sanctioned = target if kind == "user" else (person if kind == "sanction" or can_lift(state) else "")
    if sanctioned:
        found["sanctions_of"] = sanctioned
        found["sanctions"] = await deps.complaints.sanctions(sanctioned)
    if kind == "generation" and target:
        found["review_items"] = await deps.complaints.review_items(request_id=target)
    if kind == "content" and target:
        found["review_items"] = await deps.complaints.review_items(content_id=target)
    if kind == "consent" and target:
        found["consent"] = await deps.read_model.consent(target)
    if kind == "personal_information" and person:
        found["identity"] = await deps.complaints.identity(person)
        page = await deps.read_model.search(ConsentQuery(subject_id=person, page_size=20), deps.clock())
        found["consents"] = page.items
    return found


def display_status(state: dict[str, Any], sent: dict[str, Any] | None) -> str:
    """What the ticket page and the inbox show: open, resolution sent, or resolved."""
    if state.get("status") == "resolved":
        return "resolved"
    return "resolution sent" if sent else "open"


async def _ticket_page(
    request: Request, complaint_id: str, status_code: int = 200, **context: Any
) -> Response:
    deps = deps_of(request)
    state = await deps.complaints.ticket(complaint_id)
    if state is None:
        return await _not_found(request, complaint_id)
    sent = await deps.complaints.sent(complaint_id)
    shown = display_status(state, sent)
    recent = deps.now_ms() - WAIT_FOR_RESOLUTION_MS
    waiting = shown == "resolution sent" and int((sent or {}).get("at_ms", 0)) > recent
    return await render(
        request,
        "complaint.html",
        status_code,
        ticket=state,
        shown=shown,
        past_due=is_past_due(state, deps.clock()),
        sent=sent,
        waiting=waiting,
        history=await target_history(deps, state),
        can_lift=can_lift(state),
        can_take_down=can_take_down(state),
        outcomes=OUTCOMES,
        levels_after=LEVELS_AFTER,
        form=context.pop("form", ResolutionForm("", "")),
        request_id=uuid.uuid4().hex,
        complaint_url=complaint_url,
        consent_url=consent_url,
        review_url=review_url,
        **context,
    )


async def _not_found(request: Request, complaint_id: str) -> Response:
    return await render(
        request, "error.html", 404, title="Not found", message=f"No ticket with id {complaint_id!r} is known."
    )
