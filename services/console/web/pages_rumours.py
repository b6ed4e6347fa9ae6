"""Rumour cases (DS-11): the list, a case's page, opening a case and closing one.

The pages read the cases as the rumour refutation service published them (`dsgov.rumour.recorded`,
`dsgov.rumour.case-closed`) and act only by sending commands: `dsgov.rumour.case-submitted` (the
console assigns the case id `console-<form request id>`) and `dsgov.rumour.case-close-submitted`.
A case opens or closes when the service says so; meanwhile the case page shows what was sent and
refreshes itself. After a close the service sends no new notices or takedowns for the case.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.adapters.rumours import CASE_ACTION, CLOSE_ACTION
from services.console.domain.roles import Permission
from services.console.domain.rumour_commands import (
    MAX_REASON,
    MAX_TEXT,
    SEVERITIES,
    CaseForm,
    check_case_form,
    notice_id_for,
)
from services.console.domain.rumour_view import CASE_STATUSES
from services.console.ports import AuditQuery, CommandResult, RumourQuery
from services.console.web.base import Guarded, client_of, deps_of, principal_of, render

WAIT_FOR_ANSWER_MS: Final = 120_000  # the case page refreshes itself this long after a command was sent
RECENTLY_SENT_MS: Final = 600_000  # the list shows cases sent but not yet recorded for this long
NOTICES: Final = {
    "case_submitted": "Case sent. It opens when the rumour refutation service records it.",
    "close_submitted": "Close sent. The case closes when the rumour refutation service confirms it.",
    "deferred": "Recorded. The broker did not confirm in time; it will be sent automatically.",
    "duplicate": "This form was already submitted; nothing was sent twice.",
}


def case_url(notice_id: str, action: str = "case") -> str:
    """The URL of a case's page or action (ids may hold any character, so they are percent-encoded)."""
    return f"/rumours/{action}/{quote(notice_id, safe='')}"


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


