"""Settings of the review service (env prefix `DSGOV_REVIEW_`) and of its command line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Final, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.generation_review.domain.ladder import LEVELS, LadderPolicy
from services.generation_review.domain.review import GatePolicy
from services.generation_review.domain.rumours import RumourPolicy
from services.generation_review.domain.service_types import BIOMETRIC_EDITING
from shared.contracts.base import ServiceType

Level = Literal["warning", "restricted", "suspended", "closed"]
RULES: Final = "generation-review-rules/1"  # bump when the decision logic itself changes
DEMO_LIBRARY: Final = Path(__file__).with_name("demo_library.json")


@dataclass(frozen=True)
class ReviewPolicy:
    """Everything a decision depends on besides its inputs, the library and the rumours."""

    ladder: LadderPolicy
    rumours: RumourPolicy
    excerpt_chars: int = 2000
    gates: GatePolicy = field(default_factory=GatePolicy)

    @property
    def rule_set_version(self) -> str:
        """The rules and a digest of their settings: two decisions with equal values used equal rules."""
        settings = {
            "ladder": list(self.ladder.ladder),
            "window_s": self.ladder.window.total_seconds(),
            "durations_s": {k: v.total_seconds() for k, v in sorted(self.ladder.durations.items())},
            "severe": sorted(self.ladder.severe_categories),
            "rumour_text_containment": self.rumours.text_containment,
            "rumour_min_claim_chars": self.rumours.min_claim_chars,
            "rumour_phash_max_distance": self.rumours.phash_max_distance,
            "subjects_required": sorted(self.gates.subjects_required),
            "minor_restricted": sorted(self.gates.minor_restricted),
            "unknown_age_restricted": self.gates.unknown_age_restricted,
        }
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
        return f"{RULES}+{digest}"


class ReviewSettings(BaseSettings):
    """Review-specific settings; the service needs no secret of its own."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_REVIEW_", extra="ignore")

    demo_library: bool = Field(
        default=False,
        description="seed the demo library (not a real list) into an empty library; embedded default only",
    )
    demo_library_path: Path = Field(default=DEMO_LIBRARY, description="the JSON file loaded by demo_library")
    ladder: tuple[Level, ...] = Field(
        default=LEVELS, description="sanction for the 1st, 2nd, … strike (JSON list)"
    )
    strike_window_days: float = Field(
        default=30, gt=0, le=3650, description="strikes older than this age out"
    )
    warning_days: float = Field(default=0, ge=0, description="0: a warning restricts nothing and has no end")
    restricted_days: float = Field(default=7, gt=0, description="how long `restricted` lasts")
    suspended_days: float = Field(default=30, gt=0, description="how long `suspended` lasts")
    severe_categories: tuple[str, ...] = Field(
        default=("terrorism", "child_sexual_abuse"),
        description="library categories whose first strike closes the account (JSON list)",
    )
    rumour_text_containment: float = Field(default=0.8, gt=0, le=1)
    rumour_min_claim_chars: int = Field(default=6, ge=1)
    rumour_phash_max_distance: int = Field(default=8, ge=0, le=64)
    refresh_interval_s: float = Field(
        default=0.5, gt=0, le=60, description="how often library and rumour changes are picked up"
    )
    review_excerpt_chars: int = Field(default=2000, ge=100, description="text shown to a reviewer at most")
    subjects_required_for: tuple[ServiceType, ...] = Field(
        default=tuple(sorted(BIOMETRIC_EDITING)),  # type: ignore[arg-type]
        description="service types that always need declared biometric subjects (DS-14.2, JSON list)",
    )
    minor_restricted: tuple[ServiceType, ...] = Field(
        default=("digital_human",),
        description="service types refused to users under 18 (GA-10, JSON list)",
    )
    minor_restricted_unknown_age: bool = Field(
        default=False,
        description="refuse `minor_restricted` service types also to users whose age is unknown",
    )

    @field_validator("ladder")
    @classmethod
    def _ladder_not_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("the ladder needs at least one level")
        return value

    def policy(self) -> ReviewPolicy:
        """The domain policy these settings describe."""
        ladder = LadderPolicy(
            ladder=tuple(self.ladder),
            window=timedelta(days=self.strike_window_days),
            durations={
                "warning": timedelta(days=self.warning_days),
                "restricted": timedelta(days=self.restricted_days),
                "suspended": timedelta(days=self.suspended_days),
            },
            severe_categories=frozenset(self.severe_categories),
        )
        rumours = RumourPolicy(
            text_containment=self.rumour_text_containment,
            min_claim_chars=self.rumour_min_claim_chars,
            phash_max_distance=self.rumour_phash_max_distance,
        )
        gates = GatePolicy(
            subjects_required=frozenset(self.subjects_required_for),
            minor_restricted=frozenset(self.minor_restricted),
            unknown_age_restricted=self.minor_restricted_unknown_age,
        )
        return ReviewPolicy(
            ladder=ladder, rumours=rumours, excerpt_chars=self.review_excerpt_chars, gates=gates
        )


class CliSettings(BaseSettings):
    """What the `library` command line needs (env prefix `DSGOV_`), each overridable by an option."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    kafka_bootstrap: str = "127.0.0.1:9092"
    mongo_uri: str = Field(default="mongodb://127.0.0.1:27017/?directConnection=true")
    mongo_database: str | None = Field(default=None, description="defaults to dsgov_generation_review")
    provider_id: str | None = None
    topic_prefix: str = ""
