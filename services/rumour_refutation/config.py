"""Settings of the rumour refutation service (env prefix `DSGOV_RUMOUR_`) and of its `case` command."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.rumour_refutation.domain.index import Thresholds
from services.rumour_refutation.fanout import FanoutSettings


class RumourSettings(BaseSettings):
    """Matching thresholds and fan-out sizes; the service needs no secret of its own."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_RUMOUR_", extra="ignore")

    text_threshold: float = Field(
        default=0.45,
        ge=0.05,
        le=1.0,
        description="share of a claim an output must carry to match (docs/rumour-matching.md: "
        "precision 0.935 / recall 0.946 on the test corpus at 0.45)",
    )
    phash_max_distance: int = Field(
        default=8, ge=0, le=64, description="perceptual hashes this many bits apart or fewer match"
    )
    reach_shards: int = Field(
        default=64, ge=1, le=4096, description="documents a case's 'already notified' facts spread over"
    )
    fanout_interval_s: float = Field(
        default=0.2, gt=0, le=60, description="how often due fan-out is looked for"
    )
    notices_per_round: int = Field(
        default=20_000, ge=1, le=1_000_000, description="recipients per fan-out round"
    )
    contents_per_apply: int = Field(
        default=500, ge=1, le=10_000, description="matches applied per round and case"
    )
    catch_up_interval_s: float = Field(
        default=5.0, ge=0, description="how often outputs/rumours of other processes are picked up; 0: never"
    )

    def thresholds(self) -> Thresholds:
        """The matching thresholds these settings describe."""
        return Thresholds(text=self.text_threshold, phash_max_distance=self.phash_max_distance)

    def fanout(self) -> FanoutSettings:
        """The worker settings these settings describe."""
        return FanoutSettings(
            interval_s=self.fanout_interval_s,
            contents_per_apply=self.contents_per_apply,
            notices_per_round=self.notices_per_round,
            catch_up_interval_s=self.catch_up_interval_s,
        )
