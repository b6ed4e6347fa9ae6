"""Settings of the consent service (env prefix `DSGOV_CONSENT_`) and of its proof command."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.biometric_consent.domain.consent import (
    DEFAULT_ADULT_DECLARATION_METHODS,
    Policy,
    UnknownAgePolicy,
)


class ConsentSettings(BaseSettings):
    """Consent-specific settings; the service needs no secret of its own."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_CONSENT_", extra="ignore")

    max_duration_days: int = Field(
        default=365, ge=1, le=3650, description="longest consent accepted, counted from the decision"
    )
    clock_skew_s: int = Field(default=120, ge=0, le=3600, description="tolerance for evidence times")
    expiry_interval_s: float = Field(
        default=5.0,
        gt=0,
        le=50,
        description="how often due expiries are looked for (DS-14.2: within a minute)",
    )
    expiry_batch: int = Field(default=500, ge=1, le=10_000, description="expiries applied per round at most")
    unknown_age_policy: UnknownAgePolicy = Field(
        default="guardian_unless_declared_adult",
        description=(
            "PI-31, a subject of unknown age: a guardian consents unless the platform declares the "
            "subject adult with accepted evidence (`guardian_unless_declared_adult`), or always "
            "(`guardian_required`)"
        ),
    )
    adult_declaration_methods: str = Field(
        default=",".join(sorted(DEFAULT_ADULT_DECLARATION_METHODS)),
        description="comma-separated evidence methods an adult declaration may rest on",
    )

    def policy(self) -> Policy:
        """The domain policy these settings describe."""
        methods = frozenset(m.strip() for m in self.adult_declaration_methods.split(",") if m.strip())
        return Policy(
            max_duration=timedelta(days=self.max_duration_days),
            clock_skew=timedelta(seconds=self.clock_skew_s),
            unknown_age=self.unknown_age_policy,
            adult_declaration_methods=methods,
        )
