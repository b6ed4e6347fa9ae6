"""One content: its indexed output, its distributions, the rumours it carries, and fan-out still due.

Everything about one content id changes in one aggregate, so an output, a distribution and a
match arriving in any order (or at the same time) cannot miss each other: whichever comes second
sees the first. Fan-out work is the pair (rumour notice, distribution): recorded here as pending
when the second of the two arrives, done by the fan-out worker, then marked done here.

External ids (notice ids, distribution ids) are never used as document keys (they may contain
dots); collections are tuples of small records. Stored field names (`indexed_ms`,
`pending_count`, `matched_notices`, ...) are the ones the store queries and indexes use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from shared.storage.aggregates import AggregateState

CaseKind = Literal["rumour", "takedown"]
CONTENT: Final = "content:"


def content_key(provider_id: str, content_id: str) -> str:
    """The aggregate id of one content: `content:<provider>/<content_id>`."""
    return f"{CONTENT}{provider_id}/{content_id}"


def list_key(provider_id: str, event_id: str) -> str:
    """The id of the recipient list a distribution event carried."""
    return f"{provider_id}/{event_id}"


@dataclass(frozen=True)
class CaseRef:
    """What a content needs to know about a case to record a match and require a takedown."""

    notice_id: str
    kind: CaseKind
    rumour_id: str | None
    correlation_id: str
    reason: str  # reason code: known_rumour (DS-11) or takedown_ordered (DS-21)


@dataclass(frozen=True)
class Takedown:
    """A `dsgov.content.takedown-required` to publish."""

    content_id: str
    notice_id: str
    rumour_id: str | None
    reason: str
    score: float
    causation_id: str
    correlation_id: str


class StoredMedia(AggregateState):
    """A media item of an output or a claim, by its hashes."""

    sha256: str
    phash: str | None = None


class OutputRecord(AggregateState):
    """An output as indexed: its window sketches (stored form) and media hashes."""

    request_id: str
    event_id: str
    sketches: str
    sizes: tuple[int, ...]
    media: tuple[StoredMedia, ...]
    text_chars: int


class Distribution(AggregateState):
    """One distribution of the content; its recipients live in the lists `lists`."""

    distribution_id: str
    lists: tuple[str, ...] = ()
    recipients: int = 0
    first_ms: int
    last_ms: int
    channel: str
    explicit_label_kept: bool = True  # LB-9: false once any recipient took an unlabeled copy


class ContentMatch(AggregateState):
    """The content carries a case's claim (or is under its order)."""

    notice_id: str
    kind: CaseKind
    rumour_id: str | None
    score: float
    via: str
    reason: str
    matched_ms: int
    cause_id: str


class Fanned(AggregateState):
    """One (notice, distribution) fan-out done, or dropped because its case was closed (DS-11)."""

    notice_id: str
    distribution_id: str
    recipients: int
    at_ms: int
    skipped: str | None = None  # `case_closed`: nobody was notified


Due = tuple[str, str]  # (notice id, distribution id)


class ContentState(AggregateState):
    """The aggregate state of one content."""

    kind: Literal["content"] = "content"
    content_id: str
    output: OutputRecord | None = None
    indexed_ms: int = 0
    distributions: tuple[Distribution, ...] = ()
    matches: tuple[ContentMatch, ...] = ()
    matched_notices: tuple[str, ...] = ()
    pending: tuple[Due, ...] = ()
    pending_count: int = 0
    fanned: tuple[Fanned, ...] = ()


def new_content(content_id: str) -> ContentState:
    """A content nobody has said anything about yet."""
    return ContentState(content_id=content_id)


def is_indexed(state: ContentState | None) -> bool:
    """True when the content's output was indexed."""
    return state is not None and state.output is not None


def matched(state: ContentState | None, notice_id: str) -> bool:
    """True when the content is already known to carry this notice's claim (or be under its order)."""
    return state is not None and notice_id in state.matched_notices


def index_output(
    state: ContentState | None, content_id: str, output: OutputRecord, now_ms: int
) -> ContentState | None:
    """Record the output; None when one was already recorded (the first completion of a content counts)."""
    if is_indexed(state):
        return None
    base = state or new_content(content_id)
    return base.model_copy(update={"output": output, "indexed_ms": now_ms})


