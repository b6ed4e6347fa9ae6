"""User management and the audit log (admin only)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.domain.passwords import (
    PolicyViolation,
    check_password,
    check_username,
    normalize_username,
)
from services.console.domain.roles import ROLES, Permission, is_role
from services.console.ports import User
from services.console.web.base import Guarded, audit, deps_of, principal_of, render

PAGE_SIZE = 100
NOTICES = {
    "user_created": "User created. Give them their initial password through a separate channel.",
    "role_changed": "Role changed; it applies to the user's next request.",
    "user_disabled": "User disabled and signed out everywhere.",
    "user_enabled": "User enabled.",
}


async def _users_page(request: Request, status_code: int = 200, **context: Any) -> Response:
    users = await deps_of(request).users.all()
    return await render(request, "users.html", status_code, users=users, roles=ROLES, **context)


async def _last_admin(request: Request, user: User) -> bool:
    """True when `user` is the only active admin (who must stay one)."""
    admins = [u for u in await deps_of(request).users.all() if u.role == "admin" and u.active]
    return [u.username for u in admins] == [user.username]


async def users(request: Request, notice: str = "") -> Response:
    return await _users_page(request, notice=NOTICES.get(notice))


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
    password_hash = await asyncio.to_thread(deps.passwords.hash, password)
    actor = principal_of(request).actor
    user = User(name, role, password_hash, True, deps.now_ms(), actor.username)  # type: ignore[arg-type]
    if not await deps.users.add(user):
        return await _users_page(request, 409, error=f"User {name!r} already exists.", form_username=name)
    await audit(request, "user_created", target=name, role=role)
    return RedirectResponse("/users?notice=user_created", status_code=303)


async def change_role(
    request: Request, username: str, role: Annotated[str, Form(max_length=32)] = ""
) -> Response:
    deps = deps_of(request)
    user = await deps.users.get(username)
    if user is None or not is_role(role):
        return await _users_page(request, 404 if user is None else 400, error="Unknown user or role.")
    if user.username == principal_of(request).user.username:
        return await _users_page(request, 409, error="You cannot change your own role.")
    if role != "admin" and await _last_admin(request, user):
        return await _users_page(request, 409, error="The last active admin must stay an admin.")
    if not await deps.users.replace(replace(user, role=role)):  # type: ignore[arg-type]
        return await _users_page(request, 409, error="The user changed meanwhile; try again.")
    await audit(request, "user_role_changed", target=user.username, previous=user.role, role=role)
    return RedirectResponse("/users?notice=role_changed", status_code=303)


async def change_status(
    request: Request, username: str, active: Annotated[str, Form(max_length=8)] = ""
) -> Response:
    deps = deps_of(request)
    user = await deps.users.get(username)
    if user is None or active not in ("true", "false"):
        return await _users_page(request, 404 if user is None else 400, error="Unknown user or status.")
    enable = active == "true"
    if not enable and user.username == principal_of(request).user.username:
        return await _users_page(request, 409, error="You cannot disable yourself.")
    if not enable and user.role == "admin" and await _last_admin(request, user):
        return await _users_page(request, 409, error="The last active admin cannot be disabled.")
    if not await deps.users.replace(replace(user, active=enable)):
        return await _users_page(request, 409, error="The user changed meanwhile; try again.")
    if not enable:
        await deps.sessions.delete_for_user(user.username)
    await audit(request, "user_enabled" if enable else "user_disabled", target=user.username)
    return RedirectResponse(f"/users?notice=user_{'enabled' if enable else 'disabled'}", status_code=303)


async def audit_log(request: Request, page: str = "1") -> Response:
    number = int(page) if re.fullmatch(r"\d{1,6}", page) and int(page) >= 1 else 1
    entries = await deps_of(request).audit.recent(PAGE_SIZE + 1, (number - 1) * PAGE_SIZE)
    return await render(
        request, "audit.html", entries=entries[:PAGE_SIZE], page=number, more=len(entries) > PAGE_SIZE
    )


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/users", Permission.ADMINISTER)(users)
    r.post("/users", Permission.ADMINISTER)(create_user)
    r.post("/users/role/{username}", Permission.ADMINISTER)(change_role)
    r.post("/users/status/{username}", Permission.ADMINISTER)(change_status)
    r.get("/audit", Permission.ADMINISTER)(audit_log)
