"""Settings of the console (env prefix `DSGOV_CONSOLE_`; the web port is the runtime's `DSGOV_HTTP_PORT`)."""

from __future__ import annotations

import ipaddress
import re
import shlex
import sys
from typing import Protocol
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.console.domain.ratelimit import FailureLog, LoginRateLimiter, RateLimitPolicy
from services.console.web.security import WebConfig

CREATE_ADMIN_ARGS = "-m services.console create-user --username NAME --role admin"


class ConsoleSettings(BaseSettings):
    """Console-specific settings; the session secret has no default."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_CONSOLE_", extra="ignore")

    session_secret: SecretStr = Field(
        min_length=32, description="keys the digests under which sessions are stored (never a default)"
    )
    insecure_cookies: bool = Field(
        default=False,
        description="drop the Secure cookie flag; only for the embedded runtime's plain http on 127.0.0.1",
    )
    http_host: str = Field(default="127.0.0.1", description="address the web app binds")
    http_port: int = Field(
        default=8000,
        ge=1,
        le=65535,
        validation_alias=AliasChoices("DSGOV_HTTP_PORT", "DSGOV_CONSOLE_HTTP_PORT"),
        description="port of the web app (set by the embedded runtime as DSGOV_HTTP_PORT)",
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        description="proxies trusted for X-Forwarded-For (comma-separated); unset: proxy headers ignored",
    )
    session_ttl_s: int = Field(default=8 * 3600, ge=60, description="a login lasts at most this long")
    anonymous_session_ttl_s: int = Field(
        default=3600, ge=60, description="a login form stays valid this long"
    )
    login_max_failures: int = Field(default=5, ge=1, description="per username + client address")
    login_max_failures_per_address: int = Field(
        default=10, ge=1, description="per client address, any usernames (password spraying)"
    )
    login_max_failures_global: int = Field(
        default=100, ge=1, description="over all addresses (spraying from many addresses)"
    )
    login_window_s: int = Field(default=15 * 60, ge=1, description="the sliding window of all three")
    allowed_hosts: str = Field(
        default="127.0.0.1,localhost",
        description="Host header values answered (comma-separated, no port, `*.example.org` allowed); "
        "the public URL's host is added; anything else gets 400",
    )
    public_url: str | None = Field(
        default=None,
        description="where people reach the console (behind a proxy, say); default http://<host>:<port>/",
    )
    publish_timeout_s: float = Field(default=10.0, gt=0, description="wait this long for the broker's ack")


class StoreLocation(Protocol):
    """Where the console keeps its data (`CommonSettings` has it)."""

    @property
    def mongo_uri(self) -> str: ...

    @property
    def mongo_database(self) -> str | None: ...


def public_url(settings: ConsoleSettings) -> str:
    """The console's URL as people open it: the setting, else the address it binds (loopback for any)."""
    if settings.public_url:
        return settings.public_url.rstrip("/") + "/"
    host = settings.http_host
    try:
        if ipaddress.ip_address(host).is_unspecified:
            host = "127.0.0.1"
        elif ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"http://{host}:{settings.http_port}/"


def allowed_hosts(settings: ConsoleSettings) -> tuple[str, ...]:
    """The configured hosts plus the public URL's host."""
    hosts = [h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip()]
    own = urlsplit(public_url(settings)).hostname
    if own and own not in hosts:
        hosts.append(own)
    return tuple(hosts)


def create_admin_command(store: StoreLocation, python: str | None = None) -> str:
    """The exact command that creates the first admin in this console's store, ready to paste.

    The interpreter is this one (the virtualenv's, where the project is installed, so it works from
    any directory); credentials in the URI are masked.
    """
    uri = re.sub(r"//[^/@]+@", "//<user>:<password>@", store.mongo_uri)
    env = f"DSGOV_MONGO_URI={shlex.quote(uri)} "
    if store.mongo_database:
        env += f"DSGOV_MONGO_DATABASE={shlex.quote(store.mongo_database)} "
    return env + shlex.quote(python or sys.executable) + " " + CREATE_ADMIN_ARGS


def web_config(settings: ConsoleSettings, store: StoreLocation) -> WebConfig:
    """The web app's configuration from the settings."""
    return WebConfig(
        session_secret=settings.session_secret.get_secret_value().encode("utf-8"),
        secure_cookies=not settings.insecure_cookies,
        session_ttl_s=settings.session_ttl_s,
        anonymous_session_ttl_s=settings.anonymous_session_ttl_s,
        allowed_hosts=allowed_hosts(settings),
        public_url=public_url(settings),
        first_run_command=create_admin_command(store),
    )


def login_limiter(log: FailureLog, settings: ConsoleSettings) -> LoginRateLimiter:
    """The login throttle with the configured figures."""
    policy = RateLimitPolicy(
        max_failures=settings.login_max_failures,
        window_s=settings.login_window_s,
        max_failures_per_address=settings.login_max_failures_per_address,
        max_failures_global=settings.login_max_failures_global,
    )
    return LoginRateLimiter(log, policy)
