"""Integrity data for ReservedCode1 (producer) and ReservedCode2 (propagator), GB-I5/GB-I6.

Ed25519 (RFC 8032) via `cryptography`. The value written into the label is::

    dsgov1.<content-sha256, 64 lower-case hex>.<key id, 16 hex>.<signature, base64url without padding>

where the key id is the first 16 hex characters of SHA-256 over the raw 32-byte public key, and
the signature covers exactly these ASCII bytes (fields joined by LF, no trailing LF; label values
cannot contain LF, GB-I8, so the message is unambiguous)::

    ReservedCode1:  DSGOV-AIGC-RC1/1 LF Label LF ContentProducer LF ProduceID LF content-sha256
    ReservedCode2:  DSGOV-AIGC-RC2/1 LF Label LF ContentProducer LF ProduceID LF ReservedCode1
                    LF ContentPropagator LF PropagateID LF content-sha256

The content hash is the file's SHA-256 with its label carrier removed (see `files.content_hash`),
which for a file labeled by `embed` equals the SHA-256 of the file before labeling.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PREFIX: Final = "dsgov1"
RC1_CONTEXT: Final = "DSGOV-AIGC-RC1/1"
RC2_CONTEXT: Final = "DSGOV-AIGC-RC2/1"
_VALUE: Final = re.compile(r"dsgov1\.([0-9a-f]{64})\.([0-9a-f]{16})\.([A-Za-z0-9_-]{86})")


class KeyLoadError(ValueError):
    """A key that cannot be loaded (the message never contains key material)."""


@dataclass(frozen=True)
class IntegrityData:
    """A parsed ReservedCode value."""

    content_sha256: str
    key_id: str
    signature: bytes


def _b64decode(text: str) -> bytes:
    clean = "".join(text.split())
    padded = clean + "=" * (-len(clean) % 4)
    try:
        return base64.urlsafe_b64decode(padded.replace("+", "-").replace("/", "_"))
    except (binascii.Error, ValueError):
        raise KeyLoadError("not base64") from None


def load_private_key(text: str) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) key, or base64/base64url of the 32-byte Ed25519 seed."""
    if "BEGIN" in text:
        try:
            key = serialization.load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError):
            raise KeyLoadError("not a PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyLoadError("the PEM key is not an Ed25519 key")
        return key
    raw = _b64decode(text)
    if len(raw) != 32:
        raise KeyLoadError(f"an Ed25519 seed is 32 bytes, got {len(raw)}")
    return Ed25519PrivateKey.from_private_bytes(raw)


def load_public_key(text: str) -> Ed25519PublicKey:
    """A PEM (SubjectPublicKeyInfo) key, or base64/base64url of the 32 raw public-key bytes."""
    if "BEGIN" in text:
        try:
            key = serialization.load_pem_public_key(text.encode())
        except (ValueError, TypeError):
            raise KeyLoadError("not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise KeyLoadError("the PEM key is not an Ed25519 key")
        return key
    raw = _b64decode(text)
    if len(raw) != 32:
        raise KeyLoadError(f"an Ed25519 public key is 32 bytes, got {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def public_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as base64url of its raw bytes (what `verify --public-key` takes)."""
    return base64.urlsafe_b64encode(public_bytes(key)).decode().rstrip("=")


def private_key_text(key: Ed25519PrivateKey) -> str:
    """The private key as base64url of its 32-byte seed (the environment variable's form)."""
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def key_id(key: Ed25519PublicKey) -> str:
    """First 16 hex characters of SHA-256 over the raw public key."""
    return hashlib.sha256(public_bytes(key)).hexdigest()[:16]


def rc1_message(label: str, producer: str, produce_id: str, content_sha256: str) -> bytes:
    """The bytes ReservedCode1 signs."""
    return "\n".join((RC1_CONTEXT, label, producer, produce_id, content_sha256)).encode("ascii")


def rc2_message(
    label: str,
    producer: str,
    produce_id: str,
    reserved_code1: str,
    propagator: str,
    propagate_id: str,
    content_sha256: str,
) -> bytes:
    """The bytes ReservedCode2 signs."""
    parts = (RC2_CONTEXT, label, producer, produce_id, reserved_code1, propagator, propagate_id)
    return "\n".join((*parts, content_sha256)).encode("ascii")


def make(key: Ed25519PrivateKey, message: bytes, content_sha256: str) -> str:
    """Sign `message` and format the ReservedCode value."""
    signature = base64.urlsafe_b64encode(key.sign(message)).decode().rstrip("=")
    return f"{PREFIX}.{content_sha256}.{key_id(key.public_key())}.{signature}"


def parse(value: str) -> IntegrityData | None:
    """A ReservedCode value in dsgov1 form, or None when it is not one."""
    match = _VALUE.fullmatch(value)
    if not match:
        return None
    return IntegrityData(match[1], match[2], _b64decode(match[3]))


def signature_ok(key: Ed25519PublicKey, message: bytes, data: IntegrityData) -> bool:
    """True when `data.signature` is `key`'s signature over `message`."""
    try:
        key.verify(data.signature, message)
    except InvalidSignature:
        return False
    return True
