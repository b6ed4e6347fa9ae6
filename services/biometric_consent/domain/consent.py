"""Deciding grants, withdrawals and expiry of biometric consents (DS-14.2, PI-14/15, PI-28..31).

Pure functions over the consent's typed state (`ConsentState`), with time and ids passed in.
Each returns a `Decision`: the new state (None when nothing changes) and what to publish. The
state keeps the full history of the consent (see `history`).

Statuses: `awaiting_grant` (only withdrawals seen so far), `rejected` (no grant accepted yet;
a later grant with the same id is decided afresh), `granted`, `withdrawn`, `expired` (final).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

import rfc8785
from pydantic import JsonValue

from services.biometric_consent.domain.history import HAS_GRANT, HistoryEntry, append_entry, rfc3339
from services.biometric_consent.domain.state import (
    AdultDeclarationRecord,
    Channel,
    ConsentState,
    EarlyWithdrawal,
    EvidenceRecord,
    Grant,
    GrantRecord,
)
from shared.standards.identifiers import AgeGroup

EmissionKind = Literal["granted", "rejected", "withdrawn", "expired"]
# PI-31, for a subject whose age is not known (mobile-only verification, a signed form):
# `guardian_unless_declared_adult` - a guardian consents, unless the platform declares the subject
#   adult with evidence of an accepted method; `guardian_required` - a guardian always consents.
UnknownAgePolicy = Literal["guardian_unless_declared_adult", "guardian_required"]
DEFAULT_ADULT_DECLARATION_METHODS: Final = frozenset({"id_document_check", "signed_form"})
Details = dict[str, JsonValue]

_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
PERMITTED_CONSOLE_ROLES: Final = frozenset({"operator", "admin"})
SUBJECT: Final = "subject"
GUARDIAN: Final = "guardian"
SYSTEM: Final = "system"


@dataclass(frozen=True)
class Policy:
    """Tunable limits."""

    max_duration: timedelta = timedelta(days=365)
    clock_skew: timedelta = timedelta(minutes=2)
    unknown_age: UnknownAgePolicy = "guardian_unless_declared_adult"
    adult_declaration_methods: frozenset[str] = DEFAULT_ADULT_DECLARATION_METHODS


@dataclass(frozen=True)
class IdentityFacts:
    """What the service's identity projection knows about one user (DS-9)."""

    user_id: str
    verified: bool
    age_group: AgeGroup = "unknown"


@dataclass(frozen=True)
class EvidenceRef:
    """How the subject's separate consent was captured: references and hashes only."""

    method: str
    notice_version: str | None = None
    artifact_sha256: str | None = None
    captured_at: datetime | None = None


@dataclass(frozen=True)
class AdultDeclaration:
    """The platform declares a subject of unknown age adult; `artifact_sha256` is its evidence."""

    method: str
    artifact_sha256: str | None = None
    declared_at: datetime | None = None


@dataclass(frozen=True)
class GrantRequest:
    """A submitted grant, as plain values."""

    consent_id: str
    subject_id: str
    grantee_user_id: str
    biometric_types: tuple[str, ...]
    expires_at: datetime
    evidence: EvidenceRef
    purpose: str = ""
    service_types: tuple[str, ...] | None = None
    guardian_user_id: str | None = None
    adult_declaration: AdultDeclaration | None = None

    def users(self) -> tuple[str, ...]:
        """Every user whose identity the decision needs."""
        ids = (self.subject_id, self.grantee_user_id, self.guardian_user_id)
        return tuple(dict.fromkeys(i for i in ids if i))

    def record(self) -> GrantRecord:
        """The submission in canonical form (for the history, the fingerprint and the state)."""
        ev = self.evidence
        return GrantRecord(
            subject_id=self.subject_id,
            grantee_user_id=self.grantee_user_id,
            biometric_types=tuple(sorted(set(self.biometric_types))),
            purpose=self.purpose,
            service_types=tuple(sorted(set(self.service_types))) if self.service_types is not None else None,
            expires_at=rfc3339(self.expires_at),
            evidence=EvidenceRecord(
                method=ev.method,
                notice_version=ev.notice_version,
                artifact_sha256=ev.artifact_sha256,
                captured_at=rfc3339(ev.captured_at) if ev.captured_at else None,
            ),
            guardian_user_id=self.guardian_user_id,
            subject_adult_declaration=_declaration_record(self.adult_declaration),
        )

    def fingerprint(self) -> str:
        """SHA-256 of the canonical submission: equal content, equal fingerprint."""
        return hashlib.sha256(rfc8785.dumps(self.record().as_json())).hexdigest()


