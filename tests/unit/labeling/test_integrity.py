"""ReservedCode1/2 integrity data: Ed25519 over a documented message (GB-I5, GB-I6)."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives import serialization

from services.labeling.aigc import integrity, issue
from tests.unit.labeling.samples import OTHER_KEY, PRODUCER, PRODUCER_KEY

SHA = "ab" * 32


def test_the_signed_message_is_exactly_the_documented_bytes() -> None:
    assert (
        integrity.rc1_message("1", PRODUCER, "pid", SHA)
        == f"DSGOV-AIGC-RC1/1\n1\n{PRODUCER}\npid\n{SHA}".encode()
    )
    assert (
        integrity.rc2_message("1", PRODUCER, "pid", "rc1", "PLAT", "post", SHA)
        == f"DSGOV-AIGC-RC2/1\n1\n{PRODUCER}\npid\nrc1\nPLAT\npost\n{SHA}".encode()
    )


def test_a_produced_label_carries_verifiable_integrity_data_and_first_write_equality() -> None:
    label = issue.produce(producer_code=PRODUCER, produce_id="pid", content_sha256=SHA, key=PRODUCER_KEY)
    data = integrity.parse(label.reserved_code1)
    assert data is not None
    assert data.content_sha256 == SHA
    assert data.key_id == integrity.key_id(PRODUCER_KEY.public_key())
    assert integrity.signature_ok(
        PRODUCER_KEY.public_key(), integrity.rc1_message("1", PRODUCER, "pid", SHA), data
    )
    assert not integrity.signature_ok(
        OTHER_KEY.public_key(), integrity.rc1_message("1", PRODUCER, "pid", SHA), data
    )
    assert not integrity.signature_ok(
        PRODUCER_KEY.public_key(), integrity.rc1_message("1", PRODUCER, "pid2", SHA), data
    )
    assert label.is_first_write  # GB-I7
    assert len(label.reserved_code1) == len("dsgov1.") + 64 + 1 + 16 + 1 + 86


def test_signing_is_deterministic_so_a_redelivery_issues_the_same_label() -> None:
    one = issue.produce(producer_code=PRODUCER, produce_id="pid", content_sha256=SHA, key=PRODUCER_KEY)
    two = issue.produce(producer_code=PRODUCER, produce_id="pid", content_sha256=SHA, key=PRODUCER_KEY)
    assert one == two


def test_keys_load_from_the_forms_operators_use() -> None:
    seed = secrets.token_bytes(32)
    for text in (
        base64.urlsafe_b64encode(seed).decode().rstrip("="),  # what `make run` generates (token_urlsafe(32))
        base64.b64encode(seed).decode(),
    ):
        key = integrity.load_private_key(text)
        assert integrity.private_key_text(key) == base64.urlsafe_b64encode(seed).decode().rstrip("=")
    pem = PRODUCER_KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    assert integrity.key_id(integrity.load_private_key(pem).public_key()) == integrity.key_id(
        PRODUCER_KEY.public_key()
    )
    public = integrity.public_key_text(PRODUCER_KEY.public_key())
    assert integrity.key_id(integrity.load_public_key(public)) == integrity.key_id(PRODUCER_KEY.public_key())


@pytest.mark.parametrize(
    "text", ["", "c2hvcnQ", "not base64 !!", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"]
)
def test_bad_keys_are_refused_without_echoing_them(text: str) -> None:
    with pytest.raises(integrity.KeyLoadError) as info:
        integrity.load_private_key(text)
    assert text not in str(info.value) or not text


@pytest.mark.parametrize(
    "value", ["", "abc", "dsgov1." + SHA + ".00.sig", "dsgov2." + SHA + "." + "0" * 16 + "." + "A" * 86]
)
def test_foreign_integrity_values_do_not_parse(value: str) -> None:
    assert integrity.parse(value) is None
