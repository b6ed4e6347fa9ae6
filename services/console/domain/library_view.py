"""The feature library's read model, folded from `dsgov.library.updated` (pure: times are passed in).

One document per entry id (DS-10.2): the entry as it stands (the newest snapshot by library version),
its flattened search fields, and the history of every change the review service published about it,
applied or refused (four-eyes refusals included), with actor, role and reason. An id whose changes
were all refused (an invalid proposal, say) has no snapshot and the status `refused`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.review import LibraryUpdated
from shared.storage.aggregates import AggregateState

LIBRARY_UPDATED: Final = T.LIBRARY_UPDATED
ENTRY_STATUSES: Final = ("proposed", "active", "disabled", "refused")
HISTORY_LIMIT: Final = 500  # changes kept per entry; an entry changes a handful of times in its life
_SEARCHED: Final = ("pattern", "category", "proposed_reason", "approval_reason", "disabled_reason")


class LibraryChangeRow(BaseModel):
    """One change of an entry as the entry page lists it (applied or refused)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str
    causation_id: str | None = None  # the console command it answers, when it came from one
    library_version: int
    change: str
    applied: bool
    refusal: str | None = None
    refusal_detail: str | None = None
    status_after: str | None = None
    actor: str
    actor_role: str | None = None
    reason: str
    changed_at: str
    changed_ms: int
    received_at: str


class LibraryEntryView(AggregateState):
    """The read model of one feature-library entry (DS-10.2)."""

    kind: Literal["library_entry"] = "library_entry"
    provider_id: str
    entry_id: str
    entry: dict[str, Any] | None = None  # the newest snapshot, as published (JSON)
    status: str
    entry_kind: str | None = None
    category: str | None = None
    action: str | None = None
    proposed_by: str | None = None
    library_version: int = 0
    search: str = ""
    history: tuple[LibraryChangeRow, ...] = ()
    last_refusal: LibraryChangeRow | None = None
    correlation_id: str | None = None
    last_event_id: str
    last_changed_at: str
    last_event_ms: int = 0
    list_key: str


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def search_text(entry_id: str, snapshot: Mapping[str, Any] | None) -> str:
    """What the library's text search looks in, case-folded: id, pattern, category and the reasons."""
    parts = [entry_id, *(str(snapshot.get(f) or "") for f in _SEARCHED)] if snapshot else [entry_id]
    return "\n".join(parts).casefold()


def history_row(event: CloudEvent, data: LibraryUpdated, received_at: datetime) -> LibraryChangeRow:
    """One change as the entry page lists it."""
    return LibraryChangeRow(
        event_id=event.id,
        causation_id=event.causationid,
        library_version=data.library_version,
        change=data.change,
        applied=data.applied,
        refusal=data.refusal,
        refusal_detail=data.refusal_detail,
        status_after=data.entry.status if data.entry else None,
        actor=data.actor,
        actor_role=data.actor_role,
        reason=data.reason,
        changed_at=data.changed_at.isoformat(),
        changed_ms=_ms(data.changed_at),
        received_at=received_at.isoformat(),
    )


def fold_library_entry(
    state: LibraryEntryView | None, *, event: CloudEvent, data: LibraryUpdated, received_at: datetime
) -> LibraryEntryView | None:
    """The entry's read model after `event`; None when the event is already in its history.

    Redelivered or reordered events cannot roll the entry back: the snapshot is replaced only by
    one of the same or a newer `updated_version`, and the history is kept in library-version order.
    """
    history = list(state.history) if state else []
    if any(h.event_id == event.id for h in history):
        return None
    history.append(history_row(event, data, received_at))
    history.sort(key=lambda h: (h.library_version, h.changed_ms))
    history = history[-HISTORY_LIMIT:]
    snapshot = state.entry if state else None
    if data.entry is not None and (
        snapshot is None or data.entry.updated_version >= int(snapshot.get("updated_version", 0))
    ):
        snapshot = data.entry.model_dump(mode="json")
    latest = history[-1]
    last_ms = max(state.last_event_ms if state else 0, latest.changed_ms)
    return LibraryEntryView(
        provider_id=event.providerid,
        entry_id=data.entry_id,
        entry=snapshot,
        status=snapshot["status"] if snapshot else "refused",
        entry_kind=snapshot["kind"] if snapshot else None,
        category=snapshot["category"] if snapshot else None,
        action=snapshot["action"] if snapshot else None,
        proposed_by=snapshot["proposed_by"] if snapshot else None,
        library_version=max(state.library_version if state else 0, data.library_version),
        search=search_text(data.entry_id, snapshot),
        history=tuple(history),
        # The newest change, when it was refused: the entry page shows it prominently.
        last_refusal=None if latest.applied else latest,
        correlation_id=(state.correlation_id if state else None) or event.correlation,
        last_event_id=latest.event_id,
        last_changed_at=latest.changed_at,
        last_event_ms=last_ms,
        # One unique sort key (newest change first, then id) with its own index: listing pages with
        # skip/limit stays stable on ties, and the embedded store sorts on an indexed field quickly.
        list_key=f"{last_ms:015d}|{data.entry_id}",
    )


def answered_commands(state: Mapping[str, Any] | None) -> set[str]:
    """Ids of the console commands the review service has answered about this entry (stored form)."""
    return {h["causation_id"] for h in (state or {}).get("history", []) if h.get("causation_id")}
