"""AES-256-GCM for log bodies at rest and HMAC-SHA-256 blind indexes (keys from the environment)."""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class AesGcmCipher:
    """Implements `FieldCipher`; two keys derived from one configured secret, one per purpose."""

    def __init__(self, secret: str) -> None:
        """`secret`: any high-entropy string (DSGOV_NETLOG_ENCRYPTION_KEY)."""
        raw = secret.encode("utf-8")
        self._aead = AESGCM(hashlib.sha256(b"dsgov-netlog-aes-v1:" + raw).digest())
        self._blind_key = hashlib.sha256(b"dsgov-netlog-blind-v1:" + raw).digest()

    def seal(self, plaintext: bytes) -> bytes:
        """Nonce || ciphertext || tag."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, None)

    def open(self, sealed: bytes) -> bytes:
        """The plaintext; `cryptography.exceptions.InvalidTag` when altered or under another key."""
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None)

    def blind(self, value: str) -> str:
        """Hex of the first 128 bits of HMAC-SHA-256 of the value (enough to match, half the space)."""
        digest = hmac.new(self._blind_key, value.strip().lower().encode("utf-8"), hashlib.sha256).digest()
        return digest[:16].hex()


def random_salt() -> bytes:
    """16 random bytes for an entry's salt."""
    return os.urandom(16)
