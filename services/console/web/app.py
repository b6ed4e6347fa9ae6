"""The console's FastAPI app: server-rendered pages, no client-side scripts, every route role-guarded."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.web import (
    pages_admin,
    pages_auth,
    pages_complaints,
    pages_consents,
    pages_dashboard,
    pages_library,
    pages_review,
    pages_rumours,
)
from services.console.web.base import ConsoleDeps, Guarded, audit, build_templates, render
from services.console.web.security import CsrfRejected, Forbidden, LoginRequired
from services.console.web.style import CONTENT_SECURITY_POLICY
from shared.observability import get_logger

log = get_logger(__name__)


class SecurityHeaders:
    """Headers on every response: no scripts, no framing, no caching of personal data."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        """Wrap `app`; `hsts` when served over https (secure cookies on)."""
        self.app = app
        self.headers: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            # same-origin: the console's own form posts carry Origin/Referer (checked on every POST;
            # with no-referrer Chromium sends `Origin: null`); other sites still get nothing.
            (b"referrer-policy", b"same-origin"),
            (b"cache-control", b"no-store"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, with_headers)


def create_app(deps: ConsoleDeps) -> FastAPI:
    """Build the app around its dependencies."""
    app = FastAPI(title="dsgov console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.deps = deps
    app.state.templates = build_templates()
    guarded = Guarded(app.router)  # straight onto the app: every route is an APIRoute of `app.routes`
    for pages in (pages_auth, pages_dashboard, pages_consents, pages_review, pages_library, pages_admin):
        pages.register(guarded)
    pages_rumours.register(guarded)
    pages_complaints.register(guarded)  # the complaints inbox (DS-12, GA-15)
    app.state.route_permissions = guarded.permissions
    _add_error_handlers(app)
    # Unknown Host headers get 400 before any route runs (DNS rebinding, poisoned absolute URLs).
    app.add_middleware(
        TrustedHostMiddleware, allowed_hosts=list(deps.config.allowed_hosts), www_redirect=False
    )
    app.add_middleware(SecurityHeaders, hsts=deps.config.secure_cookies)  # outermost: on the 400 too
    return app


async def prepare_store(deps: ConsoleDeps) -> None:
    """Indexes of the console's own collections, and the console's URL for the command line."""
    for repo in (deps.sessions, deps.limiter.log, deps.audit, deps.pending, deps.users):
        ensure = getattr(repo, "ensure_indexes", None)
        if ensure is not None:
            await ensure()
    await deps.site.record_url(deps.config.public_url)


def _add_error_handlers(app: FastAPI) -> None:
    async def login_required(request: Request, exc: Exception) -> Response:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        return await render(request, "error.html", 403, title="Please sign in", message=_STALE)

    async def forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Forbidden)
        await audit(request, "access_denied", target=f"{request.method} {request.url.path}")
        message = f"Your role ({exc.principal.user.role}) does not allow this."
        return await render(request, "error.html", 403, title="Not allowed", message=message)

    async def csrf_rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, CsrfRejected)
        origin = (request.headers.get("origin") or request.headers.get("referer") or "")[:200]
        log.warning("console.csrf_rejected", path=request.url.path, why=exc.why, origin=origin)
        details: dict[str, Any] = {"why": exc.why} | ({"origin": origin} if origin else {})
        await audit(request, "csrf_rejected", target=f"{request.method} {request.url.path}", **details)
        return await render(request, "error.html", 403, title="Request refused", message=_STALE)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
        return await render(request, "error.html", exc.status_code, title=title, message=str(exc.detail))

    async def invalid(request: Request, exc: Exception) -> Response:
        return await render(request, "error.html", 400, title="Invalid request", message=_INVALID)

    handlers: dict[Any, Any] = {
        LoginRequired: login_required,
        Forbidden: forbidden,
        CsrfRejected: csrf_rejected,
        StarletteHTTPException: http_error,
        RequestValidationError: invalid,
    }
    for exc_type, handler in handlers.items():
        app.add_exception_handler(exc_type, handler)


_STALE = "This form has expired or did not come from this console. Reload the page and try again."
_INVALID = "Some fields are missing or too long."


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="/")