def _with_due(state: ContentState, items: Sequence[Due]) -> ContentState:
    pending = (*state.pending, *(i for i in dict.fromkeys(items) if i not in state.pending))
    return state.model_copy(update={"pending": pending, "pending_count": len(pending)})


def record_distribution(
    state: ContentState | None,
    content_id: str,
    *,
    distribution_id: str,
    list_id: str,
    recipients: int,
    channel: str,
    explicit_label_kept: bool,
    now_ms: int,
) -> ContentState:
    """Log a distribution (its recipients live in the list `list_id`); due fan-out for every match."""
    base = state or new_content(content_id)
    known = next((d for d in base.distributions if d.distribution_id == distribution_id), None)
    dist = known or Distribution(
        distribution_id=distribution_id, first_ms=now_ms, last_ms=now_ms, channel=channel
    )
    new_list = list_id not in dist.lists
    updated = dist.model_copy(
        update={
            "lists": (*dist.lists, list_id) if new_list else dist.lists,
            "recipients": dist.recipients + recipients if new_list else dist.recipients,
            "channel": channel,
            # LB-9: an unlabeled copy taken by any recipient is worth knowing when the content is a rumour.
            "explicit_label_kept": dist.explicit_label_kept and explicit_label_kept,
            "last_ms": now_ms,
        }
    )
    distributions = (
        tuple(updated if d is known else d for d in base.distributions)
        if known
        else (*base.distributions, updated)
    )
    new = base.model_copy(update={"distributions": distributions})
    return _with_due(new, [(n, distribution_id) for n in new.matched_notices])


def apply_match(
    state: ContentState | None,
    content_id: str,
    case: CaseRef,
    *,
    score: float,
    via: str,
    cause_id: str,
    now_ms: int,
) -> tuple[ContentState, Takedown] | None:
    """The content carries the case's claim (or is under its order).

    Its takedown is required and every distribution so far is due for fan-out. None when this was
    already known: a match is applied at most once.
    """
    if matched(state, case.notice_id):
        return None
    base = state or new_content(content_id)
    match = ContentMatch(
        notice_id=case.notice_id,
        kind=case.kind,
        rumour_id=case.rumour_id,
        score=round(score, 4),
        via=via,
        reason=case.reason,
        matched_ms=now_ms,
        cause_id=cause_id,
    )
    new = base.model_copy(
        update={"matches": (*base.matches, match), "matched_notices": (*base.matched_notices, case.notice_id)}
    )
    new = _with_due(new, [(case.notice_id, d.distribution_id) for d in new.distributions])
    takedown = Takedown(
        content_id=content_id,
        notice_id=case.notice_id,
        rumour_id=case.rumour_id,
        reason=case.reason,
        score=round(score, 4),
        causation_id=cause_id,
        correlation_id=case.correlation_id,
    )
    return new, takedown


def pending_items(state: ContentState) -> list[Due]:
    """Fan-out still due: (notice id, distribution id) pairs."""
    return [(n, d) for n, d in state.pending]


def distribution(state: ContentState, distribution_id: str) -> Distribution | None:
    """One distribution of the content, if logged."""
    return next((d for d in state.distributions if d.distribution_id == distribution_id), None)


def list_ids(state: ContentState, distribution_id: str) -> list[str]:
    """The recipient lists of one distribution."""
    dist = distribution(state, distribution_id)
    return list(dist.lists) if dist else []


def complete_fanout(
    state: ContentState | None, done: Sequence[tuple[str, str, int]], now_ms: int, skipped: str | None = None
) -> ContentState | None:
    """Mark (notice, distribution, recipients reached) items done; None when none of them was pending.

    `skipped` names why nobody was notified (a closed case): the items are no longer due.
    """
    if state is None:
        return None
    was_pending = set(state.pending)
    finished = [(n, d, r) for n, d, r in done if (n, d) in was_pending]
    if not finished:
        return None
    gone = {(n, d) for n, d, _ in finished}
    pending = tuple(p for p in state.pending if p not in gone)
    fanned = tuple(
        Fanned(notice_id=n, distribution_id=d, recipients=r, at_ms=now_ms, skipped=skipped)
        for n, d, r in finished
    )
    return state.model_copy(
        update={"pending": pending, "pending_count": len(pending), "fanned": (*state.fanned, *fanned)}
    )
