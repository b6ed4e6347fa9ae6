"""The feature library's read model, folded from `dsgov.library.updated` (pure: times are passed in).

One document per entry id (DS-10.2): the entry as it stands (the newest snapshot by library version),
its flattened search fields, and the history of every change the review service published about it,
applied or refused (four-eyes refusals included), with actor, role and reason. An id whose changes
were all refused (an invalid proposal, say) has no snapshot and the status `refused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from shared.contracts.envelope import CloudEvent
from shared.contracts.review import LibraryUpdated

LIBRARY_UPDATED: Final = "dsgov.library.updated"
ENTRY_STATUSES: Final = ("proposed", "active", "disabled", "refused")
HISTORY_LIMIT: Final = 500  # changes kept per entry; an entry changes a handful of times in its life
_SEARCHED: Final = ("pattern", "category", "proposed_reason", "approval_reason", "disabled_reason")


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def search_text(entry_id: str, snapshot: Mapping[str, Any] | None) -> str:
    """What the library's text search looks in, case-folded: id, pattern, category and the reasons."""
    parts = [entry_id, *(str(snapshot.get(f) or "") for f in _SEARCHED)] if snapshot else [entry_id]
    return "\n".join(parts).casefold()


def history_row(event: CloudEvent, data: LibraryUpdated, received_at: datetime) -> dict[str, Any]:
    """One change as the entry page lists it."""
    return {
        "event_id": event.id,
        "causation_id": event.causationid,  # the console command it answers, when it came from one
        "library_version": data.library_version,
        "change": data.change,
        "applied": data.applied,
        "refusal": data.refusal,
        "refusal_detail": data.refusal_detail,
        "status_after": data.entry.status if data.entry else None,
        "actor": data.actor,
        "actor_role": data.actor_role,
        "reason": data.reason,
        "changed_at": data.changed_at.isoformat(),
        "changed_ms": _ms(data.changed_at),
        "received_at": received_at.isoformat(),
    }


def fold_library_entry(
    state: Mapping[str, Any] | None, *, event: CloudEvent, data: LibraryUpdated, received_at: datetime
) -> dict[str, Any] | None:
    """The entry's read model after `event`; None when the event is already in its history.

    Redelivered or reordered events cannot roll the entry back: the snapshot is replaced only by
    one of the same or a newer `updated_version`, and the history is kept in library-version order.
    """
    previous: dict[str, Any] = dict(state or {})
    history: list[dict[str, Any]] = list(previous.get("history", []))
    if any(h.get("event_id") == event.id for h in history):
        return None
    history.append(history_row(event, data, received_at))
    history.sort(key=lambda h: (h["library_version"], h["changed_ms"]))
    history = history[-HISTORY_LIMIT:]
    snapshot: dict[str, Any] | None = previous.get("entry")
    if data.entry is not None and (
        snapshot is None or data.entry.updated_version >= int(snapshot.get("updated_version", 0))
    ):
        snapshot = data.entry.model_dump(mode="json")
    latest = history[-1]
    last_ms = max(int(previous.get("last_event_ms", 0)), latest["changed_ms"])
    return previous | {
        "kind": "library_entry",
        "provider_id": event.providerid,
        "entry_id": data.entry_id,
        "entry": snapshot,
        "status": snapshot["status"] if snapshot else "refused",
        "entry_kind": snapshot["kind"] if snapshot else None,
        "category": snapshot["category"] if snapshot else None,
        "action": snapshot["action"] if snapshot else None,
        "proposed_by": snapshot["proposed_by"] if snapshot else None,
        "library_version": max(int(previous.get("library_version", 0)), data.library_version),
        "search": search_text(data.entry_id, snapshot),
        "history": history,
        # The newest change, when it was refused: the entry page shows it prominently.
        "last_refusal": None if latest["applied"] else latest,
        "correlation_id": previous.get("correlation_id") or event.correlation,
        "last_event_id": latest["event_id"],
        "last_changed_at": latest["changed_at"],
        "last_event_ms": last_ms,
        # One unique sort key (newest change first, then id) with its own index: listing pages with
        # skip/limit stays stable on ties, and the embedded store sorts on an indexed field quickly.
        "list_key": f"{last_ms:015d}|{data.entry_id}",
    }


def answered_commands(state: Mapping[str, Any] | None) -> set[str]:
    """Ids of the console commands the review service has answered about this entry."""
    return {h["causation_id"] for h in (state or {}).get("history", []) if h.get("causation_id")}
