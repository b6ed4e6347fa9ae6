"""The human review queue's read model and the review decision counts (pure: times are passed in).

One document per review item (DS-10.1 manual review), from `dsgov.review.queued` (why it was
flagged: the matched library entries, the checked text or its excerpt, media hashes) and
`dsgov.review.resolved` (the reviewer's decision and the decision the platform got). Both events
are keyed by request id, so they arrive in order; a `resolved` that overtakes its `queued` anyway
(a replay from another source) still leaves the item resolved.

One counter document per provider and UTC day for the dashboard: review decisions by type, those
taken by a person, and sanctions by level (DS-10.3). Counters rely on the engine's per-aggregate
de-duplication window (the last 500 event ids, the size of a batch), so a redelivered batch is not
counted twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import ReviewDecision, UserSanctioned
from shared.contracts.review import ReviewQueued, ReviewResolved

QUEUED: Final = "dsgov.review.queued"
RESOLVED: Final = "dsgov.review.resolved"
ITEM_TYPES: Final = (QUEUED, RESOLVED)
ITEM_STATUSES: Final = ("pending", "resolved")
DECISION_TYPES: Final = (
    "dsgov.generation.approved",
    "dsgov.generation.rejected",
    "dsgov.output.approved",
    "dsgov.output.blocked",
)
SANCTIONED: Final = "dsgov.user.sanctioned"
SANCTION_LEVELS: Final = ("warning", "restricted", "suspended", "closed")
STATS_TYPES: Final = (*DECISION_TYPES, SANCTIONED)
_RANK: Final = {"pending": 0, "resolved": 1}  # the queue lists pending items first
# Every field an item has, so that one seen resolved before queued still renders.
_EMPTY_ITEM: Final[dict[str, Any]] = {
    "service_type": None,
    "content_id": None,
    "hits": [],
    "categories": [],
    "text": None,
    "text_truncated": False,
    "text_sha256": None,
    "media": [],
    "library_version": None,
    "queued_at": None,
    "resolution": None,
}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def fold_review_item(
    state: Mapping[str, Any] | None,
    *,
    event: CloudEvent,
    data: ReviewQueued | ReviewResolved,
    received_at: datetime,
) -> dict[str, Any] | None:
    """The item's read model after `event`; None when the event was already applied."""
    previous: dict[str, Any] = dict(state or {})
    history: list[dict[str, Any]] = list(previous.get("history", []))
    if any(h.get("event_id") == event.id for h in history):
        return None
    history.append(
        {
            "event_id": event.id,
            "type": event.type,
            "time": event.time.isoformat(),
            "causation_id": event.causationid,
            "received_at": received_at.isoformat(),
        }
    )
    base = (
        _EMPTY_ITEM
        | previous
        | {
            "kind": "review_item",
            "provider_id": event.providerid,
            "item_id": data.item_id,
            "request_id": data.request_id,
            "user_id": data.user_id,
            "stage": data.stage,
            "history": history,
            "last_event_id": event.id,
        }
    )
    if isinstance(data, ReviewQueued):
        return _queued(base, event, data)
    return _resolved(base, event, data)


def queue_key(status: str, queued_ms: int, item_id: str) -> str:
    """The queue's order in one unique, indexed key: pending first, then oldest first, then by id."""
    return f"{_RANK[status]}|{queued_ms:015d}|{item_id}"


def _queued(base: dict[str, Any], event: CloudEvent, data: ReviewQueued) -> dict[str, Any]:
    status = "resolved" if base.get("resolution") else "pending"
    hits = [h.model_dump(mode="json") for h in data.hits]
    queued_ms = _ms(data.queued_at)
    return base | {
        "service_type": data.service_type,
        "content_id": data.content_id,
        "hits": hits,
        "categories": sorted({h["category"] for h in hits}),
        "text": data.text,
        "text_truncated": data.text_truncated,
        "text_sha256": data.text_sha256,
        "media": [m.model_dump(mode="json") for m in data.media],
        "library_version": data.library_version,
        "queued_at": data.queued_at.isoformat(),
        "queued_ms": queued_ms,
        "status": status,
        "queue_rank": _RANK[status],
        "queue_key": queue_key(status, queued_ms, data.item_id),
        "correlation_id": event.correlation,  # the request's flow: the decision command continues it
        "queued_event_id": event.id,
    }


def _resolved(base: dict[str, Any], event: CloudEvent, data: ReviewResolved) -> dict[str, Any]:
    resolution = {
        "decision": data.decision,
        "outcome_type": data.outcome_type,
        "decision_id": data.decision_id,
        "reviewer": data.reviewer.model_dump(mode="json"),
        "reason": data.reason,
        "resolved_at": data.resolved_at.isoformat(),
        "command_id": event.causationid,  # the console command it answers
    }
    # Sorted by when it was queued; an item seen resolved first sorts by its resolution meanwhile.
    queued_ms = int(base.get("queued_ms") or _ms(data.resolved_at))
    return base | {
        "resolution": resolution,
        "status": "resolved",
        "queue_rank": _RANK["resolved"],
        "queue_key": queue_key("resolved", queued_ms, data.item_id),
        "resolved_ms": _ms(data.resolved_at),
        "queued_ms": queued_ms,
        "correlation_id": base.get("correlation_id") or event.correlation,
    }


def stats_day(event: CloudEvent) -> str:
    """The UTC day an event counts on."""
    return event.time.astimezone(UTC).date().isoformat()


def fold_stats(
    state: Mapping[str, Any] | None, *, event: CloudEvent, data: ReviewDecision | UserSanctioned
) -> dict[str, Any]:
    """One more decision or sanction on the day's counters."""
    day = stats_day(event)
    previous: dict[str, Any] = dict(state or {})
    decisions: dict[str, int] = dict(previous.get("decisions", {}))
    sanctions: dict[str, int] = dict(previous.get("sanctions", {}))
    human = int(previous.get("human", 0))
    if isinstance(data, UserSanctioned):
        sanctions[data.level] = sanctions.get(data.level, 0) + 1
    else:
        # Mongo field names may not contain dots: store the type's last two parts.
        key = stats_key(event.type)
        decisions[key] = decisions.get(key, 0) + 1
        human += 1 if data.reviewer is not None else 0
    return {
        "kind": "review_stats",
        "provider_id": event.providerid,
        "day": day,
        "day_ms": _ms(datetime.fromisoformat(day).replace(tzinfo=UTC)),
        "decisions": decisions,
        "human": human,
        "sanctions": sanctions,
    }


def stats_key(type_: str) -> str:
    """`dsgov.generation.approved` -> `generation_approved` (a field name without dots)."""
    return "_".join(type_.split(".")[1:])
