"""Builders for regulator reporting unit tests: incidents, signers and in-memory report streams."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.regulator_reporting.chain import GENESIS_HASH, KeyRing, PublicKey, Signer, seal
from services.regulator_reporting.domain import incidents as inc
from services.regulator_reporting.domain.reports import Head, Pending, pending_of
from services.regulator_reporting.outbound import build_report
from services.regulator_reporting.verification import StreamRecord
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import encode

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
POLICY = inc.Policy(settle_ms=1_000, max_delay_ms=10_000)


def signer(key_id: str = "k1", byte: int = 1) -> Signer:
    return Signer.from_seed(key_id, bytes([byte]) * 32)


def ring(*signers: Signer) -> KeyRing:
    return KeyRing(PublicKey(s.key_id, s.public_key) for s in signers)


def blocked(request_id: str = "req-1", code: str = "prohibited_content", **kw: object) -> inc.Blocked:
    fields: dict[str, object] = {
        "stage": "input",
        "request_id": request_id,
        "user_id": "user-1",
        "decision_id": f"dec-{request_id}",
        "reasons": ((code, "DS-10.2" if code == "prohibited_content" else "DS-11"),),
        "at_ms": NOW_MS,
    }
    fields.update(kw)
    return inc.Blocked(**fields)  # type: ignore[arg-type]


def ref(event_id: str = "evt-1") -> inc.EventRef:
    return inc.EventRef(event_id, f"corr-{event_id}")


def incident(obs: inc.Observation, provider: str = "prov-1") -> inc.Incident:
    return inc.fold(None, provider, obs, ref(), NOW_MS, POLICY)


def pending_for(request_id: str, provider: str = "prov-1") -> Pending:
    state = incident(blocked(request_id), provider)
    return pending_of(f"{provider}/{state.key}", state)


def stream(n: int, key: Signer | None = None, provider: str = "prov-1") -> list[CloudEvent]:
    """`n` consecutive, correctly chained and signed reports."""
    key = key or signer()
    head, events = Head(0, GENESIS_HASH), []
    for i in range(n):
        event = build_report(pending_for(f"req-{i}", provider), head, key, NOW)
        head = Head(head.sequence + 1, event.data["hash"])
        events.append(event)
    return events


def records(events: list[CloudEvent]) -> list[StreamRecord]:
    return [StreamRecord(f"line {i + 1}", encode(e)) for i, e in enumerate(events)]


def with_data(event: CloudEvent, **changes: object) -> CloudEvent:
    """The same envelope with changed report fields (nothing re-signed)."""
    return event.model_copy(update={"data": {**event.data, **changes}})


def resealed(event: CloudEvent, key: Signer, **changes: object) -> CloudEvent:
    """Changed report fields, re-hashed and re-signed with `key`."""
    data = {k: v for k, v in {**event.data, **changes}.items() if k not in ("hash", "signature", "key_id")}
    return event.model_copy(update={"data": seal(data, key)})


def raw(event: CloudEvent) -> dict[str, object]:
    return json.loads(encode(event))  # type: ignore[no-any-return]
