"""Builders for the consent domain tests: fixed time, verified people, a valid grant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from services.biometric_consent.domain.consent import (
    Cause,
    EvidenceRef,
    GrantRequest,
    IdentityFacts,
    WithdrawalRequest,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PROVIDER = "provider-unit"
CONSENT = "consent-1"
ARTIFACT = "ab" * 32

ADULTS = {
    "alice": IdentityFacts("alice", verified=True, age_group="adult"),
    "bob": IdentityFacts("bob", verified=True, age_group="adult"),
    "guardian": IdentityFacts("guardian", verified=True, age_group="adult"),
}


def grant(**changes: Any) -> GrantRequest:
    """A grant every rule accepts: alice consents to bob editing her face for 30 days."""
    base = GrantRequest(
        consent_id=CONSENT,
        subject_id="alice",
        grantee_user_id="bob",
        biometric_types=("face",),
        expires_at=NOW + timedelta(days=30),
        evidence=EvidenceRef("in_app_confirmation", "notice-v3", ARTIFACT, NOW - timedelta(minutes=1)),
        purpose="birthday video",
    )
    return replace(base, **changes)


def evidence(**changes: Any) -> EvidenceRef:
    return replace(grant().evidence, **changes)


def cause(event_id: str = "evt-1", now: datetime = NOW) -> Cause:
    return Cause(now=now, provider_id=PROVIDER, consent_id=CONSENT, event_id=event_id, correlation_id="corr")


def by_subject(subject_id: str = "alice", reason: str | None = None) -> WithdrawalRequest:
    return WithdrawalRequest(CONSENT, subject_id, "platform", reason=reason)


def by_console(role: str = "operator", user: str = "ops-li") -> WithdrawalRequest:
    return WithdrawalRequest(
        CONSENT, "alice", "console", "asked by phone", console_user=user, console_role=role
    )