def _declaration_record(d: AdultDeclaration | None) -> AdultDeclarationRecord | None:
    if d is None:
        return None
    declared_at = rfc3339(d.declared_at) if d.declared_at else None
    return AdultDeclarationRecord(method=d.method, artifact_sha256=d.artifact_sha256, declared_at=declared_at)


@dataclass(frozen=True)
class WithdrawalRequest:
    """A withdrawal from the platform (by the subject) or the console (by an operator)."""

    consent_id: str
    subject_id: str
    channel: Channel
    reason: str | None = None
    console_user: str | None = None  # console only
    console_role: str | None = None  # console only

    @property
    def actor(self) -> str:
        """`subject` from the platform, `console:<username>` from the console."""
        return f"console:{self.console_user}" if self.channel == "console" else SUBJECT


@dataclass(frozen=True)
class Cause:
    """Where a change comes from: the inbound event (or timer) and when it is applied."""

    now: datetime
    provider_id: str
    consent_id: str
    event_id: str | None = None  # None for timer-driven changes
    correlation_id: str | None = None


@dataclass(frozen=True)
class Emission:
    """An event to publish, before it is put in an envelope: the consent as submitted or granted."""

    kind: EmissionKind
    fields: GrantRecord
    expires_at: datetime  # as submitted for a decision on a grant, as stored afterwards
    reasons: tuple[str, ...]
    actor: str
    occurred_at: datetime


@dataclass(frozen=True)
class Decision:
    """The new state (None: unchanged) and what to publish, in order."""

    state: ConsentState | None
    emissions: tuple[Emission, ...] = ()


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, by integer arithmetic (stored for range queries)."""
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def new_state(provider_id: str, consent_id: str) -> ConsentState:
    """The state of a consent nothing is known about yet."""
    return ConsentState(provider_id=provider_id, consent_id=consent_id)


# --- grants -------------------------------------------------------------------------------


def grant_reasons(
    req: GrantRequest, identities: Mapping[str, IdentityFacts], now: datetime, policy: Policy
) -> list[str]:
    """Why a grant cannot be accepted, in a stable order (empty: acceptable)."""
    reasons = _party_reasons(req, identities, policy)
    if not req.biometric_types:
        reasons.append("biometric_types_missing")
    if req.expires_at <= now:
        reasons.append("expiry_not_in_future")
    elif req.expires_at > now + policy.max_duration:
        reasons.append("expiry_too_far")
    reasons += _evidence_reasons(req.evidence, now, policy)
    return reasons


def _verified(facts: IdentityFacts | None) -> bool:
    return facts is not None and facts.verified


def _party_reasons(req: GrantRequest, identities: Mapping[str, IdentityFacts], policy: Policy) -> list[str]:
    reasons: list[str] = []
    subject = identities.get(req.subject_id)
    ev = req.evidence
    signed_form = ev.method == "signed_form" and _SHA256.fullmatch(ev.artifact_sha256 or "") is not None
    identified = _verified(subject) or signed_form
    if not identified:
        reasons.append("subject_unverified")
    if not _verified(identities.get(req.grantee_user_id)):
        reasons.append("grantee_unverified")
    if identified:
        # An unidentified subject is rejected already; its age is judged once it is identified.
        reasons += _age_reasons(req, subject, policy)
    if req.guardian_user_id:
        guardian = identities.get(req.guardian_user_id)
        if not _verified(guardian):
            reasons.append("guardian_unverified")
        elif guardian is not None and guardian.age_group != "adult":
            reasons.append("guardian_not_adult")
    return reasons


def subject_age(subject: IdentityFacts | None) -> AgeGroup:
    """The subject's age group as far as a verification established it (else `unknown`)."""
    return subject.age_group if subject is not None and subject.verified else "unknown"


def guardian_required(req: GrantRequest, subject: IdentityFacts | None, policy: Policy) -> bool:
    """PI-31: a guardian consents for a subject under 14, and for one who may be (unknown age).

    A mobile or network-id verification gives no age, nor does a signed form: such a subject may be
    under 14, so a guardian consents unless the platform declares the subject adult with evidence of
    a method the policy accepts (and the policy accepts declarations at all).
    """
    age = subject_age(subject)
    if age == "under_14":
        return True
    if age != "unknown":
        return False
    return not (policy.unknown_age == "guardian_unless_declared_adult" and _declaration_ok(req, policy))


def _declaration_ok(req: GrantRequest, policy: Policy) -> bool:
    d = req.adult_declaration
    return (
        d is not None
        and d.method in policy.adult_declaration_methods
        and _SHA256.fullmatch(d.artifact_sha256 or "") is not None
    )


