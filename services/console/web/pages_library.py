"""The feature library (DS-10.2): browse and search, entry detail with history, propose, approve, disable.

The pages read the library as the review service published it (`dsgov.library.updated`) and act
only by sending `dsgov.library.change-submitted`; an entry changes when the service says so.
Four-eyes: the approve action is not offered to the entry's proposer nor to an account tied to
the proposer (one created, enabled, given its role or its password by the other, domain/duties.py),
and refused if forged; the service enforces proposer != approver anyway, and a refused change is
shown on the entry's page. Disabling an active `block` entry waits for a second, independent
person to confirm (it lets through what the entry stopped); the dashboard shows it meanwhile.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.adapters.commands import LIBRARY_ACTION
from services.console.domain.commands import library_change_command_id
from services.console.domain.duties import console_username, disabling_needs_second_person
from services.console.domain.library_form import (
    ACTIONS,
    DEFAULT_PHASH_DISTANCE,
    KINDS,
    MAX_PHASH_DISTANCE,
    MAX_REASON,
    Proposal,
    check_proposal,
)
from services.console.domain.library_view import ENTRY_STATUSES, answered_commands
from services.console.domain.roles import Permission
from services.console.ports import LibraryQuery, PendingAction
from services.console.web.base import (
    Guarded,
    audit,
    client_of,
    deps_of,
    not_a_second_person,
    principal_of,
    render,
)
from shared.observability import get_logger

log = get_logger(__name__)

WAIT_FOR_ANSWER_MS = 120_000  # the entry page refreshes itself this long after a change was sent
NOTICES = {
    "change_submitted": "Change sent. The entry changes when the review service applies it.",
    "change_deferred": "Change recorded. The broker did not confirm in time; it will be sent automatically.",
    "change_duplicate": "This form was already submitted; nothing was sent twice.",
    "disable_requested": "Disabling requested. A second person must confirm it; until then the entry stays.",
    "disable_cancelled": "The request to disable this entry was cancelled; nothing changed.",
}
CHANGE_LABELS = {"propose": "proposed", "approve": "approved", "disable": "disabled", "seed": "seeded"}


def library_url(entry_id: str, action: str = "entry") -> str:
    """The URL of an entry's page or action (ids may hold any character, so they are percent-encoded)."""
    return f"/library/{action}/{quote(entry_id, safe='')}"


def disable_key(entry_id: str) -> str:
    """The key of a pending request to disable an entry (one open request per entry)."""
    return f"library_disable:{entry_id}"


def proposer_name(username: str) -> str:
    """How the review service names a console user in `proposed_by` and `actor`."""
    return f"console:{username}"


def _choice(value: str, allowed: tuple[str, ...], what: str, errors: list[str]) -> str:
    if value and value not in allowed:
        errors.append(f"Unknown {what}; choose one of {', '.join(allowed)}.")
        return ""
    return value


def _query(
    text: str, kind: str, category: str, status: str, action: str, page: str
) -> tuple[LibraryQuery, str | None]:
    errors: list[str] = []
    kind = _choice(kind, KINDS, "kind", errors)
    status = _choice(status, ENTRY_STATUSES, "status", errors)
    action = _choice(action, ACTIONS, "action", errors)
    number = int(page) if re.fullmatch(r"\d{1,6}", page) and int(page) >= 1 else 1
    query = LibraryQuery(text.strip(), kind, category.strip().lower(), status, action, number)
    return query, " ".join(errors) or None


