"""Settings of `network_log` (env prefix `DSGOV_NETLOG_`); keys have no defaults."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.network_log.domain.checkpoint import Signer
from services.network_log.domain.retention import check_retention


def parse_seed(text: str) -> bytes:
    """The 32-byte Ed25519 seed from standard or URL-safe base64 (padding optional)."""
    cleaned = text.strip()
    try:
        seed = base64.urlsafe_b64decode(
            cleaned.replace("+", "-").replace("/", "_") + "=" * (-len(cleaned) % 4)
        )
    except (binascii.Error, ValueError):
        raise ValueError("the signing key is not base64") from None
    if len(seed) != 32:
        raise ValueError(f"the signing key must be 32 bytes, got {len(seed)}")
    return seed


class NetworkLogSettings(BaseSettings):
    """What the log keeps, for how long, and with which keys."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_NETLOG_", extra="ignore")

    encryption_key: SecretStr = Field(
        min_length=32, description="encrypts entries at rest (AES-256-GCM) and keys the IP blind index"
    )
    signing_key: SecretStr = Field(description="Ed25519 seed (base64, 32 bytes) that signs checkpoints")
    key_id: str = Field(default="netlog-1", pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")
    log_name: str = Field(default="dsgov.network_log", description="names this log in checkpoints")
    retention_days: int = Field(
        default=184, description="how long entries are kept; below 184 days the service refuses (CS-1)"
    )
    segment_s: int = Field(default=3600, ge=1, le=86_400, description="segment length: hourly by default")
    seal_interval_s: float = Field(default=10.0, gt=0, description="how often closed segments are sealed")
    retention_interval_s: float = Field(default=3600.0, gt=0, description="how often expired segments go")

    @field_validator("retention_days")
    @classmethod
    def _at_least_six_months(cls, value: int) -> int:
        check_retention(timedelta(days=value))  # refuse to start below the legal floor
        return value

    @field_validator("signing_key")
    @classmethod
    def _is_a_seed(cls, value: SecretStr) -> SecretStr:
        parse_seed(value.get_secret_value())
        return value

    @property
    def retention(self) -> timedelta:
        """The retention period."""
        return timedelta(days=self.retention_days)

    @property
    def segment_ms(self) -> int:
        """Segment length in milliseconds."""
        return self.segment_s * 1000

    def signer(self) -> Signer:
        """The checkpoint and manifest signer."""
        return Signer(self.key_id, parse_seed(self.signing_key.get_secret_value()))