def _age_reasons(req: GrantRequest, subject: IdentityFacts | None, policy: Policy) -> list[str]:
    age = subject_age(subject)
    reasons: list[str] = []
    if req.adult_declaration is not None and age in ("under_14", "14_to_17"):
        reasons.append("adult_declaration_contradicts_verified_age")  # the verified age wins
    if req.guardian_user_id or not guardian_required(req, subject, policy):
        return reasons
    if age == "under_14":
        return [*reasons, "guardian_missing"]
    reasons.append("guardian_missing_age_unknown")
    if req.adult_declaration is not None and policy.unknown_age == "guardian_unless_declared_adult":
        reasons.append("adult_declaration_not_accepted")
    return reasons


def _evidence_reasons(ev: EvidenceRef, now: datetime, policy: Policy) -> list[str]:
    reasons: list[str] = []
    if not (ev.notice_version or "").strip():
        reasons.append("notice_version_missing")
    if not (ev.artifact_sha256 or "").strip():
        reasons.append("evidence_artifact_missing")
    elif _SHA256.fullmatch(ev.artifact_sha256 or "") is None:
        reasons.append("evidence_artifact_invalid")
    if ev.captured_at is not None and ev.captured_at > now + policy.clock_skew:
        reasons.append("evidence_captured_in_future")
    return reasons


def decide_grant(
    state: ConsentState | None,
    req: GrantRequest,
    identities: Mapping[str, IdentityFacts],
    cause: Cause,
    policy: Policy,
) -> Decision:
    """Accept or reject a grant; an identical re-submission of an accepted grant changes nothing."""
    settled = settle_expiry(state, cause.now)
    current = settled.state or state or new_state(cause.provider_id, cause.consent_id)
    early = settled.emissions
    fingerprint = req.fingerprint()
    if current.grant is not None and current.status in HAS_GRANT:
        if current.grant.fingerprint == fingerprint:
            return settled  # the same grant again: one decision
        return _reject(current, req, ["consent_id_reused"], identities, cause, early)
    current = _judge_early_withdrawals(current, req, cause)
    reasons = grant_reasons(req, identities, cause.now, policy)
    if _withdrawn_before(current, req):
        reasons.append("consent_withdrawn_before_grant")
    if reasons:
        return _reject(current, req, reasons, identities, cause, early)
    return _accept(current, req, identities, cause, fingerprint, policy)


def _facts_record(req: GrantRequest, identities: Mapping[str, IdentityFacts]) -> Details:
    return {
        uid: (
            {"known": True, "verified": f.verified, "age_group": f.age_group}
            if (f := identities.get(uid))
            else {"known": False, "verified": False, "age_group": "unknown"}
        )
        for uid in req.users()
    }


def _grant_details(
    req: GrantRequest, identities: Mapping[str, IdentityFacts], cause: Cause, fingerprint: str
) -> Details:
    return {
        "source_event_id": cause.event_id,
        "submission": req.record().as_json(),
        "fingerprint": fingerprint,
        "identities": _facts_record(req, identities),
    }


def _reject(
    current: ConsentState,
    req: GrantRequest,
    reasons: Sequence[str],
    identities: Mapping[str, IdentityFacts],
    cause: Cause,
    before: tuple[Emission, ...],
) -> Decision:
    details = _grant_details(req, identities, cause, req.fingerprint())
    status = current.status if current.status in HAS_GRANT else "rejected"
    history = _append(current, cause, "rejected", SYSTEM, reasons, details)
    emission = Emission("rejected", req.record(), req.expires_at, tuple(reasons), SYSTEM, cause.now)
    return Decision(current.model_copy(update={"status": status, "history": history}), (*before, emission))


def _accept(
    current: ConsentState,
    req: GrantRequest,
    identities: Mapping[str, IdentityFacts],
    cause: Cause,
    fingerprint: str,
    policy: Policy,
) -> Decision:
    # PI-31: for a subject under 14, or of unknown age and not declared adult, the guardian consents.
    given_by = GUARDIAN if guardian_required(req, identities.get(req.subject_id), policy) else SUBJECT
    record = req.record()
    grant = Grant(**dict(record), fingerprint=fingerprint, given_by=given_by)
    details = _grant_details(req, identities, cause, fingerprint)
    new = current.model_copy(
        update={
            "status": "granted",
            "grant": grant,
            "expires_at_ms": epoch_ms(req.expires_at),
            "correlation_id": cause.correlation_id,
            "grant_event_id": cause.event_id,
            "history": _append(current, cause, "granted", given_by, (), details),
        }
    )
    return Decision(new, (Emission("granted", record, req.expires_at, (), given_by, cause.now),))


def _withdrawal_counts(w: EarlyWithdrawal, subject_id: str) -> bool:
    return w.channel == "console" or w.subject_id == subject_id


def _withdrawn_before(current: ConsentState, req: GrantRequest) -> bool:
    return any(_withdrawal_counts(w, req.subject_id) for w in current.early_withdrawals)


