"""Canonical JSON, report hashes, signatures and keys files (DS-10.3: reports the regulator can trust)."""

from __future__ import annotations

import base64
import hashlib
import secrets

import pytest

from services.regulator_reporting.chain import (
    GENESIS_HASH,
    KeyRing,
    PublicKey,
    Signer,
    canonical,
    keys_document,
    load_keys,
    parse_seed,
    report_hash,
    seal,
)
from tests.unit.regulator_reporting.factories import signer


def test_canonical_json_follows_rfc_8785_ordering_numbers_and_escapes() -> None:
    # Keys sorted by UTF-16 code units, no whitespace, ES6 number forms, minimal escapes (RFC 8785 §3.2).
    value = {"b": [1.0, 1e21, 0.000001, -0.0], "a": "é\u2028\n", "\u20ac": 1, "\U0001f600": 2, "A": True}
    assert canonical(value) == (
        '{"A":true,"a":"é\u2028\\n","b":[1,1e+21,0.000001,0],"\u20ac":1,"\U0001f600":2}'.encode()
    )


def test_canonical_json_ignores_the_order_fields_were_written_in() -> None:
    assert canonical({"x": 1, "y": {"b": 2, "a": 3}}) == canonical({"y": {"a": 3, "b": 2}, "x": 1})


def test_report_hash_covers_everything_but_hash_signature_and_key_id() -> None:
    report = {"sequence": 1, "prev_hash": GENESIS_HASH, "facts": {"n": 1}}
    expected = hashlib.sha256(canonical(report)).hexdigest()

    assert report_hash(report) == expected
    assert report_hash({**report, "hash": "x", "signature": "y", "key_id": "z"}) == expected
    assert report_hash({**report, "facts": {"n": 2}}) != expected
    assert report_hash({**report, "sequence": 2}) != expected


def test_a_sealed_report_verifies_with_its_key_and_not_with_another() -> None:
    key, other = signer("k1", 1), signer("k2", 2)
    sealed = seal({"sequence": 1, "prev_hash": GENESIS_HASH}, key)

    assert sealed["key_id"] == "k1"
    assert sealed["hash"] == report_hash(sealed)
    assert PublicKey("k1", key.public_key).verifies(sealed["hash"], sealed["signature"])
    assert not PublicKey("k1", other.public_key).verifies(sealed["hash"], sealed["signature"])
    assert not PublicKey("k1", key.public_key).verifies(GENESIS_HASH, sealed["signature"])
    assert not PublicKey("k1", key.public_key).verifies(sealed["hash"], "not base64!")


def test_the_signature_is_ed25519_over_the_ascii_hash_in_standard_base64() -> None:
    key = signer()
    digest = "ab" * 32
    raw = base64.b64decode(key.sign(digest), validate=True)
    assert len(raw) == 64
    key.private_key.public_key().verify(raw, digest.encode("ascii"))  # raises if not


@pytest.mark.parametrize(
    "encode",
    [
        base64.b64encode,
        base64.urlsafe_b64encode,
        lambda b: base64.urlsafe_b64encode(b).rstrip(b"="),  # secrets.token_urlsafe(32) shape
    ],
)
def test_seeds_are_accepted_in_standard_and_url_safe_base64(encode: object) -> None:
    seed = secrets.token_bytes(32)
    assert parse_seed(encode(seed).decode()) == seed  # type: ignore[operator]


@pytest.mark.parametrize("text", ["", "not base64 at all!", base64.b64encode(b"x" * 31).decode()])
def test_anything_but_a_32_byte_seed_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="signing key"):
        parse_seed(text)


def test_the_supervisors_generated_secret_is_a_usable_seed() -> None:
    assert len(parse_seed(secrets.token_urlsafe(32))) == 32


def test_keys_file_round_trips_and_keeps_every_key() -> None:
    a, b = signer("k1", 1), signer("k2", 2)
    document = keys_document(
        [
            PublicKey("k1", a.public_key, first_used_at="2026-01-01T00:00:00+00:00"),
            PublicKey("k2", b.public_key),
        ]
    )

    loaded = load_keys(document)

    assert len(loaded) == 2
    assert loaded.find("k1", "any-provider") == PublicKey(
        "k1", a.public_key, first_used_at="2026-01-01T00:00:00+00:00"
    )
    assert loaded.find("k2", "any-provider") is not None
    assert loaded.find("k3", "any-provider") is None


@pytest.mark.parametrize(
    "document",
    [
        {"keys": []},
        {"format": "dsgov-report-keys/1"},
        {
            "format": "dsgov-report-keys/1",
            "keys": [{"key_id": "k", "algorithm": "RSA", "public_key": "AA=="}],
        },
        {"format": "dsgov-report-keys/1", "keys": [{"key_id": "k", "public_key": "AAAA"}]},
    ],
)
def test_a_broken_keys_file_is_refused(document: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        load_keys(document)


def test_a_provider_scoped_key_only_verifies_that_providers_reports() -> None:
    key = signer()
    ring = KeyRing([PublicKey("k1", key.public_key, provider_id="acme")])

    assert ring.find("k1", "acme") is not None
    assert ring.find("k1", "other") is None


def test_signers_from_the_same_seed_are_the_same_key() -> None:
    seed = bytes(range(32))
    assert Signer.from_seed("a", seed).public_key == Signer.from_seed("b", seed).public_key
