"""The service's own views of other services' facts: identities (DS-9) and consents (DS-14.2).

A service never reads another service's database (ARCHITECTURE): what the identity and consent
services decide arrives as events and is kept here. Users are `user:<provider>/<user_id>`
documents (identity plus standing on the ladder); consents are `consent:<provider>/<consent_id>`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from services.generation_review.domain.ladder import Sanction, Standing, in_force
from shared.contracts.consent import ConsentEvent
from shared.storage.aggregates import AggregateState

FINAL_CONSENT: Final = frozenset({"withdrawn", "expired"})


@dataclass(frozen=True)
class UserFacts:
    """What a decision needs to know about the requesting user."""

    user_id: str
    verified: bool
    sanction: Sanction | None = None
    age_group: str | None = None  # from the identity decision (GA-10); None when not known


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


class Identity(AggregateState):
    """The newest identity decision about a user."""

    status: str  # verified · rejected
    decided_ms: int
    event_id: str
    age_group: str | None = None


class UserState(AggregateState):
    """One user as this service knows them: identity (DS-9) and standing on the ladder (DS-10.3)."""

    kind: Literal["user"] = "user"
    provider_id: str
    user_id: str
    identity: Identity | None = None
    standing: Standing = Standing()


class ConsentState(AggregateState):
    """One consent as projected from `dsgov.consent.*` (field names are queried: `grantee_user_id`)."""

    kind: Literal["consent"] = "consent"
    provider_id: str
    consent_id: str
    subject_id: str
    grantee_user_id: str
    biometric_types: tuple[str, ...] = ()
    service_types: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    status: str
    event_id: str


def new_user(provider_id: str, user_id: str) -> UserState:
    """A user the service has heard nothing about yet."""
    return UserState(provider_id=provider_id, user_id=user_id)


def apply_identity(
    state: UserState | None,
    provider_id: str,
    user_id: str,
    outcome: str,
    decided_at: datetime,
    event_id: str,
    age_group: str | None = None,
) -> UserState | None:
    """The user after an identity decision; None when it is older than the one known (newest wins)."""
    current = state or new_user(provider_id, user_id)
    decided_ms = int(decided_at.timestamp() * 1000)
    if current.identity and current.identity.decided_ms > decided_ms:
        return None
    identity = Identity(status=outcome, decided_ms=decided_ms, event_id=event_id, age_group=age_group)
    return current.model_copy(update={"identity": identity})


def user_facts(state: UserState | None, user_id: str, now: datetime) -> UserFacts:
    """The facts of a stored user (unknown users are unverified and unsanctioned)."""
    if not state:
        return UserFacts(user_id, verified=False)
    identity = state.identity
    return UserFacts(
        user_id,
        verified=identity is not None and identity.status == "verified",
        sanction=in_force(state.standing, now),
        age_group=identity.age_group if identity else None,
    )


def apply_consent_event(
    state: ConsentState | None,
    provider_id: str,
    kind: str,
    fields: ConsentEvent,
    event_id: str,
) -> ConsentState | None:
    """The consent after a `dsgov.consent.<kind>` event; None when it changes nothing.

    `withdrawn` and `expired` are final. A `rejected` never ends a granted consent: the consent
    service also rejects a *submission* that reuses the id of a granted consent.
    """
    status = state.status if state else None
    if status in FINAL_CONSENT or (kind == "rejected" and status == "granted"):
        return None
    service_types = fields.service_types
    return ConsentState(
        provider_id=state.provider_id if state else provider_id,
        consent_id=fields.consent_id,
        subject_id=fields.subject_id,
        grantee_user_id=fields.grantee_user_id,
        biometric_types=tuple(sorted(fields.biometric_types or (state.biometric_types if state else ()))),
        service_types=(
            tuple(sorted(service_types))
            if service_types is not None
            else (state.service_types if state else None)
        ),
        expires_at=fields.expires_at or (state.expires_at if state else None),
        status=kind,
        event_id=event_id,
    )


def consent_facts(state: ConsentState) -> ConsentFacts:
    """A stored consent as facts."""
    return ConsentFacts(
        consent_id=state.consent_id,
        subject_id=state.subject_id,
        grantee_user_id=state.grantee_user_id,
        status=state.status,
        biometric_types=state.biometric_types,
        service_types=state.service_types,
        expires_at=state.expires_at,
    )


def consents_of(states: Sequence[ConsentState]) -> list[ConsentFacts]:
    """Every stored consent as facts."""
    return [consent_facts(s) for s in states]
