"""Consent search, consent detail with history, proof export and withdrawal (DS-14.2, PI-15)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from services.console.domain.projection import CONSENT_STATUSES
from services.console.domain.proof import build_proof
from services.console.domain.roles import Permission
from services.console.ports import ConsentQuery
from services.console.web.base import Guarded, audit, client_of, deps_of, principal_of, render

MAX_REASON = 2000
MAX_DAYS = 3650
WAIT_FOR_CONFIRMATION_MS = 120_000  # the detail page refreshes itself this long after a withdrawal
NOTICES = {
    "withdrawal_submitted": "Withdrawal submitted. The status changes when the consent service confirms it.",
    "withdrawal_deferred": (
        "Withdrawal recorded. The broker did not confirm in time; it will be sent automatically."
    ),
    "withdrawal_duplicate": "This withdrawal form was already submitted; nothing was sent twice.",
}


def consent_url(consent_id: str, action: str = "view") -> str:
    """The URL of a consent page (ids may hold any character, so they are percent-encoded)."""
    return f"/consents/{action}/{quote(consent_id, safe='')}"


def _history(state: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for entry in state.get("history", []):
        event = json.loads(entry["event_json"])
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        rows.append(
            entry
            | {
                "actor": data.get("actor"),
                "reasons": data.get("reasons") or [],
                "pretty": json.dumps(event, indent=2, ensure_ascii=False, sort_keys=True),
            }
        )
    return rows


def _query(
    subject: str, grantee: str, status: str, expiring_days: str, page: str
) -> tuple[ConsentQuery, str | None]:
    error = None
    if status and status not in CONSENT_STATUSES:
        error, status = f"Unknown status; choose one of {', '.join(CONSENT_STATUSES)}.", ""
    days: int | None = None
    if expiring_days.strip():
        if re.fullmatch(r"\d{1,4}", expiring_days.strip()) and int(expiring_days) <= MAX_DAYS:
            days = int(expiring_days)
        else:
            error = f"'Expiring within' must be a number of days from 0 to {MAX_DAYS}."
    number = int(page) if re.fullmatch(r"\d{1,6}", page) and int(page) >= 1 else 1
    return ConsentQuery(subject.strip(), grantee.strip(), status, days, number), error


async def consents(
    request: Request,
    subject: str = "",
    grantee: str = "",
    status: str = "",
    expiring_days: str = "",
    page: str = "1",
) -> Response:
    deps = deps_of(request)
    query, error = _query(subject[:256], grantee[:256], status[:32], expiring_days[:8], page[:8])
    result = await deps.read_model.search(query, deps.clock())
    pages = max(1, -(-result.total // query.page_size))
    params = {"subject": query.subject_id, "grantee": query.grantee_user_id, "status": query.status}
    params["expiring_days"] = "" if query.expiring_within_days is None else str(query.expiring_within_days)
    return await render(
        request,
        "consents.html",
        400 if error else 200,
        query=query,
        params=params,
        result=result,
        pages=pages,
        statuses=CONSENT_STATUSES,
        consent_url=consent_url,
        error=error,
    )


async def consent(request: Request, consent_id: str, notice: str = "") -> Response:
    return await _consent_page(request, consent_id, notice=NOTICES.get(notice))


async def proof(request: Request, consent_id: str) -> Response:
    deps = deps_of(request)
    state = await deps.read_model.consent(consent_id)
    if state is None:
        return await _not_found(request, consent_id)
    principal = principal_of(request)
    document = build_proof(state, exported_at=deps.clock(), exported_by=principal.actor.as_dict())
    await audit(request, "proof_exported", target=consent_id, head_hash=document["head_hash"])
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", consent_id)[:100]
    return JSONResponse(
        document, headers={"Content-Disposition": f'attachment; filename="consent-proof-{safe}.json"'}
    )


async def withdraw(
    request: Request,
    consent_id: str,
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    deps = deps_of(request)
    state = await deps.read_model.consent(consent_id)
    if state is None:
        return await _not_found(request, consent_id)
    reason = reason.strip()
    problem = _withdrawal_problem(state, reason, request_id)
    if problem is not None:
        code, message = problem
        return await _consent_page(request, consent_id, code, error=message, reason=reason)
    result = await deps.commands.withdraw(
        state,
        reason=reason,
        actor=principal_of(request).actor,
        request_id=str(uuid.UUID(request_id)),
        client=client_of(request),
        now=deps.clock(),
    )
    notice = "withdrawal_duplicate" if result.duplicate else "withdrawal_submitted"
    if not result.published:
        notice = "withdrawal_deferred"
    return RedirectResponse(f"{consent_url(consent_id)}?notice={notice}", status_code=303)


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/consents", Permission.READ)(consents)
    r.get("/consents/view/{consent_id:path}", Permission.READ)(consent)
    r.get("/consents/proof/{consent_id:path}", Permission.READ)(proof)
    r.post("/consents/withdraw/{consent_id:path}", Permission.WITHDRAW)(withdraw)


def _withdrawal_problem(state: dict[str, Any], reason: str, request_id: str) -> tuple[int, str] | None:
    if not reason:
        return 400, "A reason is required to withdraw a consent on the subject's behalf."
    if len(reason) > MAX_REASON:
        return 400, f"The reason may have at most {MAX_REASON} characters."
    try:
        uuid.UUID(request_id)
    except ValueError:
        return 400, "The form is incomplete; reload the page and try again."
    if state.get("status") != "granted":
        return 409, f"Only a granted consent can be withdrawn; this one is {state.get('status')}."
    return None


async def _consent_page(
    request: Request, consent_id: str, status_code: int = 200, **context: Any
) -> Response:
    deps = deps_of(request)
    state = await deps.read_model.consent(consent_id)
    if state is None:
        return await _not_found(request, consent_id)
    withdrawals = await deps.audit.withdrawals_for(consent_id)
    recent = deps.now_ms() - WAIT_FOR_CONFIRMATION_MS
    waiting = state.get("status") == "granted" and any(int(w.get("at_ms", 0)) > recent for w in withdrawals)
    return await render(
        request,
        "consent.html",
        status_code,
        consent=state,
        history=_history(state),
        withdrawals=withdrawals,
        waiting=waiting,
        request_id=uuid.uuid4().hex,
        consent_url=consent_url,
        reason=context.pop("reason", ""),
        **context,
    )


async def _not_found(request: Request, consent_id: str) -> Response:
    return await render(
        request, "error.html", 404, title="Not found", message=f"No consent with id {consent_id!r} is known."
    )