def _judge_early_withdrawals(current: ConsentState, req: GrantRequest, cause: Cause) -> ConsentState:
    """Early platform withdrawals by someone other than the grant's subject are refused now."""
    keep = tuple(w for w in current.early_withdrawals if _withdrawal_counts(w, req.subject_id))
    refused = [w for w in current.early_withdrawals if not _withdrawal_counts(w, req.subject_id)]
    for w in refused:
        details: Details = {
            "channel": w.channel,
            "claimed_subject_id": w.subject_id,
            "early_seq": w.seq,
            "source_event_id": cause.event_id,
        }
        history = _append(
            current, cause, "withdrawal_refused", w.actor, ["withdrawal_not_by_subject"], details
        )
        current = current.model_copy(update={"history": history})
    return current.model_copy(update={"early_withdrawals": keep})


# --- withdrawals --------------------------------------------------------------------------


def decide_withdrawal(state: ConsentState | None, req: WithdrawalRequest, cause: Cause) -> Decision:
    """Withdraw at once (PI-15); remember a withdrawal that arrives before its grant.

    Never erases anything: the grant and its history stay, so processing before the
    withdrawal stays valid. Withdrawing a withdrawn or expired consent changes nothing.
    """
    settled = settle_expiry(state, cause.now)
    current = settled.state or state or new_state(cause.provider_id, cause.consent_id)
    before = settled.emissions
    details: Details = {
        "source_event_id": cause.event_id,
        "channel": req.channel,
        "claimed_subject_id": req.subject_id,
        "reason_text": req.reason,
    }
    if req.channel == "console":
        details["console_role"] = req.console_role
        if req.console_role not in PERMITTED_CONSOLE_ROLES:
            return _refuse(current, req, cause, "withdrawal_actor_not_permitted", details, before)
    if current.status in ("withdrawn", "expired"):
        return settled  # already over: nothing new to say
    if current.status == "granted" and current.grant is not None:
        grant = current.grant
        if req.channel == "platform" and req.subject_id != grant.subject_id:
            return _refuse(current, req, cause, "withdrawal_not_by_subject", details, before)
        history = _append(current, cause, "withdrawn", req.actor, ["consent_withdrawn"], details)
        withdrawn = current.model_copy(update={"status": "withdrawn", "history": history})
        emission = Emission("withdrawn", grant, grant.expires, ("consent_withdrawn",), req.actor, cause.now)
        return Decision(withdrawn, (*before, emission))
    return _remember_early(current, req, cause, details)


def _refuse(
    current: ConsentState,
    req: WithdrawalRequest,
    cause: Cause,
    code: str,
    details: Details,
    before: tuple[Emission, ...],
) -> Decision:
    history = _append(current, cause, "withdrawal_refused", req.actor, [code], details)
    return Decision(current.model_copy(update={"history": history}), before)


def _remember_early(
    current: ConsentState, req: WithdrawalRequest, cause: Cause, details: Details
) -> Decision:
    early = current.early_withdrawals
    if any(w.channel == req.channel and w.subject_id == req.subject_id for w in early):
        return Decision(None)  # remembered already
    history = _append(current, cause, "withdrawal_before_grant", req.actor, [], details)
    remembered = EarlyWithdrawal(
        seq=history[-1].seq, channel=req.channel, subject_id=req.subject_id, actor=req.actor
    )
    return Decision(
        current.model_copy(update={"history": history, "early_withdrawals": (*early, remembered)})
    )


# --- expiry -------------------------------------------------------------------------------


def settle_expiry(state: ConsentState | None, now: datetime) -> Decision:
    """Expire a granted consent whose `expires_at` has passed; otherwise change nothing."""
    if (
        state is None
        or state.status != "granted"
        or state.grant is None
        or state.expires_at_ms is None
        or state.expires_at_ms > epoch_ms(now)
    ):
        return Decision(None)
    grant = state.grant
    cause = Cause(now=now, provider_id=state.provider_id, consent_id=state.consent_id)
    details: Details = {"expires_at": grant.expires_at}
    history = _append(state, cause, "expired", SYSTEM, ["consent_expired"], details)
    expired = state.model_copy(update={"status": "expired", "history": history})
    emission = Emission("expired", grant, grant.expires, ("consent_expired",), SYSTEM, grant.expires)
    return Decision(expired, (emission,))


def _append(
    current: ConsentState,
    cause: Cause,
    event: str,
    actor: str,
    reasons: Sequence[str],
    details: Details,
) -> tuple[HistoryEntry, ...]:
    return append_entry(
        current.history,
        at=cause.now,
        provider_id=current.provider_id,
        consent_id=current.consent_id,
        event=event,
        actor=actor,
        reasons=reasons,
        details=details,
    )
