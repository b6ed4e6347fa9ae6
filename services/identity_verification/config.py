"""Settings of the identity service (env prefix `DSGOV_IDENTITY_`)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.identity_verification.domain.record import history_retention


class IdentitySettings(BaseSettings):
    """Identity-specific settings; secrets have no defaults."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_IDENTITY_", extra="ignore")

    hmac_key: SecretStr = Field(
        min_length=32, description="keys the HMAC of identifiers (never stored plain)"
    )
    authority_mode: Literal["http", "simulator"] = Field(
        default="http", description="`simulator` only for the embedded default and tests"
    )
    authority_url: str | None = None
    authority_token: SecretStr | None = None
    authority_timeout_s: float = Field(default=5.0, gt=0)
    otp_max_age_s: int = Field(default=600, gt=0, description="how recent the SMS code confirmation must be")
    history_retention_days: int = Field(
        default=184, description="earlier decisions kept this long; refused below 184 days (CS-1)"
    )

    @field_validator("history_retention_days")
    @classmethod
    def _at_least_six_months(cls, value: int) -> int:
        history_retention(value)
        return value

    @model_validator(mode="after")
    def _http_needs_endpoint(self) -> Self:
        if self.authority_mode == "http" and not (self.authority_url and self.authority_token):
            raise ValueError(
                "DSGOV_IDENTITY_AUTHORITY_URL and DSGOV_IDENTITY_AUTHORITY_TOKEN are required "
                "when DSGOV_IDENTITY_AUTHORITY_MODE=http"
            )
        return self
