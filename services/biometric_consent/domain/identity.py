"""The service's own projection of `dsgov.identity`: who is real-name verified, and their age group.

A service never reads another service's database (ARCHITECTURE): the identity service's
decisions arrive as events and are kept here, one document per user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.biometric_consent.domain.consent import IdentityFacts, epoch_ms
from services.biometric_consent.domain.history import rfc3339
from services.biometric_consent.domain.state import IdentityStatus, UserIdentity
from shared.standards.identifiers import AgeGroup


@dataclass(frozen=True)
class IdentityDecision:
    """One `dsgov.identity.verified` / `dsgov.identity.rejected`, as plain values."""

    user_id: str
    provider_id: str
    outcome: IdentityStatus
    age_group: AgeGroup
    method: str
    decided_at: datetime  # the identity service's decision time (the envelope time if absent)
    event_id: str


def apply_identity(state: UserIdentity | None, decision: IdentityDecision) -> UserIdentity | None:
    """The user's projection after `decision`; None when it is older than what is known.

    The newest decision wins (the identity service decides afresh on every submission);
    a replayed older decision never overrides a newer one.
    """
    decided_ms = epoch_ms(decision.decided_at)
    if state and state.decided_ms > decided_ms:
        return None
    return UserIdentity(
        user_id=decision.user_id,
        provider_id=decision.provider_id,
        identity_status=decision.outcome,
        age_group=decision.age_group if decision.outcome == "verified" else "unknown",
        method=decision.method,
        decided_at=rfc3339(decision.decided_at),
        decided_ms=decided_ms,
        event_id=decision.event_id,
    )


def facts_of(state: UserIdentity) -> IdentityFacts:
    """The facts a grant decision needs, from a stored projection."""
    return IdentityFacts(
        user_id=state.user_id, verified=state.identity_status == "verified", age_group=state.age_group
    )
