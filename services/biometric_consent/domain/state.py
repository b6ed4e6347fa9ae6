"""The two kinds of aggregate the service keeps in its one collection, as typed frozen states.

`consent:<provider>/<consent_id>` documents hold a `ConsentState` and `user:<provider>/<user_id>`
documents a `UserIdentity`; the prefixes keep the kinds apart even when a platform uses the same
string for a consent and a user. Field names are the stored ones: the expiry query and its index
read `state.status` and `state.expires_at_ms`, the directory reads `state.kind`. Times inside a
consent are RFC 3339 strings (as hashed into the history and the fingerprint), never floats.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import JsonValue

from services.biometric_consent.domain.history import HistoryEntry
from shared.standards.identifiers import AgeGroup
from shared.storage.aggregates import AggregateState

CONSENT_PREFIX: Final = "consent:"
USER_PREFIX: Final = "user:"

Status = Literal["awaiting_grant", "rejected", "granted", "withdrawn", "expired"]
Channel = Literal["platform", "console"]


def consent_document(provider_id: str, consent_id: str) -> str:
    """The aggregate id of one consent (what `prefixed(CONSENT_PREFIX)` gives its events)."""
    return f"{CONSENT_PREFIX}{provider_id}/{consent_id}"


def user_document(provider_id: str, user_id: str) -> str:
    """The aggregate id of one user's identity projection."""
    return f"{USER_PREFIX}{provider_id}/{user_id}"


class EvidenceRecord(AggregateState):
    """How the subject's separate consent was captured: references and hashes only (PI-29)."""

    method: str
    notice_version: str | None = None
    artifact_sha256: str | None = None
    captured_at: str | None = None  # RFC 3339


class AdultDeclarationRecord(AggregateState):
    """The platform's declaration that a subject of unknown age is an adult (PI-31): references only."""

    method: str
    artifact_sha256: str | None = None
    declared_at: str | None = None  # RFC 3339


class GrantRecord(AggregateState):
    """A grant submission in canonical form: its JSON is hashed into the fingerprint and the history."""

    subject_id: str
    grantee_user_id: str
    biometric_types: tuple[str, ...]  # sorted, distinct
    purpose: str = ""
    service_types: tuple[str, ...] | None = None  # sorted, distinct
    expires_at: str  # RFC 3339
    evidence: EvidenceRecord
    guardian_user_id: str | None = None
    subject_adult_declaration: AdultDeclarationRecord | None = None

    def as_json(self) -> dict[str, JsonValue]:
        """The JSON values of the submission (field order as stored).

        Without a declaration the key is left out, so grants submitted before declarations existed
        keep their fingerprint and their hashed history.
        """
        absent = {"subject_adult_declaration"} if self.subject_adult_declaration is None else set()
        body: dict[str, JsonValue] = self.model_dump(
            mode="json", include=set(GrantRecord.model_fields) - absent
        )
        return body

    @property
    def expires(self) -> datetime:
        """`expires_at` as a datetime."""
        return datetime.fromisoformat(self.expires_at)


class Grant(GrantRecord):
    """The accepted grant: the submission, its fingerprint and who gave it (subject or guardian)."""

    fingerprint: str
    given_by: str


class EarlyWithdrawal(AggregateState):
    """A withdrawal that arrived before any grant, remembered until the grant is judged."""

    seq: int  # its history entry
    channel: Channel
    subject_id: str
    actor: str


class ConsentState(AggregateState):
    """One consent: status, the accepted grant, early withdrawals and the full chained history."""

    kind: Literal["consent"] = "consent"
    provider_id: str
    consent_id: str
    status: Status = "awaiting_grant"
    grant: Grant | None = None
    expires_at_ms: int | None = None  # an integer: the embedded store keeps integers exactly
    early_withdrawals: tuple[EarlyWithdrawal, ...] = ()
    correlation_id: str | None = None
    grant_event_id: str | None = None  # the accepted grant-submitted event
    history: tuple[HistoryEntry, ...] = ()


IdentityStatus = Literal["verified", "rejected"]


class UserIdentity(AggregateState):
    """The service's projection of one user's latest identity decision (DS-9, PI-31)."""

    kind: Literal["user"] = "user"
    user_id: str
    provider_id: str
    identity_status: IdentityStatus
    age_group: AgeGroup
    method: str
    decided_at: str  # RFC 3339
    decided_ms: int
    event_id: str