async def rumours(request: Request, status: str = "", page: str = "1") -> Response:
    deps = deps_of(request)
    status = status if status in CASE_STATUSES else ""
    number = int(page) if re.fullmatch(r"\d{1,6}", page) and int(page) >= 1 else 1
    query = RumourQuery(status=status, page=number)
    result = await deps.rumours.cases(query)
    return await render(
        request,
        "rumours.html",
        query=query,
        result=result,
        pages=max(1, -(-result.total // query.page_size)),
        statuses=CASE_STATUSES,
        waiting=await _sent_not_recorded(request),
        case_url=case_url,
    )


async def _sent_not_recorded(request: Request) -> list[dict[str, Any]]:
    """Cases opened from the console in the last minutes that the service has not recorded yet."""
    deps = deps_of(request)
    since = deps.now_ms() - RECENTLY_SENT_MS
    sent = await deps.audit.search(AuditQuery(action=CASE_ACTION, since_ms=since), limit=20)
    return [s for s in sent if await deps.rumours.case(str(s.get("target"))) is None]


async def new_case(request: Request) -> Response:
    return await _new_page(request)


async def open_case(
    request: Request,
    claim_text: Annotated[str, Form(max_length=MAX_TEXT + 1)] = "",
    refutation_text: Annotated[str, Form(max_length=MAX_TEXT + 1)] = "",
    claim_media: Annotated[str, Form(max_length=20_000)] = "",
    severity: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    deps = deps_of(request)
    form = {
        "claim_text": claim_text.strip(),
        "refutation_text": refutation_text.strip(),
        "claim_media": claim_media.strip(),
        "severity": severity,
        "reason": reason.strip(),
    }
    checked = check_case_form(**form)
    problems = checked if isinstance(checked, list) else []
    form_id = _uuid(request_id)
    if form_id is None:
        problems.append("The form is incomplete; reload the page and try again.")
    if problems or not isinstance(checked, CaseForm) or form_id is None:
        return await _new_page(request, 400, form=form, problems=problems, request_id=request_id)
    notice_id = notice_id_for(form_id)  # the same form always opens the same case
    result = await deps.rumour_commands.open_case(
        checked,
        notice_id=notice_id,
        actor=principal_of(request).actor,
        request_id=form_id,
        client=client_of(request),
        now=deps.clock(),
    )
    return _after(notice_id, result, "case_submitted")


async def case(request: Request, notice_id: str, notice: str = "") -> Response:
    return await _case_page(request, notice_id, notice=NOTICES.get(notice))


async def close_case(
    request: Request,
    notice_id: str,
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    deps = deps_of(request)
    state = await deps.rumours.case(notice_id)
    if state is None:
        return await _not_found(request, notice_id)
    reason = reason.strip()
    problem = _close_problem(state, reason, request_id)
    if problem is not None:
        code, message = problem
        return await _case_page(request, notice_id, code, error=message, reason=reason)
    result = await deps.rumour_commands.close_case(
        state,
        reason=reason,
        actor=principal_of(request).actor,
        request_id=str(uuid.UUID(request_id)),
        client=client_of(request),
        now=deps.clock(),
    )
    if not result.accepted:
        by = ((result.existing or {}).get("actor") or {}).get("username", "someone")
        message = f"This case was already closed from the console by {by}; nothing was sent."
        return await _case_page(request, notice_id, 409, error=message)
    return _after(notice_id, result, "close_submitted")


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/rumours", Permission.READ)(rumours)
    r.get("/rumours/new", Permission.RUMOUR)(new_case)
    r.post("/rumours/open", Permission.RUMOUR)(open_case)
    r.get("/rumours/case/{notice_id:path}", Permission.READ)(case)
    r.post("/rumours/close/{notice_id:path}", Permission.RUMOUR)(close_case)


def _close_problem(state: dict[str, Any], reason: str, request_id: str) -> tuple[int, str] | None:
    if not reason:
        return 400, "A reason is required to close a case (DS-11: the record says why)."
    if len(reason) > MAX_REASON:
        return 400, f"The reason may have at most {MAX_REASON} characters."
    if _uuid(request_id) is None:
        return 400, "The form is incomplete; reload the page and try again."
    if state.get("status") != "open":
        return 409, "This case is closed already; a closed case is not reopened (open a new one)."
    if not state.get("recorded"):
        return 409, "Only a recorded rumour case can be closed from the console."
    return None


def _after(notice_id: str, result: CommandResult, done: str) -> Response:
    notice = "duplicate" if result.duplicate else done
    if not result.published:
        notice = "deferred"
    return RedirectResponse(f"{case_url(notice_id)}?notice={notice}", status_code=303)


def _sent(state: dict[str, Any] | None, rows: list[dict[str, Any]], now_ms: int) -> tuple[list[Any], bool]:
    """Commands sent from the console about the case, each marked answered; and whether to wait."""
    closure = (state or {}).get("closure") or {}
    answered = {
        CASE_ACTION: bool(state and state.get("recorded")),
        CLOSE_ACTION: bool(closure),
    }
    marked = [r | {"answered": answered.get(str(r.get("action")), False)} for r in rows]
    recent = now_ms - WAIT_FOR_ANSWER_MS
    waiting = any(not r["answered"] and int(r.get("at_ms", 0)) > recent for r in marked)
    return marked, waiting


async def _case_page(request: Request, notice_id: str, status_code: int = 200, **context: Any) -> Response:
    deps = deps_of(request)
    state = await deps.rumours.case(notice_id)
    submitted = await deps.audit.submitted(CASE_ACTION, notice_id)
    closes = await deps.audit.submitted(CLOSE_ACTION, notice_id)
    rows = sorted([*submitted, *closes], key=lambda r: int(r.get("at_ms", 0)), reverse=True)
    sent, waiting = _sent(state, rows, deps.now_ms())
    if state is None and not sent:
        return await _not_found(request, notice_id)
    return await render(
        request,
        "rumour_case.html",
        status_code,
        notice_id=notice_id,
        state=state,
        history=list(reversed((state or {}).get("history", []))),
        sent=sent,
        waiting=waiting,
        from_console=bool(submitted),
        close_sent=bool(closes),  # one close per case: no second form while the first is on its way
        close_request_id=uuid.uuid4().hex,
        case_url=case_url,
        reason=context.pop("reason", ""),
        **context,
    )


async def _new_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    form = context.pop("form", {})
    request_id = _uuid(context.pop("request_id", "")) or str(uuid.uuid4())
    return await render(
        request,
        "rumour_new.html",
        status_code,
        form=form,
        problems=context.pop("problems", []),
        request_id=request_id,  # kept across a failed submission: the corrected form is the same case
        notice_id=notice_id_for(request_id),
        severities=SEVERITIES,
        **context,
    )


async def _not_found(request: Request, notice_id: str) -> Response:
    message = f"No rumour case with id {notice_id!r} is known."
    return await render(request, "error.html", 404, title="Not found", message=message)
