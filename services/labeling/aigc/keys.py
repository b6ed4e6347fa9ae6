"""Signing and verification keys: SM2 (SecurityData, the default) or Ed25519 (dsgov1, legacy)."""

from __future__ import annotations

from typing import TypeAlias

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.labeling.aigc import integrity, sm2

SigningKey: TypeAlias = sm2.Sm2PrivateKey | Ed25519PrivateKey
VerifyKey: TypeAlias = sm2.Sm2PublicKey | Ed25519PublicKey


class KeyFormatError(ValueError):
    """A key text that is neither an SM2 nor an Ed25519 key (never contains key material)."""


def load_signing_key(text: str) -> SigningKey:
    """`sm2:<64 hex>` for SM2; base64url seed or PEM PKCS#8 for Ed25519."""
    try:
        if text.strip().startswith(sm2.PRIVATE_PREFIX):
            return sm2.load_private_key(text)
        return integrity.load_private_key(text)
    except (sm2.Sm2KeyError, integrity.KeyLoadError) as exc:
        raise KeyFormatError(str(exc)) from None


def load_verify_key(text: str) -> VerifyKey:
    """`04<128 hex>` (optionally `sm2:`-prefixed) for SM2; base64url or PEM for Ed25519."""
    try:
        if sm2.is_sm2_text(text):
            return sm2.load_public_key(text)
        return integrity.load_public_key(text)
    except (sm2.Sm2KeyError, integrity.KeyLoadError) as exc:
        raise KeyFormatError(str(exc)) from None


def public_text(key: VerifyKey) -> str:
    """The public key in the form `verify --public-key` takes."""
    return key.hex() if isinstance(key, sm2.Sm2PublicKey) else integrity.public_key_text(key)


def private_text(key: SigningKey) -> str:
    """The private key in the environment-variable form."""
    return key.text() if isinstance(key, sm2.Sm2PrivateKey) else integrity.private_key_text(key)
