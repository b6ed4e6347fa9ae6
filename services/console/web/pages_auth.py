"""Login, logout and the user's own account."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response

from services.console.domain.csrf import new_token
from services.console.domain.passwords import USERNAME, PolicyViolation, check_password, normalize_username
from services.console.domain.roles import Permission
from services.console.ports import Session
from services.console.web.base import (
    Guarded,
    audit,
    client_of,
    deps_of,
    load_principal,
    load_session,
    principal_of,
    render,
)
from services.console.web.security import Principal, new_session_token, safe_next, session_digest

NOTICES = {"password_changed": "Your password was changed; other sessions were signed out."}


async def start_session(request: Request, username: str | None) -> tuple[Session, str]:
    """Store a new session (anonymous before login); return it with its cookie value."""
    deps = deps_of(request)
    cfg = deps.config
    ttl = cfg.session_ttl_s if username else cfg.anonymous_session_ttl_s
    token = new_session_token()
    now_ms = deps.now_ms()
    session = Session(
        id_digest=session_digest(cfg.session_secret, token),
        csrf_token=new_token(),
        expires_ms=now_ms + ttl * 1000,
        username=username,
        created_ms=now_ms,
    )
    await deps.sessions.add(session)
    request.state.session = session
    request.state.principal = None
    return session, token


def set_session_cookie(request: Request, response: Response, session: Session, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure unless configured off, lives as the session."""
    cfg = deps_of(request).config
    response.set_cookie(
        cfg.cookie_name,
        token,
        max_age=max(1, (session.expires_ms - session.created_ms) // 1000),
        path="/",
        secure=cfg.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def login_page(request: Request, next: str = "/dashboard") -> Response:
    if await load_principal(request) is not None:
        return _redirect(safe_next(next))
    fresh = None if await load_session(request) else await start_session(request, None)
    page = await _login_page(request, next)
    if fresh is not None:
        set_session_cookie(request, page, *fresh)
    return page


async def login(
    request: Request,
    username: Annotated[str, Form(max_length=256)] = "",
    password: Annotated[str, Form(max_length=4096)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/dashboard",
) -> Response:
    deps = deps_of(request)
    name, client, now_ms = normalize_username(username), client_of(request), deps.now_ms()
    shown = name if USERNAME.fullmatch(name) else "<not a valid username>"
    verdict = await deps.limiter.check(name, client, now_ms)
    if not verdict.allowed:
        await audit(request, "login_rate_limited", target=shown, scope=verdict.scope)
        headers = {"Retry-After": str(verdict.retry_after_s)}
        return await _login_page(
            request, next, 429, "Too many failed attempts. Try again later.", headers, username=shown
        )
    user = await deps.users.get(name)
    usable = user if user is not None and user.active else None
    ok = await asyncio.to_thread(deps.passwords.verify, usable.password_hash if usable else None, password)
    if not ok or usable is None:
        await deps.limiter.failed(name, client, now_ms)
        await audit(request, "login_failed", target=shown)
        return await _login_page(request, next, 401, "Wrong username or password.", username=shown)
    await deps.limiter.succeeded(name, client)
    if deps.passwords.needs_rehash(usable.password_hash):
        new_hash = await asyncio.to_thread(deps.passwords.hash, password)
        await deps.users.replace(replace(usable, password_hash=new_hash))
    old = await load_session(request)
    if old is not None:
        await deps.sessions.delete(old.id_digest)  # a new session id at login: no fixation
    session, token = await start_session(request, usable.username)
    response = _redirect(safe_next(next))
    set_session_cookie(request, response, session, token)
    await audit(request, "login_succeeded", target=usable.username, principal=Principal(usable, session))
    return response


async def logout(request: Request) -> Response:
    deps = deps_of(request)
    principal = principal_of(request)
    await deps.sessions.delete(principal.session.id_digest)
    await audit(request, "logout", target=principal.user.username)
    response = _redirect("/login")
    response.delete_cookie(
        deps.config.cookie_name,
        path="/",
        secure=deps.config.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    return response


async def account(request: Request, notice: str = "") -> Response:
    return await render(request, "account.html", notice=NOTICES.get(notice))


async def change_password(
    request: Request,
    current_password: Annotated[str, Form(max_length=4096)] = "",
    new_password: Annotated[str, Form(max_length=4096)] = "",
    confirm_password: Annotated[str, Form(max_length=4096)] = "",
) -> Response:
    deps = deps_of(request)
    principal = principal_of(request)
    user = principal.user
    if not await asyncio.to_thread(deps.passwords.verify, user.password_hash, current_password):
        await audit(request, "password_change_refused", target=user.username, why="wrong current password")
        return await render(request, "account.html", 400, error="The current password is wrong.")
    try:
        check_password(new_password, user.username)
        if new_password != confirm_password:
            raise PolicyViolation("the new passwords do not match")
    except PolicyViolation as exc:
        return await render(request, "account.html", 400, error=str(exc).capitalize() + ".")
    new_hash = await asyncio.to_thread(deps.passwords.hash, new_password)
    # The user set it: whoever set the previous one (an admin's reset) no longer knows it.
    changed = replace(user, password_hash=new_hash, password_set_by=user.username)
    if not await deps.users.replace(changed):
        return await render(request, "account.html", 409, error="Your account changed meanwhile; try again.")
    await deps.sessions.delete_for_user(user.username)
    session, token = await start_session(request, user.username)
    response = _redirect("/account?notice=password_changed")
    set_session_cookie(request, response, session, token)
    await audit(request, "password_changed", target=user.username, principal=principal)
    return response


def register(r: Guarded) -> None:
    """Add this module's routes, each with the permission it needs."""
    r.get("/login", None)(login_page)
    r.post("/login", None)(login)
    r.post("/logout", Permission.READ)(logout)
    r.get("/account", Permission.READ)(account)
    r.post("/account/password", Permission.READ)(change_password)


async def _login_page(
    request: Request,
    next: str,
    status_code: int = 200,
    error: str | None = None,
    headers: dict[str, str] | None = None,
    username: str = "",
) -> Response:
    deps = deps_of(request)
    no_users = await deps.users.count() == 0
    return await render(
        request,
        "login.html",
        status_code,
        headers,
        next=safe_next(next),
        error=error,
        no_users=no_users,
        first_run_command=deps.config.first_run_command,
        username=username if USERNAME.fullmatch(username) else "",  # kept after a failed login
    )
