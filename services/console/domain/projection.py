"""The console's read models, folded from events (pure: the received time is passed in).

One document per consent: current status, parties, biometric types, expiry, evidence and purpose
when the events carry them, and the full hash-chained history (`domain.proof`). One document per
identity decision subject, for the dashboard counts only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from services.console.domain.proof import chain_entry
from shared.contracts.consent import ConsentEvent, Evidence
from shared.contracts.envelope import CloudEvent
from shared.contracts.identity import IdentityDecision

CONSENT_STATUS: Final[dict[str, str]] = {
    "dsgov.consent.granted": "granted",
    "dsgov.consent.rejected": "rejected",
    "dsgov.consent.withdrawn": "withdrawn",
    "dsgov.consent.expired": "expired",
}
CONSENT_STATUSES: Final = tuple(CONSENT_STATUS.values())
IDENTITY_STATUS: Final[dict[str, str]] = {
    "dsgov.identity.verified": "verified",
    "dsgov.identity.rejected": "rejected",
}
# Optional fields a consent event may carry (additive within v1); shown when present.
_EXTRA_TEXT_FIELDS: Final = ("purpose", "guardian_user_id")


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def fold_consent(
    state: Mapping[str, Any] | None,
    *,
    event: CloudEvent,
    data: ConsentEvent,
    event_json: str,
    received_at: datetime,
) -> dict[str, Any] | None:
    """The consent's state after `event`; None when the event is already in its history."""
    previous: dict[str, Any] = dict(state or {})
    history: list[dict[str, Any]] = list(previous.get("history", []))
    if any(h.get("event_id") == event.id for h in history):
        return None
    occurred = data.occurred_at or event.time
    entry = chain_entry(history, event_json)
    entry |= {
        "event_id": event.id,
        "type": event.type,
        "source": event.source,
        "time": event.time.isoformat(),
        "received_at": received_at.isoformat(),
    }
    history.append(entry)
    return previous | {
        "kind": "consent",
        "consent_id": data.consent_id,
        "provider_id": event.providerid,
        "subject_id": data.subject_id,
        "grantee_user_id": data.grantee_user_id,
        "biometric_types": list(data.biometric_types) or previous.get("biometric_types", []),
        "service_types": (
            list(data.service_types) if data.service_types is not None else previous.get("service_types")
        ),
        "expires_at": data.expires_at.isoformat() if data.expires_at else previous.get("expires_at"),
        "expires_ms": _ms(data.expires_at) if data.expires_at else previous.get("expires_ms"),
        "status": CONSENT_STATUS[event.type],
        "status_since": occurred.isoformat(),
        "reasons": list(data.reasons),
        "reason_details": [r.model_dump(mode="json") for r in data.reason_details],
        "actor": data.actor,
        "correlation_id": previous.get("correlation_id") or event.correlation,
        "last_event_id": event.id,
        "last_event_type": event.type,
        "last_event_ms": _ms(occurred),
        **_extras(event.data, previous),
        "history": history,
        "head_hash": entry["hash"],
    }


def _extras(raw: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _EXTRA_TEXT_FIELDS:
        value = raw.get(name)
        out[name] = value[:2000] if isinstance(value, str) else previous.get(name)
    out["evidence"] = _evidence(raw.get("evidence")) or previous.get("evidence")
    return out


def _evidence(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    try:
        return Evidence.model_validate(raw).model_dump(mode="json")
    except ValidationError:
        return None  # still in the history as received; just not shown as evidence


def fold_identity(
    state: Mapping[str, Any] | None, *, event: CloudEvent, data: IdentityDecision
) -> dict[str, Any] | None:
    """The latest identity decision about a user; None when `event` is already applied."""
    if state and state.get("last_event_id") == event.id:
        return None
    decided = data.decided_at or event.time
    return {
        "kind": "identity",
        "user_id": data.user_id,
        "provider_id": event.providerid,
        "status": IDENTITY_STATUS[event.type],
        "method": data.method,
        "age_group": data.age_group,
        "reasons": list(data.reasons),
        "decided_at": decided.isoformat(),
        "decided_ms": _ms(decided),
        "last_event_id": event.id,
    }
