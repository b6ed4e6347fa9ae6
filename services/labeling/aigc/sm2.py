"""SM2 signatures with SM3 (SM3withSM2, GB/T 32918.2, GB/T 35276; algorithm id 1.2.156.10197.1.501).

The curve arithmetic and the Z/e computation are gmssl's (pure Python, PyPI `gmssl`). Reading its
source showed four things this module works around rather than inherits:

- `sign_with_sm3` draws the nonce k with `random.choice` (Mersenne Twister, predictable: the
  private key can be recovered). Here k is derived deterministically from the key and the digest
  with HMAC-SHA256 in the manner of RFC 6979, so equal inputs give equal signatures (a redelivery
  issues the same label, as with Ed25519) and no RNG is involved.
- `CryptSM2.__init__` strips the `04` prefix with `lstrip("04")`, which also eats leading `0`/`4`
  digits of the x coordinate; the coordinates are set directly instead.
- `verify` does not check that r and s lie in [1, n-1], nor that the public key is on the curve;
  both are checked here.
- The scalar multiplication is not constant-time: signing keys belong on machines that run no
  untrusted code.

User id: the GM/T 0009 default `1234567812345678` (what OpenSSL uses with `distid`); the tests
check signatures against OpenSSL in both directions.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Final

from gmssl import sm2 as gm  # type: ignore[import-untyped]  # gmssl ships no type information

ALGORITHM: Final = "1.2.156.10197.1.501"  # SM3withSM2
_TABLE: Final[dict[str, str]] = gm.default_ecc_table
N: Final = int(_TABLE["n"], 16)
P: Final = int(_TABLE["p"], 16)
A: Final = int(_TABLE["a"], 16)
B: Final = int(_TABLE["b"], 16)
PRIVATE_PREFIX: Final = "sm2:"
_HEX_PRIVATE: Final = re.compile(r"(?:sm2:)?([0-9a-fA-F]{64})")
_HEX_PUBLIC: Final = re.compile(r"(?:sm2:)?04([0-9a-fA-F]{128})")


class Sm2KeyError(ValueError):
    """A key that is not a valid SM2 key (the message never contains key material)."""


def _crypt(private: int | None, xy: str) -> gm.CryptSM2:
    crypt = gm.CryptSM2(private_key=f"{private:064x}" if private else "", public_key="")
    crypt.public_key = xy  # not through __init__: its lstrip("04") damages some keys
    return crypt


@dataclass(frozen=True)
class Sm2PublicKey:
    """A point on the SM2 curve."""

    x: int
    y: int

    def __post_init__(self) -> None:
        """Refuse points that are not on the curve (gmssl does not check)."""
        if not (0 < self.x < P and 0 < self.y < P) or (self.y * self.y - self.x**3 - A * self.x - B) % P:
            raise Sm2KeyError("the SM2 public key is not a point on the curve")

    def hex(self) -> str:
        """Uncompressed form `04‖x‖y` in lower-case hex (130 characters)."""
        return f"04{self.x:064x}{self.y:064x}"

    def digest(self, message: bytes) -> bytes:
        """E = SM3(Z_A ‖ M) with the default user id."""
        return bytes.fromhex(_crypt(None, self.hex()[2:])._sm3_z(message))

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when `signature` (r ‖ s, 64 bytes) is valid for `message`."""
        if len(signature) != 64:
            return False
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        if not (0 < r < N and 0 < s < N):
            return False
        return bool(_crypt(None, self.hex()[2:]).verify(f"{r:064x}{s:064x}", self.digest(message)))


@dataclass(frozen=True)
class Sm2PrivateKey:
    """An SM2 private key d in [1, n-2]."""

    d: int

    def __post_init__(self) -> None:
        """Refuse out-of-range scalars."""
        if not 0 < self.d < N - 1:
            raise Sm2KeyError("the SM2 private key is out of range")

    @classmethod
    def generate(cls) -> Sm2PrivateKey:
        """A new random key (the `secrets` CSPRNG)."""
        return cls(secrets.randbelow(N - 2) + 1)

    @functools.cached_property
    def _public(self) -> Sm2PublicKey:
        xy = _crypt(self.d, "")._kg(self.d, _TABLE["g"])
        return Sm2PublicKey(int(xy[:64], 16), int(xy[64:], 16))

    def public_key(self) -> Sm2PublicKey:
        """d·G (computed once per key object)."""
        return self._public

    def _nonces(self, digest: bytes) -> list[int]:
        """Deterministic candidates for k (RFC 6979 style: HMAC over the key and the digest)."""
        key = self.d.to_bytes(32, "big")
        out = []
        for counter in range(16):
            block = hmac.new(key, digest + counter.to_bytes(4, "big"), hashlib.sha256).digest()
            out.append(int.from_bytes(block, "big") % (N - 1) + 1)
        return out

    def sign(self, message: bytes, public: Sm2PublicKey | None = None) -> bytes:
        """SM3withSM2 signature r ‖ s (64 bytes) over `message`."""
        pub = public or self.public_key()
        digest = pub.digest(message)
        crypt = _crypt(self.d, pub.hex()[2:])
        for k in self._nonces(digest):
            signature = crypt.sign(digest, f"{k:064x}")
            if signature:
                return bytes.fromhex(signature)
        raise RuntimeError("SM2: no usable nonce")  # probability ~ 2**-4000

    def text(self) -> str:
        """The environment-variable form `sm2:<64 hex>`."""
        return f"{PRIVATE_PREFIX}{self.d:064x}"


def load_private_key(text: str) -> Sm2PrivateKey:
    """`sm2:` followed by the 64-hex scalar d."""
    match = _HEX_PRIVATE.fullmatch(text.strip())
    if not match:
        raise Sm2KeyError("an SM2 private key is written sm2:<64 hex digits>")
    return Sm2PrivateKey(int(match[1], 16))


def load_public_key(text: str) -> Sm2PublicKey:
    """`04‖x‖y` in hex (130 digits, optionally prefixed `sm2:`)."""
    match = _HEX_PUBLIC.fullmatch(text.strip())
    if not match:
        raise Sm2KeyError("an SM2 public key is written 04<128 hex digits>")
    return Sm2PublicKey(int(match[1][:64], 16), int(match[1][64:], 16))


def is_sm2_text(text: str) -> bool:
    """True when `text` looks like an SM2 key in the forms above."""
    clean = text.strip()
    return bool(_HEX_PRIVATE.fullmatch(clean) or _HEX_PUBLIC.fullmatch(clean))
