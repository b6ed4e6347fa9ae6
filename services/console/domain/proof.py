"""Tamper-evident consent history: every event as received, chained by SHA-256 over RFC 8785 JSON.

Each history entry links to the one before it::

    hash = SHA-256( JCS({"seq": n, "prev_hash": <hash of entry n-1, or 64 zeros>, "event": <the event>}) )

where `event` is the CloudEvent exactly as received (every field, known or not) and JCS is the
JSON Canonicalization Scheme (RFC 8785). Changing, removing, inserting or reordering any entry
changes every later hash, so an exported proof can be checked by anyone with `verify_proof`
(or any JCS implementation), and its head hash compared with a later export. Because the hash
covers only the events, rebuilding the read model from the topic yields the same chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import rfc8785

FORMAT: Final = "dsgov.console.consent-proof/v1"
GENESIS: Final = "0" * 64
HASH_ALGORITHM: Final = "sha-256"
CANONICALIZATION: Final = "RFC 8785 (JSON Canonicalization Scheme)"


class NotCanonicalizable(ValueError):
    """The event holds values JCS cannot represent (integers beyond 2^53, NaN)."""


def link_hash(seq: int, prev_hash: str, event: Mapping[str, Any]) -> str:
    """The hash of one chain entry."""
    try:
        canonical = rfc8785.dumps({"seq": seq, "prev_hash": prev_hash, "event": dict(event)})
    except rfc8785.CanonicalizationError as exc:
        raise NotCanonicalizable(str(exc)) from exc
    return hashlib.sha256(canonical).hexdigest()


def next_link(length: int, last_hash: str | None, event_json: str) -> tuple[int, str, str]:
    """Sequence number, previous hash and hash of the entry after `length` entries ending in `last_hash`."""
    seq = length + 1
    prev = last_hash or GENESIS
    return seq, prev, link_hash(seq, prev, json.loads(event_json))


def chain_entry(history: Sequence[Mapping[str, Any]], event_json: str) -> dict[str, Any]:
    """The next entry for an event received as the JSON text `event_json`."""
    seq, prev, digest = next_link(len(history), str(history[-1]["hash"]) if history else None, event_json)
    return {"seq": seq, "prev_hash": prev, "hash": digest, "event_json": event_json}


def build_proof(
    state: Mapping[str, Any], *, exported_at: datetime, exported_by: Mapping[str, str]
) -> dict[str, Any]:
    """The JSON document an operator downloads for one consent."""
    history: list[Mapping[str, Any]] = state.get("history", [])
    return {
        "format": FORMAT,
        "hash_algorithm": HASH_ALGORITHM,
        "canonicalization": CANONICALIZATION,
        "link": 'hash = sha256(JCS({"seq": seq, "prev_hash": prev_hash, "event": event}))',
        "genesis": GENESIS,
        "consent_id": state.get("consent_id"),
        "provider_id": state.get("provider_id"),
        "status": state.get("status"),
        "exported_at": exported_at.isoformat(),
        "exported_by": dict(exported_by),
        "entries": [
            {
                "seq": e["seq"],
                "prev_hash": e["prev_hash"],
                "hash": e["hash"],
                "event": json.loads(e["event_json"]),
            }
            for e in history
        ],
        "head_hash": history[-1]["hash"] if history else GENESIS,
    }


@dataclass(frozen=True)
class Verification:
    """The result of checking a proof; `problems` is empty when it holds."""

    entries: int
    head_hash: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems


def verify_proof(proof: Mapping[str, Any]) -> Verification:
    """Recompute the chain of an exported proof and compare every link and the head hash."""
    problems: list[str] = []
    if proof.get("format") != FORMAT:
        problems.append(f"unknown format {proof.get('format')!r}")
    entries = proof.get("entries")
    if not isinstance(entries, list):
        return Verification(0, None, [*problems, "no entries list"])
    prev = GENESIS
    for index, entry in enumerate(entries, start=1):
        problems += _check_entry(index, entry, prev, proof.get("consent_id"))
        prev = str(entry.get("hash")) if isinstance(entry, Mapping) else prev
    if proof.get("head_hash") != prev:
        problems.append("head_hash is not the hash of the last entry")
    return Verification(len(entries), prev, problems)


def _check_entry(index: int, entry: Any, prev: Any, consent_id: Any) -> list[str]:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("event"), Mapping):
        return [f"entry {index}: not an object with an event"]
    problems = []
    if entry.get("seq") != index:
        problems.append(f"entry {index}: seq is {entry.get('seq')!r}, expected {index}")
    if entry.get("prev_hash") != prev:
        problems.append(f"entry {index}: prev_hash does not link to the entry before")
    try:
        expected = link_hash(index, str(prev), entry["event"])
    except NotCanonicalizable as exc:
        return [*problems, f"entry {index}: {exc}"]
    if entry.get("hash") != expected:
        problems.append(f"entry {index}: hash does not match its content")
    if consent_id is not None and entry["event"].get("subject") != consent_id:
        problems.append(f"entry {index}: event is about {entry['event'].get('subject')!r}, not this consent")
    return problems
