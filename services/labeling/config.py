"""Settings of the labeling service (env prefix `DSGOV_LABELING_`), validated at start-up."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.labeling.aigc import keys
from services.labeling.aigc.provider_code import provider_code_problem
from services.labeling.domain.ledger import LB9_MIN_RETENTION_DAYS


class LabelingSettings(BaseSettings):
    """Labeling-specific settings; the signing key has no default."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_LABELING_", extra="ignore")

    provider_code: str = Field(
        description="the provider's 27-character code written as ContentProducer (GB-I4, TC260-PG-20252A)"
    )
    signing_key: SecretStr = Field(
        description=(
            "signing key for ReservedCode1: SM2 `sm2:<64 hex>` (SecurityData, SM3withSM2, TC260-PG-202511A);"
            " or Ed25519 (legacy dsgov1 form): base64url of the 32-byte seed, or PEM (PKCS#8)"
        )
    )
    lb9_retention_days: int = Field(
        default=LB9_MIN_RETENTION_DAYS,
        ge=LB9_MIN_RETENTION_DAYS,
        description="how long unlabeled-copy recipients are kept (LB-9: at least six months)",
    )

    @field_validator("provider_code")
    @classmethod
    def _valid_code(cls, value: str) -> str:
        problem = provider_code_problem(value)
        if problem:
            raise ValueError(f"not a valid provider code: {problem}")
        return value

    @field_validator("signing_key")
    @classmethod
    def _loadable_key(cls, value: SecretStr) -> SecretStr:
        try:
            keys.load_signing_key(value.get_secret_value())
        except keys.KeyFormatError as exc:
            raise ValueError(
                f"DSGOV_LABELING_SIGNING_KEY is not an SM2 or Ed25519 private key: {exc}"
            ) from None
        return value

    def private_key(self) -> keys.SigningKey:
        """The signing key (validated above)."""
        return keys.load_signing_key(self.signing_key.get_secret_value())
