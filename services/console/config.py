"""Settings of the console (env prefix `DSGOV_CONSOLE_`; the web port is the runtime's `DSGOV_HTTP_PORT`)."""

from __future__ import annotations

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    login_max_failures: int = Field(default=5, ge=1)
    login_window_s: int = Field(default=15 * 60, ge=1)
    publish_timeout_s: float = Field(default=10.0, gt=0, description="wait this long for the broker's ack")
