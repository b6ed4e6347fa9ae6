"""Settings of regulator reporting (env prefix `DSGOV_REPORTING_`)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.regulator_reporting.chain import Signer, parse_seed
from services.regulator_reporting.domain.complaints import StatisticsPolicy
from services.regulator_reporting.domain.cyber import DAY_MS, HOUR_MS, IncidentPolicy, Thresholds
from services.regulator_reporting.domain.incidents import Policy


class ReportingSettings(BaseSettings):
    """Reporting-specific settings; the signing key has no default."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_REPORTING_", extra="ignore")

    signing_key: SecretStr = Field(
        description="the current Ed25519 signing key: base64 of its raw 32-byte seed (standard or URL-safe)"
    )
    key_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$",
        description="names the signing key in every report; a new key needs a new id",
    )
    ack_timeout_s: float = Field(
        default=900.0, gt=0, description="a report not acknowledged within this time is sent again"
    )
    settle_s: float = Field(
        default=30.0, ge=0, description="rumour and takedown cases gather facts until quiet this long"
    )
    max_delay_s: float = Field(
        default=300.0, ge=0, description="... but are reported at most this long after their first change"
    )
    batch: int = Field(default=2000, ge=1, le=5_000, description="reports numbered or published per round")
    interval_s: float = Field(default=0.1, gt=0, description="how often the sequencer and publisher look")
    reports_partition: int = Field(
        default=0,
        ge=0,
        description="the partition of dsgov.regulator.reports carrying the served providers' streams",
    )

    # Cybersecurity incidents (CIR: CAC Measures for Reporting Cybersecurity Incidents, 2025-11-01).
    # Figures may be lowered (graded stricter) and deadlines shortened, never relaxed past the Measures.
    incident_people: tuple[int, int, int] = Field(
        default=(1_000_000, 10_000_000, 100_000_000),
        description="people whose personal information is involved: lowest figure of 较大, 重大, 特别重大",
    )
    incident_loss_cny: tuple[int, int, int] = Field(
        default=(5_000_000, 20_000_000, 100_000_000),
        description="direct economic loss in yuan: lowest figure of 较大, 重大, 特别重大",
    )
    incident_report_within_h: float = Field(
        default=4.0, gt=0, le=4.0, description="CIR Art. 4: other operators"
    )
    incident_report_within_cii_h: float = Field(
        default=1.0, gt=0, le=1.0, description="CIR Art. 4: CII operators"
    )
    incident_summary_within_days: float = Field(
        default=30.0, gt=0, le=30.0, description="after handling ended"
    )
    incident_reminder_before_days: float = Field(default=7.0, gt=0, description="reminder report before that")
    incident_summary_before_days: float = Field(default=1.0, ge=0, description="summary report before that")
    timer_interval_s: float = Field(default=5.0, gt=0, description="how often incident timers are looked at")

    # Complaint handling statistics (DS-12, GA-15, PI-50): one report per provider and period.
    complaint_statistics_period: Literal["day", "week", "month"] = Field(
        default="month", description="calendar day, ISO week (Monday first) or month, in Beijing time"
    )
    complaint_statistics_delay_s: float = Field(
        default=3600.0, ge=0, description="a period is counted this long after it ended (late events settle)"
    )
    complaint_statistics_interval_s: float = Field(
        default=60.0, gt=0, description="how often the last closed period is (re)counted"
    )

    @model_validator(mode="after")
    def _incident_rules(self) -> Self:
        for name, published in (
            ("incident_people", (1_000_000, 10_000_000, 100_000_000)),
            ("incident_loss_cny", (5_000_000, 20_000_000, 100_000_000)),
        ):
            figures: tuple[int, int, int] = getattr(self, name)
            if not 0 < figures[0] < figures[1] < figures[2]:
                raise ValueError(f"DSGOV_REPORTING_{name.upper()} must be three increasing positive figures")
            if any(f > p for f, p in zip(figures, published, strict=True)):
                raise ValueError(
                    f"DSGOV_REPORTING_{name.upper()} may not exceed the published figures {published}"
                )
        if (
            not self.incident_summary_before_days
            < self.incident_reminder_before_days
            < self.incident_summary_within_days
        ):
            raise ValueError("incident summary lead < reminder lead < summary deadline is required")
        return self

    @field_validator("signing_key")
    @classmethod
    def _is_a_seed(cls, value: SecretStr) -> SecretStr:
        parse_seed(value.get_secret_value())  # raises ValueError with a message that names no secret
        return value

    def signer(self) -> Signer:
        """The current signer."""
        return Signer.from_seed(self.key_id, parse_seed(self.signing_key.get_secret_value()))

    def policy(self) -> Policy:
        """The incident windows."""
        return Policy(
            settle_ms=int(self.settle_s * 1000),
            max_delay_ms=int(self.max_delay_s * 1000),
            incidents=IncidentPolicy(
                thresholds=Thresholds(people=self.incident_people, loss_cny=self.incident_loss_cny),
                report_within_ms=int(self.incident_report_within_h * HOUR_MS),
                report_within_cii_ms=int(self.incident_report_within_cii_h * HOUR_MS),
                summary_within_ms=int(self.incident_summary_within_days * DAY_MS),
                reminder_before_ms=int(self.incident_reminder_before_days * DAY_MS),
                summary_before_ms=int(self.incident_summary_before_days * DAY_MS),
            ),
            statistics=StatisticsPolicy(
                period=self.complaint_statistics_period,
                delay_ms=int(self.complaint_statistics_delay_s * 1000),
            ),
        )


class StoreSettings(BaseSettings):
    """What the admin commands (`export-keys`, `reports`) need: where the ledger is, whom it serves.

    Tenancy as in `CommonSettings`: `DSGOV_PROVIDER_IDS` (comma-separated) or `DSGOV_PROVIDER_ID`;
    neither set is refused (never fail open).
    """

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    mongo_uri: str = Field(default="mongodb://127.0.0.1:27017/?directConnection=true")
    mongo_database: str | None = Field(default=None, description="defaults to dsgov_regulator_reporting")
    provider_ids: str = Field(
        default="", max_length=4096, description="the served providers, comma-separated"
    )
    provider_id: str = Field(default="", max_length=128, description="a single served provider")

    @model_validator(mode="after")
    def _some_provider(self) -> Self:
        if not self.served_providers:
            raise ValueError(
                "set DSGOV_PROVIDER_IDS (or DSGOV_PROVIDER_ID): the providers this deployment serves"
            )
        return self

    @property
    def served_providers(self) -> tuple[str, ...]:
        """Every served provider id, sorted."""
        listed = self.provider_ids or self.provider_id
        return tuple(sorted({p.strip() for p in listed.split(",") if p.strip()}))

    def database(self) -> str:
        """The service's database (same rule as `CommonSettings.database_for`)."""
        return self.mongo_database or "dsgov_regulator_reporting"
