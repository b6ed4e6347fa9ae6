"""User management and the audit log (admin only).

Separation of duties (domain/duties.py): creating an operator or admin, or raising an account to
one, opens a request that a second, independent admin confirms; until then nothing changes. Every
account remembers who created it, gave it its role, re-enabled it and set its password, so that
tied accounts never count as a second person.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.domain.duties import needs_confirmation
from services.console.domain.passwords import (
    PolicyViolation,
    check_password,
    check_username,
    normalize_username,
)
from services.console.domain.roles import ROLES, Permission, is_role
from services.console.ports import AuditQuery, PendingAction, User
from services.console.web.base import Guarded, audit, deps_of, not_a_second_person, principal_of, render

PAGE_SIZE = 100
NOTICES = {
    "user_created": "User created. Give them their initial password through a separate channel.",
    "role_changed": "Role changed; it applies to the user's next request.",
    "user_disabled": "User disabled and signed out everywhere.",
    "user_enabled": "User enabled.",
    "creation_requested": "Request recorded: another admin must confirm it before the account exists.",
    "role_change_requested": "Request recorded: another admin must confirm it before the role changes.",
    "request_confirmed": "Confirmed: the change is applied.",
    "request_cancelled": "Request cancelled; nothing changed.",
    "password_reset": "Password set and the user signed out everywhere. They should change it under Account.",
}


def user_key(username: str) -> str:
    """The key of a pending request about a user (one open request per user)."""
    return f"user:{username}"


async def _users_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    deps = deps_of(request)
    users = await deps.users.all()
    pending = [a for a in await deps.pending.all() if a.kind == "user_grant"]
    return await render(
        request, "users.html", status_code, users=users, roles=ROLES, pending=pending, **context
    )


async def _last_admin(request: Request, user: User) -> bool:
    """True when `user` is the only active admin (who must stay one)."""
    admins = [u for u in await deps_of(request).users.all() if u.role == "admin" and u.active]
    return [u.username for u in admins] == [user.username]


async def users(request: Request, notice: str = "") -> Response:
    return await _users_page(request, notice=NOTICES.get(notice))


def _done(notice: str) -> Response:
    return RedirectResponse(f"/users?notice={notice}", status_code=303)


async def create_user(
    request: Request,
    username: Annotated[str, Form(max_length=256)] = "",
    role: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    deps = deps_of(request)
    name = normalize_username(username)
    try:
        check_username(name)
        if not is_role(role):
            raise PolicyViolation("choose a role")
        check_password(password, name)
    except PolicyViolation as exc:
        return await _users_page(request, 400, error=str(exc).capitalize() + ".", form_username=name)
    if await deps.users.get(name) is not None:
        return await _users_page(request, 409, error=f"User {name!r} already exists.", form_username=name)
    password_hash = await asyncio.to_thread(deps.passwords.hash, password)
    actor = principal_of(request).actor
    if needs_confirmation(role, None):
        details = {"change": "create", "role": role, "password_hash": password_hash}
        if not await _request_grant(request, name, details):
            return await _users_page(
                request, 409, error=f"A request about {name!r} is already waiting.", form_username=name
            )
        await audit(request, "user_creation_requested", target=name, role=role)
        return _done("creation_requested")
    user = User(name, role, password_hash, True, deps.now_ms(), actor.username)  # type: ignore[arg-type]
    user = replace(user, role_by=actor.username, password_set_by=actor.username)
    if not await deps.users.add(user):
        return await _users_page(request, 409, error=f"User {name!r} already exists.", form_username=name)
    await audit(request, "user_created", target=name, role=role)
    return _done("user_created")


async def _request_grant(request: Request, username: str, details: dict[str, Any]) -> bool:
    """Open a request for a second admin; False when one about the user is already open."""
    deps = deps_of(request)
    actor = principal_of(request).actor
    action = PendingAction(
        key=user_key(username),
        kind="user_grant",
        target=username,
        requested_by=actor.username,
        requested_role=actor.role,
        requested_ms=deps.now_ms(),
        details=details,
    )
    return await deps.pending.open(action)


async def change_role(
    request: Request, username: str, role: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    deps = deps_of(request)
    user = await deps.users.get(username)
    if user is None or not is_role(role):
        return await _users_page(request, 404 if user is None else 400, error="Unknown user or role.")
    me = principal_of(request).user.username
    if user.username == me:
        return await _users_page(request, 409, error="You cannot change your own role.")
    if role != "admin" and await _last_admin(request, user):
        return await _users_page(request, 409, error="The last active admin must stay an admin.")
    if needs_confirmation(role, user.role):
        details = {"change": "role", "role": role, "previous": user.role, "version": user.version}
        if not await _request_grant(request, user.username, details):
            return await _users_page(request, 409, error=f"A request about {username!r} is already waiting.")
        await audit(
            request, "user_role_change_requested", target=user.username, previous=user.role, role=role
        )
        return _done("role_change_requested")
    if not await deps.users.replace(replace(user, role=role, role_by=me)):  # type: ignore[arg-type]
        return await _users_page(request, 409, error="The user changed meanwhile; try again.")
    await audit(request, "user_role_changed", target=user.username, previous=user.role, role=role)
    return _done("role_changed")


async def confirm_request(request: Request, username: str) -> Response:
    """A second admin confirms a creation or a promotion; never one tied to the requester or the user."""
    deps = deps_of(request)
    action = await deps.pending.get(user_key(username))
    if action is None:
        return await _users_page(request, 404, error=f"No request about {username!r} is waiting.")
    me = principal_of(request).user
    target = await deps.users.get(username)
    tied = [action.requested_by] + ([username] if action.details.get("change") == "role" else [])
    why = await not_a_second_person(request, *tied)
    if why is not None:
        await audit(
            request,
            "user_grant_confirmation_refused",
            target=username,
            requested_by=action.requested_by,
            why=why,
        )
        message = f"You cannot confirm this request: {why}. Another admin must (separation of duties)."
        return await _users_page(request, 409, error=message)
    if not await deps.pending.close(action):
        return await _users_page(request, 409, error="Someone else handled this request meanwhile.")
    details = action.details
    role = str(details["role"])
    common: dict[str, Any] = {"requested_by": action.requested_by, "confirmed_by": me.username, "role": role}
    if details.get("change") == "create":
        user = User(
            username,
            role,  # type: ignore[arg-type]
            str(details["password_hash"]),
            True,
            deps.now_ms(),
            action.requested_by,
            role_by=action.requested_by,
            password_set_by=action.requested_by,
            confirmed_by=me.username,
        )
        if not await deps.users.add(user):
            return await _users_page(
                request, 409, error=f"User {username!r} exists meanwhile; nothing changed."
            )
        await audit(request, "user_created", target=username, **common)
        return _done("request_confirmed")
    if target is None or target.version != details.get("version"):
        await audit(request, "user_grant_lapsed", target=username, **common)
        return await _users_page(
            request, 409, error=f"{username!r} changed after the request; nothing changed. Ask again."
        )
    changed = replace(target, role=role, role_by=action.requested_by, confirmed_by=me.username)  # type: ignore[arg-type]
    if not await deps.users.replace(changed):
        return await _users_page(
            request, 409, error="The user changed meanwhile; nothing changed. Ask again."
        )
    await audit(request, "user_role_changed", target=username, previous=target.role, **common)
    return _done("request_confirmed")


async def cancel_request(request: Request, username: str) -> Response:
    """The requester withdraws a request, or another admin refuses it."""
    deps = deps_of(request)
    action = await deps.pending.get(user_key(username))
    if action is None or not await deps.pending.close(action):
        return await _users_page(request, 404, error=f"No request about {username!r} is waiting.")
    await audit(
        request,
        "user_grant_cancelled",
        target=username,
        requested_by=action.requested_by,
        role=action.details.get("role"),
    )
    return _done("request_cancelled")


async def change_status(
    request: Request, username: str, active: Annotated[str, Form(max_length=8)] = ""
) -> Response:
    deps = deps_of(request)
    user = await deps.users.get(username)
    if user is None or active not in ("true", "false"):
        return await _users_page(request, 404 if user is None else 400, error="Unknown user or status.")
    enable = active == "true"
    me = principal_of(request).user.username
    if not enable and user.username == me:
        return await _users_page(request, 409, error="You cannot disable yourself.")
    if not enable and user.role == "admin" and await _last_admin(request, user):
        return await _users_page(request, 409, error="The last active admin cannot be disabled.")
    changed = replace(user, active=enable, enabled_by=me if enable else user.enabled_by)
    if not await deps.users.replace(changed):
        return await _users_page(request, 409, error="The user changed meanwhile; try again.")
    if not enable:
        await deps.sessions.delete_for_user(user.username)
    await audit(request, "user_enabled" if enable else "user_disabled", target=user.username)
    return _done(f"user_{'enabled' if enable else 'disabled'}")


async def reset_password(
    request: Request, username: str, password: Annotated[str, Form(max_length=4096)] = ""
) -> Response:
    """An admin sets another user's password (forgotten, say); the user's sessions end."""
    deps = deps_of(request)
    user = await deps.users.get(username)
    if user is None:
        return await _users_page(request, 404, error="Unknown user.")
    me = principal_of(request).user.username
    if user.username == me:
        return await _users_page(request, 409, error="Change your own password under Account.")
    try:
        check_password(password, user.username)
    except PolicyViolation as exc:
        return await _users_page(request, 400, error=str(exc).capitalize() + ".")
    new_hash = await asyncio.to_thread(deps.passwords.hash, password)
    # The admin now knows the password: the account counts as tied to them (separation of duties).
    if not await deps.users.replace(replace(user, password_hash=new_hash, password_set_by=me)):
        return await _users_page(request, 409, error="The user changed meanwhile; try again.")
    await deps.sessions.delete_for_user(user.username)
    await audit(request, "password_reset", target=user.username)
    return _done("password_reset")


def _moment(value: str, end_of_day: bool) -> datetime:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]` (UTC unless it says otherwise)."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end_of_day and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        moment += timedelta(days=1, milliseconds=-1)  # a day given as `until` includes the whole day
    return moment


def _audit_query(actor: str, action: str, since: str, until: str) -> tuple[AuditQuery, list[str]]:
    errors: list[str] = []
    bounds: list[int | None] = []
    for label, value, end in (("From", since, False), ("Until", until, True)):
        value = value.strip()
        if not value:
            bounds.append(None)
            continue
        try:
            bounds.append(int(_moment(value, end).timestamp() * 1000))
        except ValueError:
            errors.append(f"{label}: not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM, UTC).")
            bounds.append(None)
    if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
        errors.append("From is after Until.")
    query = AuditQuery(actor.strip().lower(), action.strip(), bounds[0], bounds[1])
    return query, errors


async def audit_log(
    request: Request, page: str = "1", actor: str = "", action: str = "", since: str = "", until: str = ""
) -> Response:
    number = int(page) if re.fullmatch(r"\d{1,6}", page) and int(page) >= 1 else 1
    query, errors = _audit_query(actor[:64], action[:64], since[:32], until[:32])
    entries = await deps_of(request).audit.search(query, PAGE_SIZE + 1, (number - 1) * PAGE_SIZE)
    params = {"actor": actor[:64], "action": action[:64], "since": since[:32], "until": until[:32]}
    return await render(
        request,
        "audit.html",
        400 if errors else 200,
        entries=entries[:PAGE_SIZE],
        page=number,
        more=len(entries) > PAGE_SIZE,
        filters=params,
        filter_query=urlencode({k: v for k, v in params.items() if v}),
        error=" ".join(errors) or None,
    )


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/users", Permission.ADMINISTER)(users)
    r.post("/users", Permission.ADMINISTER)(create_user)
    r.post("/users/role/{username}", Permission.ADMINISTER)(change_role)
    r.post("/users/status/{username}", Permission.ADMINISTER)(change_status)
    r.post("/users/password/{username}", Permission.ADMINISTER)(reset_password)
    r.post("/users/confirm/{username}", Permission.ADMINISTER)(confirm_request)
    r.post("/users/cancel/{username}", Permission.ADMINISTER)(cancel_request)
    r.get("/audit", Permission.ADMINISTER)(audit_log)
