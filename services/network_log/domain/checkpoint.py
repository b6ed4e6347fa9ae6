"""Sealed segments and signed checkpoints (tamper evidence for CS-1 logs, DS-21 inspections).

Each sealed segment is summarised by a `SegmentSeal` (its time range, record count and Merkle
root). The seals, in sealing order, are the leaves of one growing log tree; a `Checkpoint` is the
signed head of that tree after a seal (RFC 6962 "signed tree head"): size, root, time, key id.
Consistency proofs between checkpoints show that a later one extends an earlier one.
"""

from __future__ import annotations

import base64
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel, ConfigDict

from services.network_log.domain.merkle import leaf_hash


class SegmentSeal(BaseModel):
    """One sealed segment: the leaf of the log tree."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    segment: int
    start_ms: int
    end_ms: int
    records: int
    root: str  # hex SHA-256 Merkle root of the segment's entries

    def leaf(self) -> bytes:
        """The RFC 6962 leaf hash of this seal in the log tree."""
        return leaf_hash(rfc8785.dumps(self.model_dump(mode="json")))


class Checkpoint(BaseModel):
    """The signed head of the log tree after `size` sealed segments."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    log: str  # which log (one per deployment), e.g. "dsgov.network_log"
    size: int
    root: str  # hex
    signed_at_ms: int
    key_id: str
    signature: str = ""  # base64 Ed25519 over `message()`

    def message(self) -> bytes:
        """The signed bytes: RFC 8785 JSON of every field but the signature."""
        return rfc8785.dumps(self.model_dump(mode="json", exclude={"signature"}))


class Signer:
    """Signs checkpoints and manifests with one Ed25519 key, named by `key_id`."""

    def __init__(self, key_id: str, seed: bytes) -> None:
        """`seed`: the raw 32-byte Ed25519 private key."""
        self.key_id = key_id
        self._key = Ed25519PrivateKey.from_private_bytes(seed)

    @property
    def public_key(self) -> str:
        """Standard base64 of the raw 32-byte public key."""
        raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode("ascii")

    def sign(self, message: bytes) -> str:
        """Base64 Ed25519 signature over `message`."""
        return base64.b64encode(self._key.sign(message)).decode("ascii")

    def checkpoint(self, unsigned: Checkpoint) -> Checkpoint:
        """`unsigned` with this key's id and signature."""
        named = unsigned.model_copy(update={"key_id": self.key_id, "signature": ""})
        return named.model_copy(update={"signature": self.sign(named.message())})


def signature_valid(public_keys: dict[str, str], key_id: str, message: bytes, signature: str) -> bool:
    """True when `signature` over `message` is valid under the public key named `key_id`."""
    encoded = public_keys.get(key_id)
    if encoded is None:
        return False
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(encoded, validate=True))
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def checkpoint_valid(public_keys: dict[str, str], cp: Checkpoint) -> bool:
    """True when the checkpoint's signature verifies under its key."""
    return signature_valid(public_keys, cp.key_id, cp.message(), cp.signature)


def seals_tree_leaves(seals: list[dict[str, Any]]) -> list[bytes]:
    """The log-tree leaves of stored seals, in sealing order."""
    return [SegmentSeal.model_validate(s).leaf() for s in seals]
