"""The human review queue (DS-10.1 manual review): the queue, an item with why it was flagged, take, decide.

A reviewer takes an item (recorded in the console's audit store and shown to everyone), reads why it
was flagged (the matched feature-library entries and the checked text, escaped), and approves or
rejects it with a reason: a `dsgov.review.decision-submitted` command. The item shows "decision sent"
until the review service's `dsgov.review.resolved` arrives; the platform gets the final decision from
the service. Taking and deciding follow `domain.claims`.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.domain.claims import decide_problem, holder, take_problem
from services.console.domain.roles import Permission
from services.console.ports import ReviewQuery
from services.console.web.base import Guarded, client_of, deps_of, principal_of, render
from services.console.web.pages_library import library_url
from shared.contracts import types as T

MAX_REASON = 2000
WAIT_FOR_RESOLUTION_MS = 120_000  # the item page refreshes itself this long after a decision was sent
STAGES = ("input", "output")
QUEUE_VIEWS = ("pending", "resolved", "all")
NOTICES = {
    "taken": "You hold this item now; others see that you are working on it.",
    "decision_submitted": "Decision sent. The item is resolved when the review service confirms it.",
    "decision_deferred": (
        "Decision recorded. The broker did not confirm in time; it will be sent automatically."
    ),
    "decision_duplicate": "This decision form was already submitted; nothing was sent twice.",
}
OUTCOMES = {
    T.GENERATION_APPROVED: "generation approved",
    T.GENERATION_REJECTED: "generation rejected",
    T.OUTPUT_APPROVED: "output approved",
    T.OUTPUT_BLOCKED: "output blocked",
}


def review_url(item_id: str, action: str = "item") -> str:
    """The URL of an item's page or action (ids are percent-encoded)."""
    return f"/review/{action}/{quote(item_id, safe='')}"


async def queue(request: Request, status: str = "pending", stage: str = "", page: str = "1") -> Response:
    deps = deps_of(request)
    view = status if status in QUEUE_VIEWS else "pending"
    error = None if view == status or not status else f"Unknown view; choose one of {', '.join(QUEUE_VIEWS)}."
    stage = stage if stage in STAGES else ""
    number = int(page) if re.fullmatch(r"\d{1,6}", page) and int(page) >= 1 else 1
    query = ReviewQuery("" if view == "all" else view, stage, number)
    result = await deps.reviews.queue(query)
    ids = [str(i["item_id"]) for i in result.items]
    holders = await deps.desk.holders(ids) if ids else {}
    sent = await deps.desk.decisions(ids) if ids else {}
    return await render(
        request,
        "review_queue.html",
        400 if error else 200,
        view=view,
        stage=stage,
        query=query,
        result=result,
        holders=holders,
        sent=sent,
        pages=max(1, -(-result.total // query.page_size)),
        views=QUEUE_VIEWS,
        stages=STAGES,
        review_url=review_url,
        error=error,
    )


async def item(request: Request, item_id: str, notice: str = "") -> Response:
    return await _item_page(request, item_id, notice=NOTICES.get(notice))


async def take(
    request: Request, item_id: str, expected_seq: Annotated[str, Form(max_length=12)] = ""
) -> Response:
    deps = deps_of(request)
    state = await deps.reviews.item(item_id)
    if state is None:
        return await _not_found(request, item_id)
    principal = principal_of(request)
    current = holder(await deps.desk.takes(item_id))
    seen = int(expected_seq) if re.fullmatch(r"\d{1,8}", expected_seq) else -1
    problem = take_problem(state, current, principal.user.username, seen)
    if problem is not None:
        return await _item_page(request, item_id, 409, error=problem)
    result = await deps.desk.take(
        item_id, actor=principal.actor, expected_seq=seen, client=client_of(request), now=deps.clock()
    )
    if not result.taken:
        who = f"{result.holder.username} ({result.holder.role})" if result.holder else "someone"
        return await _item_page(request, item_id, 409, error=f"{who} took this item just before you.")
    return RedirectResponse(f"{review_url(item_id)}?notice=taken", status_code=303)


async def decide(
    request: Request,
    item_id: str,
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON * 2)] = "",
    request_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    deps = deps_of(request)
    state = await deps.reviews.item(item_id)
    if state is None:
        return await _not_found(request, item_id)
    principal = principal_of(request)
    reason = reason.strip()
    problem = _form_problem(decision, reason, request_id)
    if problem is None:
        current = holder(await deps.desk.takes(item_id))
        conflict = decide_problem(state, current, principal.user.username)
        problem = (409, conflict) if conflict else None
    if problem is not None:
        code, message = problem
        return await _item_page(request, item_id, code, error=message, reason=reason)
    result = await deps.commands.review_decision(
        state,
        decision="approve" if decision == "approve" else "reject",
        reason=reason,
        actor=principal.actor,
        request_id=str(uuid.UUID(request_id)),
        client=client_of(request),
        now=deps.clock(),
    )
    if not result.accepted:
        who = (result.existing or {}).get("actor") or {}
        message = f"A decision on this item was already sent by {who.get('username', 'someone')}."
        return await _item_page(request, item_id, 409, error=message)
    notice = "decision_duplicate" if result.duplicate else "decision_submitted"
    if not result.published:
        notice = "decision_deferred"
    return RedirectResponse(f"{review_url(item_id)}?notice={notice}", status_code=303)


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/review", Permission.READ)(queue)
    r.get("/review/item/{item_id:path}", Permission.READ)(item)
    r.post("/review/take/{item_id:path}", Permission.REVIEW)(take)
    r.post("/review/decide/{item_id:path}", Permission.REVIEW)(decide)


def _form_problem(decision: str, reason: str, request_id: str) -> tuple[int, str] | None:
    if decision not in ("approve", "reject"):
        return 400, "Choose approve or reject."
    if not reason:
        return 400, "A reason is required for a review decision."
    if len(reason) > MAX_REASON:
        return 400, f"The reason may have at most {MAX_REASON} characters."
    try:
        uuid.UUID(request_id)
    except ValueError:
        return 400, "The form is incomplete; reload the page and try again."
    return None


def display_status(state: dict[str, Any], sent: dict[str, Any] | None) -> str:
    """What the item page and the queue show: pending, decision sent, or resolved."""
    if state.get("status") == "resolved":
        return "resolved"
    return "decision sent" if sent else "pending"


async def _item_page(request: Request, item_id: str, status_code: int = 200, **context: Any) -> Response:
    deps = deps_of(request)
    state = await deps.reviews.item(item_id)
    if state is None:
        return await _not_found(request, item_id)
    takes = await deps.desk.takes(item_id)
    current = holder(takes)
    sent = (await deps.desk.decisions([item_id])).get(item_id)
    shown = display_status(state, sent)
    recent = deps.now_ms() - WAIT_FOR_RESOLUTION_MS
    waiting = shown == "decision sent" and int((sent or {}).get("at_ms", 0)) > recent
    username = principal_of(request).user.username
    return await render(
        request,
        "review_item.html",
        status_code,
        item=state,
        shown=shown,
        takes=list(reversed(takes)),
        current=current,
        mine=current is not None and current.username == username,
        sent=sent,
        waiting=waiting,
        outcomes=OUTCOMES,
        request_id=uuid.uuid4().hex,
        review_url=review_url,
        library_url=library_url,
        reason=context.pop("reason", ""),
        **context,
    )


async def _not_found(request: Request, item_id: str) -> Response:
    return await render(
        request, "error.html", 404, title="Not found", message=f"No review item with id {item_id!r} is known."
    )