async def library(
    request: Request,
    q: str = "",
    kind: str = "",
    category: str = "",
    status: str = "",
    action: str = "",
    page: str = "1",
) -> Response:
    deps = deps_of(request)
    query, error = _query(q[:200], kind[:16], category[:64], status[:16], action[:16], page[:8])
    result = await deps.library.search(query)
    counts = await deps.library.counts()
    params = {"q": query.text, "kind": query.kind, "category": query.category}
    params |= {"status": query.status, "action": query.action}
    return await render(
        request,
        "library.html",
        400 if error else 200,
        query=query,
        params=params,
        result=result,
        counts=counts,
        pages=max(1, -(-result.total // query.page_size)),
        kinds=KINDS,
        statuses=ENTRY_STATUSES,
        actions=ACTIONS,
        library_url=library_url,
        error=error,
    )


async def new_entry(request: Request) -> Response:
    return await _propose_page(request)


async def propose(
    request: Request,
    entry_id: Annotated[str, Form(max_length=256)] = "",
    kind: Annotated[str, Form(max_length=16)] = "",
    pattern: Annotated[str, Form(max_length=4000)] = "",
    category: Annotated[str, Form(max_length=256)] = "",
    action: Annotated[str, Form(max_length=16)] = "",
    max_distance: Annotated[str, Form(max_length=8)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    deps = deps_of(request)
    form = {
        "entry_id": entry_id.strip(),
        "kind": kind,
        "pattern": pattern.strip(),
        "category": category.strip(),
    }
    form |= {"action": action, "max_distance": max_distance.strip(), "reason": reason.strip()}
    form_id = _uuid(request_id)
    if not form["entry_id"] and form_id:
        form["entry_id"] = f"entry-{uuid.UUID(form_id).hex[:12]}"  # the same form always proposes the same id
    checked = check_proposal(**form)
    problems = checked if isinstance(checked, list) else []
    if form_id is None:
        problems.append("The form is incomplete; reload the page and try again.")
    if isinstance(checked, Proposal) and form_id and await _taken(request, checked.entry_id, form_id):
        problems.append(f"An entry with the id {checked.entry_id!r} exists already; choose another id.")
    if problems or not isinstance(checked, Proposal) or form_id is None:
        return await _propose_page(request, 400, form=form, problems=problems, request_id=request_id)
    result = await deps.commands.library_change(
        change="propose",
        entry_id=checked.entry_id,
        entry=checked.entry,
        current=None,
        reason=checked.reason,
        actor=principal_of(request).actor,
        request_id=form_id,
        client=client_of(request),
        now=deps.clock(),
    )
    return _after(checked.entry_id, result.duplicate, result.published)


async def entry(request: Request, entry_id: str, notice: str = "") -> Response:
    return await _entry_page(request, entry_id, notice=NOTICES.get(notice))


async def approve(
    request: Request,
    entry_id: str,
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    return await _change(request, "approve", entry_id, reason, request_id)


async def disable(
    request: Request,
    entry_id: str,
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    return await _change(request, "disable", entry_id, reason, request_id)


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/library", Permission.READ)(library)
    r.get("/library/new", Permission.CURATE)(new_entry)
    r.post("/library/propose", Permission.CURATE)(propose)
    r.get("/library/entry/{entry_id:path}", Permission.READ)(entry)
    r.post("/library/approve/{entry_id:path}", Permission.CURATE)(approve)
    r.post("/library/disable/{entry_id:path}", Permission.CURATE)(disable)
    r.post("/library/disable-confirm/{entry_id:path}", Permission.CURATE)(confirm_disable)
    r.post("/library/disable-cancel/{entry_id:path}", Permission.CURATE)(cancel_disable)


async def _change(
    request: Request, change: Literal["approve", "disable"], entry_id: str, reason: str, request_id: str
) -> Response:
    deps = deps_of(request)
    state = await deps.library.entry(entry_id)
    if state is None:
        return await _not_found(request, entry_id)
    reason = reason.strip()
    problem = _change_problem(state, change, reason, request_id, principal_of(request).user.username)
    if problem is None and change == "approve":
        problem = await _approval_tie(request, state)
    if problem is not None:
        code, message = problem
        return await _entry_page(request, entry_id, code, error=message, reason=reason, failed=change)
    if change == "disable" and disabling_needs_second_person(state):
        return await _request_disable(request, entry_id, reason, str(uuid.UUID(request_id)))
    result = await deps.commands.library_change(
        change=change,
        entry_id=entry_id,
        entry=None,
        current=state,
        reason=reason,
        actor=principal_of(request).actor,
        request_id=str(uuid.UUID(request_id)),
        client=client_of(request),
        now=deps.clock(),
    )
    return _after(entry_id, result.duplicate, result.published)


def _change_problem(
    state: dict[str, Any], change: str, reason: str, request_id: str, username: str
) -> tuple[int, str] | None:
    if not reason:
        return 400, f"A reason is required to {change} an entry (DS-10.2: the criterion applied)."
    if len(reason) > MAX_REASON:
        return 400, f"The reason may have at most {MAX_REASON} characters."
    if _uuid(request_id) is None:
        return 400, "The form is incomplete; reload the page and try again."
    status = state.get("status")
    if change == "approve":
        if status != "proposed":
            return 409, f"Only a proposed entry can be approved; this one is {status}."
        if state.get("proposed_by") == proposer_name(username):
            return 409, "You proposed this entry: another operator must approve it (four-eyes, DS-10.2)."
    if change == "disable" and status not in ("proposed", "active"):
        return 409, f"Only a proposed or active entry can be disabled; this one is {status}."
    return None


async def _approval_tie(request: Request, state: dict[str, Any]) -> tuple[int, str] | None:
    """A refusal when the approver's and the proposer's accounts are tied (separation of duties)."""
    proposer = console_username(state.get("proposed_by"))
    if proposer is None:
        return None
    why = await not_a_second_person(request, proposer)
    if why is None:
        return None
    entry_id = str(state.get("entry_id", ""))
    await audit(request, "library_approval_refused", target=entry_id, proposed_by=proposer, why=why)
    return 409, f"You cannot approve this entry: {why}. An independent operator must (four-eyes, DS-10.2)."


async def _request_disable(request: Request, entry_id: str, reason: str, request_id: str) -> Response:
    """Open a request to disable an active block entry; a second person confirms it."""
    deps = deps_of(request)
    actor = principal_of(request).actor
    action = PendingAction(
        key=disable_key(entry_id),
        kind="library_disable",
        target=entry_id,
        requested_by=actor.username,
        requested_role=actor.role,
        requested_ms=deps.now_ms(),
        details={"reason": reason, "request_id": request_id},
    )
    if not await deps.pending.open(action):
        message = "Disabling this entry was already requested; it waits for a second person."
        return await _entry_page(request, entry_id, 409, error=message)
    log.warning("console.block_entry_disable_requested", entry_id=entry_id, requested_by=actor.username)
    await audit(request, "library_disable_requested", target=entry_id, reason=reason, entry_action="block")
    return RedirectResponse(f"{library_url(entry_id)}?notice=disable_requested", status_code=303)


async def confirm_disable(request: Request, entry_id: str) -> Response:
    """A second, independent person confirms disabling a block entry: only now is the command sent."""
    deps = deps_of(request)
    action = await deps.pending.get(disable_key(entry_id))
    state = await deps.library.entry(entry_id)
    if action is None or state is None:
        return await _entry_page(request, entry_id, 404, error="No request to disable this entry is waiting.")
    me = principal_of(request).user
    why = await not_a_second_person(request, action.requested_by)
    if why is not None:
        await audit(
            request, "library_disable_refused", target=entry_id, requested_by=action.requested_by, why=why
        )
        message = f"You cannot confirm this: {why}. Another person must (separation of duties)."
        return await _entry_page(request, entry_id, 409, error=message)
    if state.get("status") not in ("proposed", "active"):
        await deps.pending.close(action)
        return await _entry_page(request, entry_id, 409, error=f"The entry is {state.get('status')} now.")
    if not await deps.pending.close(action):
        return await _entry_page(request, entry_id, 409, error="Someone else handled this request meanwhile.")
    suffix = f" [asked by {action.requested_by}, confirmed by {me.username}]"
    reason = str(action.details.get("reason", ""))
    reason = (
        reason if len(reason) + len(suffix) <= MAX_REASON else reason[: MAX_REASON - len(suffix) - 1] + "…"
    )
    await audit(request, "library_disable_confirmed", target=entry_id, requested_by=action.requested_by)
    result = await deps.commands.library_change(
        change="disable",
        entry_id=entry_id,
        entry=None,
        current=state,
        reason=reason + suffix,
        actor=principal_of(request).actor,
        request_id=str(action.details["request_id"]),  # the requester's form: sent at most once
        client=client_of(request),
        now=deps.clock(),
    )
    return _after(entry_id, result.duplicate, result.published)


async def cancel_disable(request: Request, entry_id: str) -> Response:
    """The requester withdraws the request, or a second person refuses it."""
    deps = deps_of(request)
    action = await deps.pending.get(disable_key(entry_id))
    if action is None or not await deps.pending.close(action):
        return await _entry_page(request, entry_id, 404, error="No request to disable this entry is waiting.")
    await audit(request, "library_disable_cancelled", target=entry_id, requested_by=action.requested_by)
    return RedirectResponse(f"{library_url(entry_id)}?notice=disable_cancelled", status_code=303)


def _after(entry_id: str, duplicate: bool, published: bool) -> Response:
    notice = "change_duplicate" if duplicate else "change_submitted"
    if not published:
        notice = "change_deferred"
    return RedirectResponse(f"{library_url(entry_id)}?notice={notice}", status_code=303)


async def _taken(request: Request, entry_id: str, form_id: str) -> bool:
    """True when the id belongs to an entry this very form did not create (a resubmission may pass)."""
    state = await deps_of(request).library.entry(entry_id)
    return state is not None and library_change_command_id(form_id) not in answered_commands(state)


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _sent_changes(
    state: dict[str, Any] | None, sent: list[dict[str, Any]], now_ms: int
) -> tuple[list[Any], bool]:
    """Changes sent from the console, each marked answered or not; and whether to wait for an answer."""
    answered = answered_commands(state)
    rows = [s | {"answered": s.get("details", {}).get("command_id") in answered} for s in sent]
    recent = now_ms - WAIT_FOR_ANSWER_MS
    waiting = any(not r["answered"] and int(r.get("at_ms", 0)) > recent for r in rows)
    return rows, waiting


async def _entry_page(request: Request, entry_id: str, status_code: int = 200, **context: Any) -> Response:
    deps = deps_of(request)
    state = await deps.library.entry(entry_id)
    sent, waiting = _sent_changes(state, await deps.audit.submitted(LIBRARY_ACTION, entry_id), deps.now_ms())
    if state is None and not sent:
        return await _not_found(request, entry_id)
    principal = principal_of(request)
    own = bool(state and state.get("proposed_by") == proposer_name(principal.user.username))
    proposer = console_username((state or {}).get("proposed_by"))
    tied = None
    if proposer is not None and not own:
        tied = await not_a_second_person(request, proposer)
    pending = await deps.pending.get(disable_key(entry_id))
    pending_tie = None
    if pending is not None:
        pending_tie = await not_a_second_person(request, pending.requested_by)
    return await render(
        request,
        "library_entry.html",
        status_code,
        entry_id=entry_id,
        state=state,
        snapshot=(state or {}).get("entry"),
        history=list(reversed((state or {}).get("history", []))),
        sent=sent,
        waiting=waiting,
        own_proposal=own,
        tied_to_proposer=tied,
        pending_disable=pending,
        pending_tie=pending_tie,
        needs_second_person=disabling_needs_second_person(state),
        approve_request_id=uuid.uuid4().hex,
        disable_request_id=uuid.uuid4().hex,
        library_url=library_url,
        change_labels=CHANGE_LABELS,
        reason=context.pop("reason", ""),
        failed=context.pop("failed", ""),
        **context,
    )


async def _propose_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    form = context.pop("form", {})
    request_id = _uuid(context.pop("request_id", "")) or str(uuid.uuid4())
    return await render(
        request,
        "library_new.html",
        status_code,
        form=form,
        problems=context.pop("problems", []),
        request_id=request_id,  # kept across a failed submission: the corrected form is the same request
        kinds=KINDS,
        actions=ACTIONS,
        max_distance=MAX_PHASH_DISTANCE,
        default_distance=DEFAULT_PHASH_DISTANCE,
        **context,
    )


async def _not_found(request: Request, entry_id: str) -> Response:
    return await render(
        request,
        "error.html",
        404,
        title="Not found",
        message=f"No library entry with id {entry_id!r} is known.",
    )
