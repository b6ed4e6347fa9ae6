"""Folding consent and identity events into the read model."""

from __future__ import annotations

import json
from datetime import timedelta

from services.console.domain.projection import fold_identity
from shared.contracts.consent import ConsentEvent
from shared.contracts.envelope import CloudEvent
from shared.contracts.identity import IdentityDecision
from shared.messaging.codec import DecodeFailure, Inbound, RawRecord, decode
from tests.unit.console.fakes import NOW, aggregate_id, consent_event, fold

EVIDENCE = {
    "method": "signed_form",
    "notice_version": "v3",
    "artifact_sha256": "a" * 64,
    "captured_at": NOW.isoformat(),
}


def test_a_grant_then_a_withdrawal() -> None:
    granted = consent_event(
        "dsgov.consent.granted", "c-1", purpose="dubbing", evidence=EVIDENCE, service_types=["face_swap"]
    )
    later = NOW + timedelta(hours=2)
    withdrawn = consent_event(
        "dsgov.consent.withdrawn", "c-1", time=later, actor="console:olga", reasons=["subject_request"]
    )

    state = fold(None, granted)
    assert state is not None
    assert state["status"] == "granted"
    assert state["evidence"] == EVIDENCE | {"captured_at": NOW.isoformat().replace("+00:00", "Z")}
    assert state["purpose"] == "dubbing"
    assert state["service_types"] == ["face_swap"]
    assert state["expires_ms"] == int((NOW + timedelta(days=30)).timestamp() * 1000)
    assert state["correlation_id"] == "corr-c-1"

    state = fold(state, withdrawn)
    assert state is not None
    assert state["status"] == "withdrawn"
    assert state["status_since"] == later.isoformat()
    assert state["actor"] == "console:olga"
    assert state["reasons"] == ["subject_request"]
    assert state["evidence"]["method"] == "signed_form"  # kept from the grant
    assert state["purpose"] == "dubbing"
    assert state["service_types"] == ["face_swap"]
    assert [h["type"] for h in state["history"]] == ["dsgov.consent.granted", "dsgov.consent.withdrawn"]
    assert json.loads(state["history"][1]["event_json"]) == withdrawn
    assert state["last_event_id"] == withdrawn["id"]


def test_the_same_event_twice_is_ignored() -> None:
    granted = consent_event("dsgov.consent.granted", "c-1")
    state = fold(None, granted)
    assert fold(state, granted) is None


def test_every_outbound_consent_type_sets_its_status() -> None:
    for type_, status in [
        ("dsgov.consent.granted", "granted"),
        ("dsgov.consent.rejected", "rejected"),
        ("dsgov.consent.withdrawn", "withdrawn"),
        ("dsgov.consent.expired", "expired"),
    ]:
        state = fold(None, consent_event(type_, "c-1"))
        assert state is not None
        assert state["status"] == status


def test_a_consent_event_with_malformed_evidence_never_reaches_the_read_model() -> None:
    # Evidence is typed in the v1 contract: such an event is dead-lettered by the decoder.
    raw = consent_event("dsgov.consent.granted", "c-1", evidence={"method": "telepathy"})
    record = RawRecord("dsgov.consent", 0, 0, b"c-1", json.dumps(raw).encode())
    decoded = decode(record, frozenset({"dsgov.consent.granted"}))
    assert isinstance(decoded, DecodeFailure)
    assert decoded.code == "schema_violation"
    assert "evidence.method" in decoded.detail


def test_evidence_carried_by_the_consent_event_is_shown() -> None:
    evidence = {"method": "signed_form", "notice_version": "n-1", "artifact_sha256": "a" * 64}
    state = fold(None, consent_event("dsgov.consent.granted", "c-1", evidence=evidence))
    assert state is not None
    assert state["evidence"]["method"] == "signed_form"
    assert state["evidence"]["artifact_sha256"] == "a" * 64


def _identity(type_: str, user: str, event_id: str) -> Inbound[IdentityDecision]:
    raw = {
        "specversion": "1.0",
        "id": event_id,
        "source": "dsgov/identity-verification",
        "type": type_,
        "time": NOW.isoformat(),
        "subject": user,
        "providerid": "provider-test",
        "data": {"user_id": user, "method": "mobile", "reasons": [], "masked_identifier": "138****8000"},
    }
    record = RawRecord("dsgov.identity", 0, 0, user.encode(), json.dumps(raw).encode())
    decoded = decode(record, frozenset({type_}))
    assert isinstance(decoded, Inbound)
    return decoded


def test_identity_decisions_keep_the_latest_without_identifiers() -> None:
    verified = _identity("dsgov.identity.verified", "u-1", "e-1")
    state = fold_identity(None, event=verified.event, data=verified.data)
    assert state is not None
    assert state.status == "verified"
    assert "138" not in state.model_dump_json()  # not even the masked identifier is kept
    assert fold_identity(state, event=verified.event, data=verified.data) is None
    rejected = _identity("dsgov.identity.rejected", "u-1", "e-2")
    again = fold_identity(state, event=rejected.event, data=rejected.data)
    assert again is not None
    assert again.status == "rejected"


def test_consents_and_identities_never_share_a_document() -> None:
    identity = _identity("dsgov.identity.verified", "same-id", "e-1")
    consent_raw = consent_event("dsgov.consent.granted", "same-id")
    record = RawRecord("dsgov.consent", 0, 0, b"same-id", json.dumps(consent_raw).encode())
    consent = Inbound(
        record, CloudEvent.model_validate(consent_raw), ConsentEvent.model_validate(consent_raw["data"])
    )
    assert aggregate_id(identity) == "identity:provider-test/same-id"
    assert aggregate_id(consent) == "consent:provider-test/same-id"
