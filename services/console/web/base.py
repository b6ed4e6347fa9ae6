"""What every page shares: dependencies, guarded route registration, rendering and audit helpers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final

import jinja2
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from services.console.domain.csrf import tokens_match
from services.console.domain.duties import tie
from services.console.domain.incident_reports import IncidentBoardSource
from services.console.domain.passwords import Passwords
from services.console.domain.ratelimit import LoginRateLimiter
from services.console.domain.roles import Permission, allows
from services.console.ports import (
    AuditEntry,
    AuditLog,
    Commands,
    LibraryView,
    PendingActions,
    ReadModel,
    ReviewDesk,
    ReviewView,
    RumourCommands,
    RumourView,
    Session,
    Sessions,
    Site,
    Users,
)
from services.console.ports_complaints import ComplaintDesk
from services.console.web.security import (
    CsrfRejected,
    Forbidden,
    LoginRequired,
    Principal,
    WebConfig,
    foreign_origin,
    session_digest,
)
from services.console.web.style import CSS

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
_UNSET: Final = object()


@dataclass
class ConsoleDeps:
    """Everything the web app talks to; the composition root builds it, tests pass fakes."""

    users: Users
    sessions: Sessions
    audit: AuditLog
    read_model: ReadModel
    commands: Commands
    limiter: LoginRateLimiter
    passwords: Passwords
    config: WebConfig
    library: LibraryView
    reviews: ReviewView
    rumours: RumourView  # rumour cases (DS-11)
    rumour_commands: RumourCommands
    desk: ReviewDesk
    pending: PendingActions  # requests waiting for a second person (separation of duties)
    site: Site
    incidents: IncidentBoardSource  # late and at-risk incident reports (CIR-4, issue 14)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    complaints: ComplaintDesk = field(kw_only=True)  # the complaints inbox (DS-12, GA-15)

    def now_ms(self) -> int:
        """The clock in milliseconds."""
        return int(self.clock().timestamp() * 1000)


def deps_of(request: Request) -> ConsoleDeps:
    """The app's dependencies."""
    deps: ConsoleDeps = request.app.state.deps
    return deps


def client_of(request: Request) -> str:
    """The client's address (proxy headers count only when the server was told to trust them)."""
    return request.client.host if request.client else "unknown"


