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

from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import ReviewDecision, UserSanctioned
from shared.contracts.review import ReviewQueued, ReviewResolved
from shared.storage.aggregates import AggregateState

QUEUED: Final = T.REVIEW_QUEUED
RESOLVED: Final = T.REVIEW_RESOLVED
ITEM_TYPES: Final = (QUEUED, RESOLVED)
ITEM_STATUSES: Final = ("pending", "resolved")
DECISION_TYPES: Final = (T.GENERATION_APPROVED, T.GENERATION_REJECTED, T.OUTPUT_APPROVED, T.OUTPUT_BLOCKED)
SANCTIONED: Final = T.USER_SANCTIONED
SANCTION_LEVELS: Final = ("warning", "restricted", "suspended", "closed")
STATS_TYPES: Final = (*DECISION_TYPES, SANCTIONED)
_RANK: Final = {"pending": 0, "resolved": 1}  # the queue lists pending items first

JsonObject = dict[str, Any]  # a contract object kept in its JSON form (hits, media, the reviewer)


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class ItemEvent(_Row):
    """One event about a review item, as the item page lists it."""

    event_id: str
    type: str
    time: str
    causation_id: str | None = None
    received_at: str


class Resolution(_Row):
    """The reviewer's decision and the decision the platform got."""

    decision: str
    outcome_type: str
    decision_id: str
    reviewer: JsonObject
    reason: str
    resolved_at: str
    command_id: str | None = None  # the console command it answers


class ReviewItemView(AggregateState):
    """The read model of one review item (DS-10.1).

    Every field has a value, so that an item seen resolved before queued still renders.
    """

    kind: Literal["review_item"] = "review_item"
    provider_id: str
    item_id: str
    request_id: str
    user_id: str
    stage: str
    service_type: str | None = None
    content_id: str | None = None
    hits: tuple[JsonObject, ...] = ()
    categories: tuple[str, ...] = ()
    text: str | None = None
    text_truncated: bool = False
    text_sha256: str | None = None
    media: tuple[JsonObject, ...] = ()
    library_version: int | None = None
    queued_at: str | None = None
    queued_ms: int | None = None
    resolution: Resolution | None = None
    status: str = "pending"
    queue_rank: int = 0
    queue_key: str = ""
    resolved_ms: int | None = None
    correlation_id: str | None = None  # the request's flow: the decision command continues it
    queued_event_id: str | None = None
    history: tuple[ItemEvent, ...] = ()
    last_event_id: str


class ReviewStats(AggregateState):
    """One provider's review decisions and sanctions of one UTC day (DS-10.3)."""

    kind: Literal["review_stats"] = "review_stats"
    provider_id: str
    day: str
    day_ms: int
    decisions: dict[str, int] = {}  # by `stats_key` of the decision type
    human: int = 0
    sanctions: dict[str, int] = {}  # by level


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def fold_review_item(
    state: ReviewItemView | None,
    *,
    event: CloudEvent,
    data: ReviewQueued | ReviewResolved,
    received_at: datetime,
) -> ReviewItemView | None:
    """The item's read model after `event`; None when the event was already applied."""
    history = state.history if state else ()
    if any(h.event_id == event.id for h in history):
        return None
    seen = ItemEvent(
        event_id=event.id,
        type=event.type,
        time=event.time.isoformat(),
        causation_id=event.causationid,
        received_at=received_at.isoformat(),
    )
    common = {
        "provider_id": event.providerid,
        "item_id": data.item_id,
        "request_id": data.request_id,
        "user_id": data.user_id,
        "stage": data.stage,
        "history": (*history, seen),
        "last_event_id": event.id,
    }
    base = state.model_copy(update=common) if state else ReviewItemView.model_validate(common)
    if isinstance(data, ReviewQueued):
        return _queued(base, event, data)
    return _resolved(base, event, data)


def queue_key(status: str, queued_ms: int, item_id: str) -> str:
    """The queue's order in one unique, indexed key: pending first, then oldest first, then by id."""
    return f"{_RANK[status]}|{queued_ms:015d}|{item_id}"


def _queued(base: ReviewItemView, event: CloudEvent, data: ReviewQueued) -> ReviewItemView:
    status = "resolved" if base.resolution else "pending"
    hits = tuple(h.model_dump(mode="json") for h in data.hits)
    queued_ms = _ms(data.queued_at)
    return base.model_copy(
        update={
            "service_type": data.service_type,
            "content_id": data.content_id,
            "hits": hits,
            "categories": tuple(sorted({h["category"] for h in hits})),
            "text": data.text,
            "text_truncated": data.text_truncated,
            "text_sha256": data.text_sha256,
            "media": tuple(m.model_dump(mode="json") for m in data.media),
            "library_version": data.library_version,
            "queued_at": data.queued_at.isoformat(),
            "queued_ms": queued_ms,
            "status": status,
            "queue_rank": _RANK[status],
            "queue_key": queue_key(status, queued_ms, data.item_id),
            "correlation_id": event.correlation,
            "queued_event_id": event.id,
        }
    )


def _resolved(base: ReviewItemView, event: CloudEvent, data: ReviewResolved) -> ReviewItemView:
    resolution = Resolution(
        decision=data.decision,
        outcome_type=data.outcome_type,
        decision_id=data.decision_id,
        reviewer=data.reviewer.model_dump(mode="json"),
        reason=data.reason,
        resolved_at=data.resolved_at.isoformat(),
        command_id=event.causationid,
    )
    # Sorted by when it was queued; an item seen resolved first sorts by its resolution meanwhile.
    queued_ms = base.queued_ms or _ms(data.resolved_at)
    return base.model_copy(
        update={
            "resolution": resolution,
            "status": "resolved",
            "queue_rank": _RANK["resolved"],
            "queue_key": queue_key("resolved", queued_ms, data.item_id),
            "resolved_ms": _ms(data.resolved_at),
            "queued_ms": queued_ms,
            "correlation_id": base.correlation_id or event.correlation,
        }
    )


def stats_day(event: CloudEvent) -> str:
    """The UTC day an event counts on."""
    return event.time.astimezone(UTC).date().isoformat()


def fold_stats(
    state: ReviewStats | None, *, event: CloudEvent, data: ReviewDecision | UserSanctioned
) -> ReviewStats:
    """One more decision or sanction on the day's counters."""
    day = stats_day(event)
    decisions = dict(state.decisions) if state else {}
    sanctions = dict(state.sanctions) if state else {}
    human = state.human if state else 0
    if isinstance(data, UserSanctioned):
        sanctions[data.level] = sanctions.get(data.level, 0) + 1
    else:
        # Mongo field names may not contain dots: store the type's last two parts.
        key = stats_key(event.type)
        decisions[key] = decisions.get(key, 0) + 1
        human += 1 if data.reviewer is not None else 0
    return ReviewStats(
        provider_id=event.providerid,
        day=day,
        day_ms=_ms(datetime.fromisoformat(day).replace(tzinfo=UTC)),
        decisions=decisions,
        human=human,
        sanctions=sanctions,
    )


def stats_key(type_: str) -> str:
    """An event type without its `dsgov.` prefix and dots: `generation_approved` (a field name)."""
    return "_".join(type_.split(".")[1:])
