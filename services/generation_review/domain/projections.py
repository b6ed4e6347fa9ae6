"""The service's own views of other services' facts: identities (DS-9) and consents (DS-14.2).

A service never reads another service's database (ARCHITECTURE): what the identity and consent
services decide arrives as events and is kept here. Users are `user:<provider>/<user_id>`
documents (identity plus standing on the ladder); consents are `consent:<provider>/<consent_id>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from services.generation_review.domain.ladder import Sanction, in_force, new_standing

FINAL_CONSENT: Final = frozenset({"withdrawn", "expired"})


@dataclass(frozen=True)
class UserFacts:
    """What a decision needs to know about the requesting user."""

    user_id: str
    verified: bool
    sanction: Sanction | None = None


@dataclass(frozen=True)
class ConsentFacts:
    """One consent as projected."""

    consent_id: str
    subject_id: str
    grantee_user_id: str
    status: str  # granted · withdrawn · expired · rejected
    biometric_types: tuple[str, ...]
    service_types: tuple[str, ...] | None
    expires_at: datetime | None

    def active(self, now: datetime) -> bool:
        """Granted and not past its expiry (the expiry event may still be on its way)."""
        return self.status == "granted" and (self.expires_at is None or self.expires_at > now)

    def effective_status(self, now: datetime) -> str:
        """The status at `now`, counting a passed `expires_at` as expired."""
        if self.status == "granted" and not self.active(now):
            return "expired"
        return self.status


def new_user(provider_id: str, user_id: str) -> dict[str, Any]:
    """A user the service has heard nothing about yet."""
    return {
        "kind": "user",
        "provider_id": provider_id,
        "user_id": user_id,
        "identity": None,
        "standing": new_standing(),
    }


def apply_identity(
    state: Mapping[str, Any] | None,
    provider_id: str,
    user_id: str,
    outcome: str,
    decided_at: datetime,
    event_id: str,
) -> dict[str, Any] | None:
    """The user after an identity decision; None when it is older than the one known (newest wins)."""
    current = dict(state or new_user(provider_id, user_id))
    known = current.get("identity")
    decided_ms = int(decided_at.timestamp() * 1000)
    if known and int(known["decided_ms"]) > decided_ms:
        return None
    current["identity"] = {"status": outcome, "decided_ms": decided_ms, "event_id": event_id}
    return current


def user_facts(state: Mapping[str, Any] | None, user_id: str, now: datetime) -> UserFacts:
    """The facts of a stored user (unknown users are unverified and unsanctioned)."""
    if not state:
        return UserFacts(user_id, verified=False)
    identity = state.get("identity") or {}
    return UserFacts(user_id, identity.get("status") == "verified", in_force(state.get("standing"), now))


def apply_consent_event(
    state: Mapping[str, Any] | None,
    provider_id: str,
    kind: str,
    fields: Mapping[str, Any],
    event_id: str,
) -> dict[str, Any] | None:
    """The consent after a `dsgov.consent.<kind>` event; None when it changes nothing.

    `withdrawn` and `expired` are final. A `rejected` never ends a granted consent: the consent
    service also rejects a *submission* that reuses the id of a granted consent.
    """
    status = (state or {}).get("status")
    if status in FINAL_CONSENT or (kind == "rejected" and status == "granted"):
        return None
    current = dict(state or {"kind": "consent", "provider_id": provider_id})
    service_types = fields.get("service_types")
    expires_at = fields.get("expires_at")
    current.update(
        consent_id=fields["consent_id"],
        subject_id=fields["subject_id"],
        grantee_user_id=fields["grantee_user_id"],
        biometric_types=sorted(fields.get("biometric_types") or current.get("biometric_types") or []),
        service_types=sorted(service_types) if service_types is not None else current.get("service_types"),
        expires_at=expires_at.isoformat() if expires_at else current.get("expires_at"),
        status=kind,
        event_id=event_id,
    )
    return current


def consent_facts(state: Mapping[str, Any]) -> ConsentFacts:
    """A stored consent as facts."""
    service_types = state.get("service_types")
    expires = state.get("expires_at")
    return ConsentFacts(
        consent_id=str(state["consent_id"]),
        subject_id=str(state["subject_id"]),
        grantee_user_id=str(state["grantee_user_id"]),
        status=str(state["status"]),
        biometric_types=tuple(state.get("biometric_types") or ()),
        service_types=tuple(service_types) if service_types is not None else None,
        expires_at=datetime.fromisoformat(expires) if expires else None,
    )


def consents_of(states: Sequence[Mapping[str, Any]]) -> list[ConsentFacts]:
    """Every stored consent as facts."""
    return [consent_facts(s) for s in states]
