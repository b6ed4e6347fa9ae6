"""Identity verification events (DS-9, CS-2, NI-1..4)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import Payload, Reason

IdentityMethod = Literal["mobile", "id_card", "uscc", "national_network_id"]
AgeGroup = Literal["under_14", "14_to_17", "adult", "unknown"]


class IdentitySubmitted(Payload):
    """`dsgov.identity.submitted`: the platform asks dsgov to verify a user's real identity.

    Carries identifiers in plaintext on the wire only; dsgov never stores, emits or logs them.
    Which fields are needed depends on `method`; a missing one is a rejection, not a schema error.
    """

    user_id: str = Field(min_length=1, max_length=256, description="platform's opaque user id")
    method: IdentityMethod
    mobile: str | None = Field(default=None, max_length=32)
    mobile_otp_verified_at: AwareDatetime | None = Field(
        default=None, description="when the platform's SMS one-time code was confirmed"
    )
    full_name: str | None = Field(default=None, max_length=200)
    id_card_number: str | None = Field(default=None, max_length=32)
    organization_name: str | None = Field(default=None, max_length=300)
    uscc: str | None = Field(default=None, max_length=32)
    network_id_token: str | None = Field(
        default=None, max_length=4096, description="opaque national network identity credential"
    )


class IdentityDecision(Payload):
    """Common fields of `dsgov.identity.verified` and `dsgov.identity.rejected`."""

    user_id: str
    method: IdentityMethod
    reasons: list[str] = Field(default_factory=list, description="reason codes (empty when verified)")
    age_group: AgeGroup = "unknown"
    decision_id: str | None = None
    decided_at: AwareDatetime | None = None
    reason_details: list[Reason] = Field(default_factory=list, description="codes with article ids")
    masked_identifier: str | None = Field(
        default=None, description="display form of the identifier, e.g. `110***********002X`"
    )


class IdentityVerified(IdentityDecision):
    """`dsgov.identity.verified`: the user may use publishing functions (DS-9)."""


class IdentityRejected(IdentityDecision):
    """`dsgov.identity.rejected`: verification failed; `reasons` says why."""
