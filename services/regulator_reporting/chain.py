"""Canonical JSON, report hashes, the hash chain and Ed25519 signatures (DS-10.3, DS-11, GA-14).

Pure and self-contained: the service signs with it and the regulator's CLI verifies with it, so
both sides compute the very same bytes. The rules, which are part of the public contract:

- the hashed object is the report payload (`data` of `dsgov.report.submitted`) without `hash`,
  `signature` and `key_id`;
- it is serialised with RFC 8785 (JSON Canonicalization Scheme, the `rfc8785` package) and
  `hash` is the lowercase hex SHA-256 of those bytes;
- `prev_hash` is the `hash` of the provider's previous report, or 64 zeros for sequence 1;
- `signature` is the standard base64 of the Ed25519 signature over the ASCII bytes of `hash`;
- public keys are published as standard base64 of the raw 32-byte Ed25519 public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

GENESIS_HASH = "0" * 64
UNHASHED_FIELDS = frozenset({"hash", "signature", "key_id"})
ALGORITHM = "Ed25519"
KEYS_FORMAT = "dsgov-report-keys/1"

CanonicalizationError = (rfc8785.CanonicalizationError, rfc8785.IntegerDomainError, rfc8785.FloatDomainError)


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes; raises one of `CanonicalizationError` for unrepresentable values."""
    return rfc8785.dumps(value)


def report_hash(data: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the canonical JSON of a report without `hash`, `signature`, `key_id`."""
    hashed = {k: v for k, v in data.items() if k not in UNHASHED_FIELDS}
    return hashlib.sha256(canonical(hashed)).hexdigest()


def _b64decode(text: str) -> bytes:
    # Accept standard and URL-safe alphabets, with or without padding (secrets.token_urlsafe writes these).
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


def parse_seed(text: str) -> bytes:
    """A base64 Ed25519 seed (32 raw bytes); ValueError when it is not one."""
    try:
        seed = _b64decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the signing key is not base64") from exc
    if len(seed) != 32:
        raise ValueError(f"the signing key must be 32 bytes, got {len(seed)}")
    return seed


def public_key_b64(key: Ed25519PublicKey) -> str:
    """Standard base64 of the raw 32-byte public key."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


@dataclass(frozen=True)
class Signer:
    """Signs report hashes with one Ed25519 key, named by `key_id`."""

    key_id: str
    private_key: Ed25519PrivateKey

    @classmethod
    def from_seed(cls, key_id: str, seed: bytes) -> Signer:
        """The signer for a raw 32-byte seed."""
        return cls(key_id, Ed25519PrivateKey.from_private_bytes(seed))

    @property
    def public_key(self) -> str:
        """The public key, standard base64 of its 32 raw bytes."""
        return public_key_b64(self.private_key.public_key())

    def sign(self, hash_hex: str) -> str:
        """Base64 Ed25519 signature over the ASCII bytes of `hash_hex`."""
        return base64.b64encode(self.private_key.sign(hash_hex.encode("ascii"))).decode("ascii")


def seal(unsigned: Mapping[str, Any], signer: Signer) -> dict[str, Any]:
    """The report with `hash`, `signature` and `key_id` added."""
    digest = report_hash(unsigned)
    return {**unsigned, "hash": digest, "signature": signer.sign(digest), "key_id": signer.key_id}


@dataclass(frozen=True)
class PublicKey:
    """A verification key as published to the regulator."""

    key_id: str
    public_key: str  # standard base64, 32 raw bytes
    provider_id: str | None = None
    first_used_at: str | None = None

    def verifies(self, hash_hex: str, signature_b64: str) -> bool:
        """True when `signature_b64` is this key's Ed25519 signature over `hash_hex`."""
        try:
            key = Ed25519PublicKey.from_public_bytes(_b64decode(self.public_key))
            key.verify(_b64decode(signature_b64), hash_hex.encode("ascii"))
        except (InvalidSignature, ValueError, binascii.Error, UnicodeEncodeError):
            return False
        return True

    def to_json(self) -> dict[str, Any]:
        """The keys-file entry."""
        entry: dict[str, Any] = {"key_id": self.key_id, "algorithm": ALGORITHM, "public_key": self.public_key}
        if self.provider_id:
            entry["provider_id"] = self.provider_id
        if self.first_used_at:
            entry["first_used_at"] = self.first_used_at
        return entry


class KeyRing:
    """Every public key a verifier trusts, by key id (and provider, when the key names one)."""

    def __init__(self, keys: Iterable[PublicKey] = ()) -> None:
        """Trust `keys`; a later key with the same id and provider replaces an earlier one."""
        self._keys: dict[str, list[PublicKey]] = {}
        for key in keys:
            self.add(key)

    def add(self, key: PublicKey) -> None:
        """Trust one more key."""
        same = [k for k in self._keys.get(key.key_id, []) if k.provider_id != key.provider_id]
        self._keys[key.key_id] = [*same, key]

    def find(self, key_id: str, provider_id: str) -> PublicKey | None:
        """The key for `key_id` that may sign for `provider_id`, if any."""
        for key in self._keys.get(key_id, []):
            if key.provider_id in (None, provider_id):
                return key
        return None

    def __len__(self) -> int:
        """How many keys are trusted."""
        return sum(len(v) for v in self._keys.values())

    def entries(self) -> list[PublicKey]:
        """Every trusted key."""
        return [k for ks in self._keys.values() for k in ks]


def keys_document(keys: Iterable[PublicKey]) -> dict[str, Any]:
    """The exportable keys file (`export-keys`), read by `load_keys`."""
    return {"format": KEYS_FORMAT, "keys": [k.to_json() for k in keys]}


def load_keys(document: Mapping[str, Any]) -> KeyRing:
    """Parse a keys file; ValueError when it is not one."""
    if document.get("format") != KEYS_FORMAT or not isinstance(document.get("keys"), list):
        raise ValueError(f"not a {KEYS_FORMAT} document")
    ring = KeyRing()
    for entry in document["keys"]:
        if not isinstance(entry, dict) or entry.get("algorithm", ALGORITHM) != ALGORITHM:
            raise ValueError(f"unsupported key entry: {entry!r}"[:200])
        key = PublicKey(
            key_id=str(entry["key_id"]),
            public_key=str(entry["public_key"]),
            provider_id=entry.get("provider_id"),
            first_used_at=entry.get("first_used_at"),
        )
        if len(_b64decode(key.public_key)) != 32:
            raise ValueError(f"key {key.key_id}: an Ed25519 public key is 32 bytes")
        ring.add(key)
    return ring
