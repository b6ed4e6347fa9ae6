"""Settings every service shares (env prefix `DSGOV_`); each service adds its own prefix on top."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Infrastructure settings; secrets have no defaults."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    kafka_bootstrap: str = Field(default="127.0.0.1:9092", description="host:port[,host:port]")
    mongo_uri: str = Field(default="mongodb://127.0.0.1:27017/?directConnection=true")
    mongo_database: str | None = Field(default=None, description="defaults to dsgov_<service>")
    provider_ids: str = Field(
        default="",
        max_length=4096,
        description="the providers (tenants) served, comma-separated; events of others are dead-lettered",
    )
    provider_id: str = Field(
        default="", max_length=128, description="a single served provider (DSGOV_PROVIDER_IDS wins)"
    )
    topic_prefix: str = Field(default="", description="namespaces every topic (tests); empty in production")
    health_host: str = "127.0.0.1"
    health_port: int = Field(default=0, ge=0, le=65535, description="0 disables the health endpoint")
    log_json: bool | None = Field(default=None, description="unset: JSON unless on a terminal")
    log_level: str = "INFO"
    deadletter_key: SecretStr = Field(description="encrypts dead letters from sensitive topics")
    max_batch: int = Field(default=500, ge=1, le=10_000)
    batch_timeout_ms: int = Field(default=20, ge=1, le=5_000)
    fetch_max_wait_ms: int = Field(
        default=25,
        ge=1,
        le=5_000,
        description="longest a fetch waits at the broker; the embedded broker does not answer early",
    )
    max_message_bytes: int = Field(default=1_000_000, ge=1_024)
    max_attempts: int = Field(default=3, ge=1, le=20)
    relay_interval_s: float = Field(default=2.0, gt=0)
    graceful_timeout_s: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _some_provider(self) -> CommonSettings:
        # Never fail open: a deployment that does not say whom it serves serves nobody.
        if not self.served_providers:
            raise ValueError(
                "set DSGOV_PROVIDER_IDS (or DSGOV_PROVIDER_ID): the providers this deployment serves"
            )
        if self.provider_id not in self.served_providers:
            self.provider_id = min(self.served_providers)  # the default provider of single-tenant code
        return self

    @property
    def served_providers(self) -> frozenset[str]:
        """Every served provider id."""
        listed = self.provider_ids or self.provider_id
        return frozenset(p.strip() for p in listed.split(",") if p.strip())

    def database_for(self, service: str) -> str:
        """The service's own database: a service never reads another's (ARCHITECTURE)."""
        return self.mongo_database or f"dsgov_{service}"
