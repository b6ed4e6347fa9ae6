"""Sessions, cookies, role checks and CSRF checks for the web app."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from services.console.domain.roles import Permission
from services.console.ports import Actor, Session, User

SECURE_COOKIE: Final = "__Host-dsgov_console"  # the __Host- prefix: Secure, Path=/, no Domain
PLAIN_COOKIE: Final = "dsgov_console"  # plain http on 127.0.0.1 only (DSGOV_CONSOLE_INSECURE_COOKIES)


@dataclass(frozen=True)
class WebConfig:
    """How the web app treats sessions and cookies."""

    session_secret: bytes
    secure_cookies: bool = True
    session_ttl_s: int = 8 * 3600
    anonymous_session_ttl_s: int = 3600
    # `Host` values the app answers (without port; `*.example.org` allows subdomains); others get 400.
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
    public_url: str = "http://127.0.0.1:8000/"  # where people reach the console (shown by the CLI)
    first_run_command: str = ""  # the exact command that creates the first admin (login page)

    @property
    def cookie_name(self) -> str:
        """The session cookie's name."""
        return SECURE_COOKIE if self.secure_cookies else PLAIN_COOKIE


def new_session_token() -> str:
    """The cookie value of a new session (256 bits)."""
    return secrets.token_urlsafe(32)


def session_digest(secret: bytes, token: str) -> str:
    """Under which id a session is stored: a leaked sessions collection yields no usable cookie."""
    return hmac.new(secret, token.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Principal:
    """The logged-in user of a request."""

    user: User
    session: Session

    @property
    def actor(self) -> Actor:
        """As recorded in audit entries and commands."""
        return Actor(self.user.username, self.user.role)


class LoginRequired(Exception):
    """No valid logged-in session."""


class Forbidden(Exception):
    """The user's role does not allow this."""

    def __init__(self, principal: Principal, permission: Permission) -> None:
        """Who was refused what."""
        super().__init__(f"{principal.user.role} may not {permission.value}")
        self.principal = principal
        self.permission = permission


class CsrfRejected(Exception):
    """A POST without the session's CSRF token, or sent from another origin."""

    def __init__(self, why: str = "token") -> None:
        """`why`: `token` (missing or wrong) or what was wrong with the request's origin."""
        super().__init__(why)
        self.why = why


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of a URL, lower case, default ports dropped; None when it has none."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def foreign_origin(origin: str | None, referer: str | None, *own: str) -> str | None:
    """Why a form submission did not come from the console's own pages, or None when it did.

    `own`: the console's URLs (the request's own, and the public one a TLS proxy serves).
    `Origin` decides when present (browsers send it with every POST; `null` from sandboxed or
    privacy-stripped contexts is refused); else the `Referer`; a POST with neither is refused
    (OWASP's recommendation: a browser always sends one of them to the console, whose
    `Referrer-Policy: same-origin` keeps the referrer for its own pages).
    """
    expected = {origin_of(url) for url in own} - {None}
    if origin is not None:
        return None if origin_of(origin) in expected else "foreign_origin"
    if referer is not None:
        return None if origin_of(referer) in expected else "foreign_referer"
    return "no_origin"


def safe_next(target: str | None) -> str:
    """A same-site path to return to after login; anything else goes to the dashboard."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/dashboard"
