"""`SecurityData` for ReservedCode1 (producer) and ReservedCode2 (propagator), TC260-PG-202511A.

The value written into the label field is this compact JSON object (GB-I5, GB-I6)::

    {"SecurityData":{"Type":"TC260PG","Version":"1.0",
      "Bindings":"Label,ContentProducer,ProduceID,ContentSHA256",
      "ContentSHA256":"<64 hex>",
      "PubSD":[{"Alg":"1.2.156.10197.1.501","PubKey":"04<128 hex>","Sig":"<128 hex: r‖s>"}]}}

The signature (SM3withSM2, `sm2.py`) covers the members named in `Bindings`, serialised as in the
Annex E JSON — `"Label":"1","ContentProducer":"…","ProduceID":"…"` — followed by
`"ContentSHA256":"<hex>"` (the file's content hash, `files.content_hash`), joined by commas. A
propagator's ReservedCode2 binds `Label,ContentProducer,ProduceID,ReservedCode1,ContentPropagator,
PropagateID,ContentSHA256`. The exact PG-202511A schema was not available to us (regulations.md
§"open questions" 3); the object follows the field names the public implementations use, names
what it binds, and checkers that do not understand it see an opaque string made only of Annex E
characters (quotes aside, which the JSON serialisation escapes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from services.labeling.aigc.sm2 import ALGORITHM, Sm2KeyError, Sm2PrivateKey, Sm2PublicKey, load_public_key

TYPE: Final = "TC260PG"
VERSION: Final = "1.0"
CONTENT_MEMBER: Final = "ContentSHA256"
RC1_BINDINGS: Final = ("Label", "ContentProducer", "ProduceID", CONTENT_MEMBER)
RC2_BINDINGS: Final = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    CONTENT_MEMBER,
)
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_SIG: Final = re.compile(r"[0-9a-f]{128}")


class SecurityDataError(ValueError):
    """A ReservedCode value that claims to be SecurityData but is malformed."""


@dataclass(frozen=True)
class SecurityData:
    """A parsed SecurityData object (one PubSD entry is used)."""

    bindings: tuple[str, ...]
    content_sha256: str
    algorithm: str
    public_key: Sm2PublicKey
    signature: bytes


def looks_like(value: str) -> bool:
    """True when the ReservedCode value is (meant to be) a SecurityData object."""
    return value.startswith('{"SecurityData"')


def message(bindings: tuple[str, ...], fields: dict[str, str]) -> bytes:
    """The signed text: the bound members, JSON-serialised, comma-joined."""
    members = (json.dumps(name) + ":" + json.dumps(fields[name], ensure_ascii=True) for name in bindings)
    return ",".join(members).encode("ascii")


def make(key: Sm2PrivateKey, bindings: tuple[str, ...], fields: dict[str, str], content_sha256: str) -> str:
    """Sign and serialise; `fields` holds the label members named in `bindings`."""
    public = key.public_key()
    signature = key.sign(message(bindings, {**fields, CONTENT_MEMBER: content_sha256}), public)
    obj = {
        "SecurityData": {
            "Type": TYPE,
            "Version": VERSION,
            "Bindings": ",".join(bindings),
            CONTENT_MEMBER: content_sha256,
            "PubSD": [{"Alg": ALGORITHM, "PubKey": public.hex(), "Sig": signature.hex()}],
        }
    }
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def _field(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str):
        raise SecurityDataError(f"{name} is missing or not a string")
    return value


def parse(value: str) -> SecurityData:
    """The SecurityData in a ReservedCode value; SecurityDataError when it is malformed."""
    try:
        outer = json.loads(value)
    except ValueError:
        raise SecurityDataError("not JSON") from None
    inner = outer.get("SecurityData") if isinstance(outer, dict) else None
    if not isinstance(inner, dict) or _field(inner, "Type") != TYPE:
        raise SecurityDataError("no SecurityData object of Type TC260PG")
    bindings = tuple(_field(inner, "Bindings").split(","))
    sha = _field(inner, CONTENT_MEMBER) if CONTENT_MEMBER in bindings else ""
    if CONTENT_MEMBER in bindings and not _HEX64.fullmatch(sha):
        raise SecurityDataError("ContentSHA256 is not 64 lower-case hex digits")
    entries = inner.get("PubSD")
    if not isinstance(entries, list) or not entries or not isinstance(entries[0], dict):
        raise SecurityDataError("PubSD holds no entry")
    entry = entries[0]
    signature = _field(entry, "Sig")
    if not _SIG.fullmatch(signature):
        raise SecurityDataError("Sig is not r||s as 128 hex digits")
    try:
        public = load_public_key(_field(entry, "PubKey"))
    except Sm2KeyError as exc:
        raise SecurityDataError(f"PubKey: {exc}") from None
    return SecurityData(bindings, sha, _field(entry, "Alg"), public, bytes.fromhex(signature))


def signature_ok(data: SecurityData, fields: dict[str, str]) -> bool:
    """True when the signature verifies with the embedded key over the bound members."""
    if data.algorithm != ALGORITHM:
        return False
    try:
        signed = message(data.bindings, {**fields, CONTENT_MEMBER: data.content_sha256})
    except KeyError:
        return False  # binds a member this label does not have
    return data.public_key.verify(signed, data.signature)
