"""Biometric consent events (DS-14.2, PI-14, PI-15, PI-28..31)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import Actor, BiometricType, Payload, Reason, ServiceType

EvidenceMethod = Literal["in_app_confirmation", "signed_form", "recorded_statement"]


class Evidence(Payload):
    """How the subject's separate consent was captured (references and hashes only)."""

    method: EvidenceMethod
    notice_version: str | None = Field(default=None, max_length=100)
    artifact_sha256: str | None = Field(default=None, max_length=64)
    captured_at: AwareDatetime | None = None


class AdultDeclaration(Payload):
    """The platform's declaration that a subject of unknown age is an adult, and its evidence (PI-31).

    `method` is free text (e.g. `id_document_check`, `signed_form`): which methods are accepted is
    the consent service's policy (`DSGOV_CONSENT_ADULT_DECLARATION_METHODS`).
    """

    method: str = Field(min_length=1, max_length=64)
    artifact_sha256: str | None = Field(default=None, max_length=64)
    declared_at: AwareDatetime | None = None


class ConsentGrantSubmitted(Payload):
    """`dsgov.consent.grant-submitted`: a person consents to having their face/voice edited."""

    consent_id: str = Field(min_length=1, max_length=256)
    subject_id: str = Field(min_length=1, max_length=256)
    grantee_user_id: str = Field(min_length=1, max_length=256)
    biometric_types: list[BiometricType]
    purpose: str = Field(default="", max_length=2000)
    service_types: list[ServiceType] | None = None
    expires_at: AwareDatetime
    evidence: Evidence
    guardian_user_id: str | None = Field(default=None, max_length=256)
    subject_adult_declaration: AdultDeclaration | None = Field(
        default=None,
        description="the platform declares a subject of unknown age adult, with evidence (PI-31)",
    )


class ConsentWithdrawalSubmitted(Payload):
    """`dsgov.consent.withdrawal-submitted` from the platform (the subject withdraws)."""

    consent_id: str = Field(min_length=1, max_length=256)
    subject_id: str = Field(min_length=1, max_length=256)
    reason: str | None = Field(default=None, max_length=2000)


class ConsoleConsentWithdrawal(ConsentWithdrawalSubmitted):
    """`dsgov.consent.withdrawal-submitted` on `dsgov.console.commands` (an operator withdraws)."""

    actor: Actor
    reason: str = Field(min_length=1, max_length=2000)


class ConsentEvent(Payload):
    """Common fields of the outbound consent events."""

    consent_id: str
    subject_id: str
    grantee_user_id: str
    biometric_types: list[BiometricType] = Field(default_factory=list)
    expires_at: AwareDatetime | None = None
    reasons: list[str] = Field(default_factory=list)
    actor: str | None = Field(default=None, description="`subject`, `system` or `console:<user>`")
    service_types: list[ServiceType] | None = None
    reason_details: list[Reason] = Field(default_factory=list)
    occurred_at: AwareDatetime | None = None
    purpose: str | None = Field(default=None, description="as shown to the subject")
    evidence: Evidence | None = Field(default=None, description="how the consent was captured")
    guardian_user_id: str | None = None


class ConsentGranted(ConsentEvent):
    """`dsgov.consent.granted`."""


class ConsentRejected(ConsentEvent):
    """`dsgov.consent.rejected`: `reasons` says why."""


class ConsentWithdrawn(ConsentEvent):
    """`dsgov.consent.withdrawn`: no processing from now on; earlier processing stays valid (PI-15)."""


class ConsentExpired(ConsentEvent):
    """`dsgov.consent.expired`."""
