"""The tamper-evident history of one consent, and its export as a self-contained proof.

Every change of a consent (and every refused attempt) appends one entry::

    {seq, at, provider_id, consent_id, event, actor, reasons, details, prev_hash, hash}

`hash` is the SHA-256 (lowercase hex) of the RFC 8785 (JCS) canonical JSON of the entry
without `hash`; `prev_hash` is the previous entry's `hash` (64 zeros for the first entry).
Entries hold only JSON values (strings, integers, booleans, null, lists, objects; never
floats), and times are RFC 3339 strings in UTC with milliseconds, so an entry hashes the same
after any round trip through a store or a JSON file. The proof format is documented in the
service README; `verify_proof` is the reference verifier.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import rfc8785

PROOF_FORMAT: Final = "dsgov.consent-proof/1"
GENESIS: Final = "0" * 64
_HEX64: Final = re.compile(r"[0-9a-f]{64}")

# Entry `event` values and what they do to the consent's status (None: no change).
ENTRY_EVENTS: Final = (
    "granted",
    "rejected",
    "withdrawn",
    "expired",
    "withdrawal_before_grant",
    "withdrawal_refused",
)
HAS_GRANT: Final = frozenset({"granted", "withdrawn", "expired"})
_ENTRY_KEYS: Final = frozenset(
    {"seq", "at", "provider_id", "consent_id", "event", "actor", "reasons", "details", "prev_hash", "hash"}
)


def rfc3339(moment: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: one spelling per instant."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON (RFC 8785) of the entry without its `hash`."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def append_entry(
    history: Sequence[Mapping[str, Any]],
    *,
    at: datetime,
    provider_id: str,
    consent_id: str,
    event: str,
    actor: str,
    reasons: Sequence[str] = (),
    details: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """A new history list: `history` plus one chained entry."""
    if event not in ENTRY_EVENTS:
        raise ValueError(f"unknown history event {event!r}")
    entry: dict[str, Any] = {
        "seq": len(history) + 1,
        "at": rfc3339(at),
        "provider_id": provider_id,
        "consent_id": consent_id,
        "event": event,
        "actor": actor,
        "reasons": list(reasons),
        "details": dict(details or {}),
        "prev_hash": history[-1]["hash"] if history else GENESIS,
    }
    entry["hash"] = entry_hash(entry)
    return [*(dict(e) for e in history), entry]


def status_after(entries: Sequence[Mapping[str, Any]]) -> str:
    """The status the entries lead to, replayed from the start.

    A rejection only counts while no grant was accepted: rejecting a re-used id leaves the
    existing consent as it was. Refused withdrawals change nothing.
    """
    status = "awaiting_grant"
    for entry in entries:
        event = entry.get("event")
        if event in HAS_GRANT:
            status = str(event)
        elif event == "rejected" and status not in HAS_GRANT:
            status = "rejected"
    return status


def export_proof(state: Mapping[str, Any]) -> dict[str, Any]:
    """The consent's complete history as a self-contained, verifiable document."""
    entries = [dict(e) for e in state.get("history", [])]
    return {
        "format": PROOF_FORMAT,
        "canonicalization": "RFC 8785 (JCS)",
        "hash_algorithm": "sha256",
        "genesis_prev_hash": GENESIS,
        "provider_id": state.get("provider_id"),
        "consent_id": state.get("consent_id"),
        "status": state.get("status"),
        "entry_count": len(entries),
        "head_hash": entries[-1]["hash"] if entries else GENESIS,
        "entries": entries,
    }


def verify_proof(proof: Mapping[str, Any]) -> list[str]:
    """Every problem found in a proof; an empty list means the chain is intact."""
    if proof.get("format") != PROOF_FORMAT:
        return [f"format is {proof.get('format')!r}, expected {PROOF_FORMAT!r}"]
    entries = proof.get("entries")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return ["entries is not a list of objects"]
    problems: list[str] = []
    prev = GENESIS
    for index, entry in enumerate(entries):
        problems += _entry_problems(index, entry, prev, proof)
        prev = entry.get("hash") if isinstance(entry.get("hash"), str) else ""
    if proof.get("entry_count") != len(entries):
        problems.append(f"entry_count {proof.get('entry_count')!r} but {len(entries)} entries")
    head = entries[-1].get("hash") if entries else GENESIS
    if proof.get("head_hash") != head:
        problems.append("head_hash is not the hash of the last entry")
    if not problems and proof.get("status") != status_after(entries):
        problems.append(f"status {proof.get('status')!r} but the entries lead to {status_after(entries)!r}")
    return problems


def _entry_problems(index: int, entry: Mapping[str, Any], prev: str, proof: Mapping[str, Any]) -> list[str]:
    where = f"entry {index + 1}"
    missing = sorted(_ENTRY_KEYS - set(entry))
    if missing:
        return [f"{where}: missing {', '.join(missing)}"]
    problems = []
    if entry["seq"] != index + 1:
        problems.append(f"{where}: seq is {entry['seq']!r}")
    if entry["prev_hash"] != prev:
        problems.append(f"{where}: prev_hash does not match the previous entry")
    for key in ("provider_id", "consent_id"):
        if entry[key] != proof.get(key):
            problems.append(f"{where}: belongs to another consent ({key})")
    if entry["event"] not in ENTRY_EVENTS:
        problems.append(f"{where}: unknown event {entry['event']!r}")
    stored = entry["hash"]
    try:
        computed = entry_hash(entry)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        return [*problems, f"{where}: not canonicalizable ({type(exc).__name__})"]
    if not isinstance(stored, str) or not _HEX64.fullmatch(stored) or stored != computed:
        problems.append(f"{where}: hash does not match its content")
    return problems