async def load_session(request: Request) -> Session | None:
    """The request's live session, if its cookie names one (cached per request)."""
    cached: Session | object | None = getattr(request.state, "session", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    deps = deps_of(request)
    token = request.cookies.get(deps.config.cookie_name)
    session = None
    if token and len(token) <= 256:
        session = await deps.sessions.get(session_digest(deps.config.session_secret, token), deps.now_ms())
    request.state.session = session
    return session


async def load_principal(request: Request) -> Principal | None:
    """The logged-in, active user of the request, if any; the role is read afresh every request."""
    cached: Principal | object | None = getattr(request.state, "principal", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    session = await load_session(request)
    principal = None
    if session is not None and session.username:
        user = await deps_of(request).users.get(session.username)
        if user is not None and user.active:
            principal = Principal(user, session)
    request.state.principal = principal
    return principal


def principal_of(request: Request) -> Principal:
    """The principal a guarded route was let in with."""
    principal: Principal | None = request.state.principal
    if principal is None:  # pragma: no cover - guarded routes always set it
        raise LoginRequired
    return principal


def require(permission: Permission) -> Callable[[Request], Awaitable[None]]:
    """Dependency: a logged-in user whose role allows `permission`."""

    async def check_role(request: Request) -> None:
        principal = await load_principal(request)
        if principal is None:
            raise LoginRequired
        if not allows(principal.user.role, permission):
            raise Forbidden(principal, permission)

    return check_role


async def check_csrf(request: Request, csrf_token: Annotated[str, Form()] = "") -> None:
    """Dependency of every POST (the one place each passes through, see `Guarded`).

    The form must come from the console's own pages (`Origin`, else `Referer`, defence in depth)
    and carry the session's synchronizer token. Unknown `Host` headers never get this far
    (`TrustedHostMiddleware`).
    """
    headers, public = request.headers, deps_of(request).config.public_url
    why = foreign_origin(headers.get("origin"), headers.get("referer"), str(request.base_url), public)
    if why is not None:
        raise CsrfRejected(why)
    session = await load_session(request)
    if session is None or not tokens_match(session.csrf_token, csrf_token):
        raise CsrfRejected


Endpoint = Callable[..., Awaitable[Response]]


@dataclass
class Guarded:
    """Registers routes together with the permission each needs; no route can be added without one.

    `permissions` maps (method, path) to the permission, or None for the public login routes. The
    role-matrix test walks it to exercise every route with every role.
    """

    router: APIRouter = field(default_factory=APIRouter)
    permissions: dict[tuple[str, str], Permission | None] = field(default_factory=dict)

    def get(self, path: str, permission: Permission | None) -> Callable[[Endpoint], Endpoint]:
        """A page."""
        return self._add("GET", path, permission)

    def post(self, path: str, permission: Permission | None) -> Callable[[Endpoint], Endpoint]:
        """A form submission: CSRF-checked first, then the role."""
        return self._add("POST", path, permission)

    def _add(self, method: str, path: str, permission: Permission | None) -> Callable[[Endpoint], Endpoint]:
        def decorate(endpoint: Endpoint) -> Endpoint:
            checks: list[Any] = [Depends(check_csrf)] if method == "POST" else []
            if permission is not None:
                checks.append(Depends(require(permission)))
            self.permissions[(method, path)] = permission
            self.router.add_api_route(path, endpoint, methods=[method], dependencies=checks)
            return endpoint

        return decorate


def _when(value: Any) -> str:
    """An ISO timestamp as `YYYY-MM-DD HH:MM UTC`."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _when_ms(value: Any) -> str:
    """Milliseconds since the epoch as `YYYY-MM-DD HH:MM UTC`."""
    if not isinstance(value, int) or value <= 0:
        return "—"
    return _when(datetime.fromtimestamp(value / 1000, UTC).isoformat())


def _shown(value: Any) -> str:
    """A stored value as text: empty ones as "—" (never `None`), structures as compact JSON."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return str(value)


def build_templates() -> Jinja2Templates:
    """Jinja2 with autoescaping on for every template: user-supplied text is always escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["shown"] = _shown
    env.filters["when_ms"] = _when_ms
    env.globals["css"] = Markup(CSS)  # noqa: S704 - our own constant, allowed by its CSP hash
    return Jinja2Templates(env=env)


async def render(
    request: Request,
    template: str,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    """A page with the shared context: the user, their CSRF token and what their role allows."""
    templates: Jinja2Templates = request.app.state.templates
    session = await load_session(request)
    principal = await load_principal(request)

    def can(permission: str) -> bool:
        return principal is not None and allows(principal.user.role, Permission(permission))

    base = {
        "principal": principal,
        "csrf_token": session.csrf_token if session else "",
        "can": can,
        "path": request.url.path,
        "notice": None,
        "error": None,
    }
    return templates.TemplateResponse(
        request, template, base | context, status_code=status_code, headers=headers
    )


async def not_a_second_person(request: Request, *others: str) -> str | None:
    """Why the request's user may not act as the second person for `others`, or None (issue 16).

    Every four-eyes check of every page goes through here: the same account, or accounts tied by
    creating, enabling, promoting or setting the password of one another (domain/duties.py).
    """
    me = principal_of(request).user
    for other in others:
        why = tie(me, me.username, await deps_of(request).users.get(other), other)
        if why is not None:
            return why
    return None


async def audit(
    request: Request,
    action: str,
    *,
    target: str | None = None,
    principal: Principal | None = None,
    **details: Any,
) -> None:
    """Record an action with its actor (the request's user unless given)."""
    deps = deps_of(request)
    who = principal or await load_principal(request)
    await deps.audit.record(
        AuditEntry(
            action=action,
            actor=who.actor if who else None,
            at=deps.clock(),
            client=client_of(request),
            target=target,
            details=details,
        )
    )
