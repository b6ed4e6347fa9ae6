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
from typing import TYPE_CHECKING, Any, Final, Literal

import rfc8785
from pydantic import JsonValue

from shared.storage.aggregates import AggregateState

if TYPE_CHECKING:
    from services.biometric_consent.domain.state import ConsentState

PROOF_FORMAT: Final = "dsgov.consent-proof/1"
GENESIS: Final = "0" * 64
_HEX64: Final = re.compile(r"[0-9a-f]{64}")

EntryEvent = Literal[
    "granted", "rejected", "withdrawn", "expired", "withdrawal_before_grant", "withdrawal_refused"
]
# Entry `event` values (see `status_after` for what each does to the consent's status).
ENTRY_EVENTS: Final[tuple[EntryEvent, ...]] = (
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


class HistoryEntry(AggregateState):
    """One chained entry; its JSON form (`body`) is what is hashed, stored and exported."""

    seq: int
    at: str  # RFC 3339, UTC, milliseconds (`rfc3339`): one spelling per instant
    provider_id: str
    consent_id: str
    event: EntryEvent
    actor: str
    reasons: tuple[str, ...] = ()
    details: dict[str, JsonValue] = {}
    prev_hash: str
    hash: str

    def body(self) -> dict[str, JsonValue]:
        """The entry as JSON values, exactly as hashed and exported."""
        body: dict[str, JsonValue] = self.model_dump(mode="json")
        return body


def append_entry(
    history: Sequence[HistoryEntry],
    *,
    at: datetime,
    provider_id: str,
    consent_id: str,
    event: str,
    actor: str,
    reasons: Sequence[str] = (),
    details: Mapping[str, JsonValue] | None = None,
) -> tuple[HistoryEntry, ...]:
    """A new history: `history` plus one chained entry."""
    if event not in ENTRY_EVENTS:
        raise ValueError(f"unknown history event {event!r}")
    draft = HistoryEntry.model_validate(
        {
            "seq": len(history) + 1,
            "at": rfc3339(at),
            "provider_id": provider_id,
            "consent_id": consent_id,
            "event": event,
            "actor": actor,
            "reasons": tuple(reasons),
            "details": dict(details or {}),
            "prev_hash": history[-1].hash if history else GENESIS,
            "hash": "",
        }
    )
    # Hash the validated JSON form, so the stored and exported entry is exactly what was hashed.
    return (*history, draft.model_copy(update={"hash": entry_hash(draft.body())}))


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


def export_proof(state: ConsentState) -> dict[str, JsonValue]:
    """The consent's complete history as a self-contained, verifiable JSON document."""
    entries: list[JsonValue] = [e.body() for e in state.history]
    return {
        "format": PROOF_FORMAT,
        "canonicalization": "RFC 8785 (JCS)",
        "hash_algorithm": "sha256",
        "genesis_prev_hash": GENESIS,
        "provider_id": state.provider_id,
        "consent_id": state.consent_id,
        "status": state.status,
        "entry_count": len(entries),
        "head_hash": state.history[-1].hash if state.history else GENESIS,
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
