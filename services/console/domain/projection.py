"""The console's consent and identity read models, folded from events (pure: the received time is passed in).

One document per consent: current status, parties, biometric types, expiry, evidence and purpose
when the events carry them, and the full hash-chained history (`domain.proof`). One document per
identity decision subject, for the dashboard counts only. Field names are the stored ones: the
console's pages query them (`state.status`, `state.expires_ms`, `state.last_event_ms`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from services.console.domain.proof import next_link
from shared.contracts import types as T
from shared.contracts.consent import ConsentEvent, Evidence
from shared.contracts.envelope import CloudEvent
from shared.contracts.identity import IdentityDecision
from shared.storage.aggregates import AggregateState

CONSENT_STATUS: Final[dict[str, str]] = {
    T.CONSENT_GRANTED: "granted",
    T.CONSENT_REJECTED: "rejected",
    T.CONSENT_WITHDRAWN: "withdrawn",
    T.CONSENT_EXPIRED: "expired",
}
CONSENT_STATUSES: Final = tuple(CONSENT_STATUS.values())
IDENTITY_STATUS: Final[dict[str, str]] = {
    T.IDENTITY_VERIFIED: "verified",
    T.IDENTITY_REJECTED: "rejected",
}
# Optional fields a consent event may carry (additive within v1); shown when present.
_EXTRA_TEXT_LIMIT: Final = 2000

JsonObject = dict[str, Any]  # a JSON object kept as received (evidence, reason details)


class ChainedEvent(BaseModel):
    """One entry of a consent's hash-chained history: the event as received, and its link."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    seq: int
    prev_hash: str
    hash: str
    event_json: str
    event_id: str
    type: str
    source: str
    time: str
    received_at: str


class ConsentView(AggregateState):
    """The read model of one consent."""

    kind: Literal["consent"] = "consent"
    consent_id: str
    provider_id: str
    subject_id: str
    grantee_user_id: str
    biometric_types: tuple[str, ...] = ()
    service_types: tuple[str, ...] | None = None
    expires_at: str | None = None
    expires_ms: int | None = None
    status: str
    status_since: str
    reasons: tuple[str, ...] = ()
    reason_details: tuple[JsonObject, ...] = ()
    actor: str | None = None
    correlation_id: str | None = None
    last_event_id: str
    last_event_type: str
    last_event_ms: int
    purpose: str | None = None
    guardian_user_id: str | None = None
    evidence: JsonObject | None = None
    history: tuple[ChainedEvent, ...] = ()
    head_hash: str


class IdentityView(AggregateState):
    """A user's latest identity decision (dashboard counts)."""

    kind: Literal["identity"] = "identity"
    user_id: str
    provider_id: str
    status: str
    method: str
    age_group: str | None = None
    reasons: tuple[str, ...] = ()
    decided_at: str
    decided_ms: int
    last_event_id: str


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def fold_consent(
    state: ConsentView | None,
    *,
    event: CloudEvent,
    data: ConsentEvent,
    event_json: str,
    received_at: datetime,
) -> ConsentView | None:
    """The consent's state after `event`; None when the event is already in its history."""
    history = state.history if state else ()
    if any(h.event_id == event.id for h in history):
        return None
    occurred = data.occurred_at or event.time
    seq, prev, digest = next_link(len(history), history[-1].hash if history else None, event_json)
    entry = ChainedEvent(
        seq=seq,
        prev_hash=prev,
        hash=digest,
        event_json=event_json,
        event_id=event.id,
        type=event.type,
        source=event.source,
        time=event.time.isoformat(),
        received_at=received_at.isoformat(),
    )
    return ConsentView(
        consent_id=data.consent_id,
        provider_id=event.providerid,
        subject_id=data.subject_id,
        grantee_user_id=data.grantee_user_id,
        biometric_types=tuple(data.biometric_types) or (state.biometric_types if state else ()),
        service_types=(
            tuple(data.service_types) if data.service_types is not None else _prev(state, "service_types")
        ),
        expires_at=data.expires_at.isoformat() if data.expires_at else _prev(state, "expires_at"),
        expires_ms=_ms(data.expires_at) if data.expires_at else _prev(state, "expires_ms"),
        status=CONSENT_STATUS[event.type],
        status_since=occurred.isoformat(),
        reasons=tuple(data.reasons),
        reason_details=tuple(r.model_dump(mode="json") for r in data.reason_details),
        actor=data.actor,
        correlation_id=(state.correlation_id if state else None) or event.correlation,
        last_event_id=event.id,
        last_event_type=event.type,
        last_event_ms=_ms(occurred),
        purpose=_text(event.data, "purpose", state),
        guardian_user_id=_text(event.data, "guardian_user_id", state),
        evidence=_evidence(event.data.get("evidence")) or _prev(state, "evidence"),
        history=(*history, entry),
        head_hash=digest,
    )


def _prev(state: ConsentView | None, name: str) -> Any:
    return getattr(state, name) if state else None


def _text(raw: Mapping[str, Any], name: str, state: ConsentView | None) -> str | None:
    value = raw.get(name)
    return value[:_EXTRA_TEXT_LIMIT] if isinstance(value, str) else _prev(state, name)


def _evidence(raw: Any) -> JsonObject | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return Evidence.model_validate(raw).model_dump(mode="json")
    except ValidationError:
        return None  # still in the history as received; just not shown as evidence


def fold_identity(
    state: IdentityView | None, *, event: CloudEvent, data: IdentityDecision
) -> IdentityView | None:
    """The latest identity decision about a user; None when `event` is already applied."""
    if state and state.last_event_id == event.id:
        return None
    decided = data.decided_at or event.time
    return IdentityView(
        user_id=data.user_id,
        provider_id=event.providerid,
        status=IDENTITY_STATUS[event.type],
        method=data.method,
        age_group=data.age_group,
        reasons=tuple(data.reasons),
        decided_at=decided.isoformat(),
        decided_ms=_ms(decided),
        last_event_id=event.id,
    )
