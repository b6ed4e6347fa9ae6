"""Decoding never raises: every bad record gets its dead-letter code (CONTRACT.md, rule 4)."""

from __future__ import annotations

import json

import pytest

from devtools.testing.events import cloud_event, to_bytes
from shared.messaging.codec import DecodeFailure, Ignored, Inbound, RawRecord, decode

TOPIC = "dsgov.platform.consent"
HANDLED = frozenset({"dsgov.consent.grant-submitted"})


def record(value: bytes, topic: str = TOPIC) -> RawRecord:
    return RawRecord(topic=topic, partition=0, offset=7, key=b"k", value=value)


def grant(**over: object) -> dict[str, object]:
    data = {
        "consent_id": "c1",
        "subject_id": "s1",
        "grantee_user_id": "g1",
        "biometric_types": ["face"],
        "expires_at": "2027-01-01T00:00:00+08:00",
        "evidence": {"method": "in_app_confirmation"},
    }
    data.update(over)
    return cloud_event("dsgov.consent.grant-submitted", data, subject="c1")


def test_a_valid_event_decodes_into_its_payload_model() -> None:
    result = decode(record(to_bytes(grant(extra_field="ignored"))), HANDLED)
    assert isinstance(result, Inbound)
    assert result.data.consent_id == "c1"
    assert result.event.correlation == result.id


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"{", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b'"just a string"', "invalid_envelope"),
        (json.dumps({"specversion": "0.3"}).encode(), "invalid_envelope"),
        (to_bytes({**grant(), "time": "not a time"}), "invalid_envelope"),
        (to_bytes({**grant(), "time": "2026-01-01T00:00:00"}), "invalid_envelope"),  # no offset
        (to_bytes({**grant(), "type": "dsgov.consent.teleported"}), "unknown_type"),
        (to_bytes(grant(biometric_types="face")), "schema_violation"),
        (to_bytes(grant(expires_at=None)), "schema_violation"),
        (to_bytes({**grant(), "subject": "other"}), "schema_violation"),
    ],
)
def test_bad_records_get_their_error_code(value: bytes, code: str) -> None:
    result = decode(record(value), HANDLED)
    assert isinstance(result, DecodeFailure)
    assert result.code == code


def test_oversized_payloads_are_refused_before_parsing() -> None:
    result = decode(record(b" " * 2000), HANDLED, max_bytes=1000)
    assert isinstance(result, DecodeFailure)
    assert result.code == "payload_too_large"


def test_a_contract_type_this_service_does_not_handle_is_ignored_not_dead_lettered() -> None:
    withdrawal = cloud_event(
        "dsgov.consent.withdrawal-submitted", {"consent_id": "c1", "subject_id": "s1"}, subject="c1"
    )
    assert decode(record(to_bytes(withdrawal)), HANDLED) == Ignored("dsgov.consent.withdrawal-submitted")


def test_validation_details_never_echo_the_offending_values() -> None:
    event = cloud_event(
        "dsgov.identity.submitted",
        {"user_id": "u1", "method": "id_card", "id_card_number": ["11010519491231002X"]},
        subject="u1",
    )
    result = decode(
        record(to_bytes(event), "dsgov.platform.identity"), frozenset({"dsgov.identity.submitted"})
    )
    assert isinstance(result, DecodeFailure)
    assert result.code == "schema_violation"
    assert "id_card_number" in result.detail
    assert "11010519491231002X" not in result.detail


def test_derived_ids_are_the_uuid5_of_the_joined_parts() -> None:
    # Issue 15 spelled uuid5 out for speed; ids already published must not change (rule 2).
    import uuid

    from shared.messaging.ids import _NAMESPACE, derived_id

    for parts in [("dsgov/identity-verification", "decision", "e-1"), ("a",), ("张三", "é", ""), ("", "")]:
        assert derived_id(*parts) == str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))
    assert derived_id("dsgov/identity-verification", "event", "x") == derived_id(
        "dsgov/identity-verification", "event", "x"
    )
