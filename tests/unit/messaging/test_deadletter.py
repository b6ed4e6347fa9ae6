"""Dead letters keep the original bytes; from sensitive topics only encrypted."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag

from shared.messaging.codec import RawRecord
from shared.messaging.deadletter import dead_letter_event, decrypt_payload

RAW = RawRecord("dsgov.platform.identity", 2, 40, b"user-1", b'{"id_card_number": "11010519491231002X"}')


def build(secret: str | None, record: RawRecord = RAW) -> dict[str, object]:
    event = dead_letter_event(
        service="svc",
        source="dsgov/svc",
        providerid="p",
        record=record,
        code="invalid_envelope",
        detail="x",
        attempts=1,
        now=datetime.now(UTC),
        encrypt_with=secret,
    )
    return event.data


def test_plain_topics_keep_base64_of_the_original_bytes() -> None:
    data = build(None)
    assert base64.b64decode(str(data["payload"])) == RAW.value
    assert "payload_encryption" not in data  # omitted when not encrypted


def test_sensitive_topics_keep_the_bytes_encrypted_and_only_the_key_holder_reads_them() -> None:
    data = build("k" * 40)
    assert b"11010519491231002X" not in base64.b64decode(str(data["payload"]))
    assert decrypt_payload(str(data["payload"]), "k" * 40) == RAW.value
    with pytest.raises(InvalidTag):
        decrypt_payload(str(data["payload"]), "x" * 40)


def test_the_same_bad_record_always_gets_the_same_dead_letter_id() -> None:
    def event_id() -> str:
        return dead_letter_event(
            service="svc",
            source="s",
            providerid="p",
            record=RAW,
            code="invalid_json",
            detail="",
            attempts=1,
            now=datetime.now(UTC),
            encrypt_with=None,
        ).id

    assert event_id() == event_id()


def test_a_binary_key_is_kept_as_base64() -> None:
    data = build(None, RawRecord("t", 0, 1, b"\xff\x00", b"{}"))
    assert data["key_encoding"] == "base64"
    assert base64.b64decode(str(data["key"])) == b"\xff\x00"
