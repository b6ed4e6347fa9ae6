"""One content: its indexed output, its distributions, the rumours it carries, and fan-out still due.

Everything about one content id changes in one aggregate, so an output, a distribution and a
match arriving in any order (or at the same time) cannot miss each other: whichever comes second
sees the first. Fan-out work is the pair (rumour notice, distribution): recorded here as pending
when the second of the two arrives, done by the fan-out worker, then marked done here.

External ids (notice ids, distribution ids) are never used as document keys (they may contain
dots); collections are lists of small records.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

CaseKind = Literal["rumour", "takedown"]
State = dict[str, Any]


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


@dataclass(frozen=True)
class OutputRecord:
    """An output as indexed: its window sketches (stored form) and media hashes."""

    request_id: str
    event_id: str
    sketches: str
    sizes: list[int]
    media: list[dict[str, str]]
    text_chars: int


def new_content(content_id: str) -> State:
    """A content nobody has said anything about yet."""
    return {
        "kind": "content",
        "content_id": content_id,
        "output": None,
        "indexed_ms": 0,
        "distributions": [],
        "matches": [],
        "matched_notices": [],
        "pending": [],
        "pending_count": 0,
        "fanned": [],
    }


def _copy(state: State | None, content_id: str) -> State:
    return copy.deepcopy(state) if state else new_content(content_id)


def is_indexed(state: State | None) -> bool:
    """True when the content's output was indexed."""
    return bool(state and state.get("output"))


def matched(state: State | None, notice_id: str) -> bool:
    """True when the content is already known to carry this notice's claim (or be under its order)."""
    return bool(state) and notice_id in (state or {}).get("matched_notices", [])


def index_output(state: State | None, content_id: str, output: OutputRecord, now_ms: int) -> State | None:
    """Record the output; None when one was already recorded (the first completion of a content counts)."""
    if is_indexed(state):
        return None
    new = _copy(state, content_id)
    new["output"] = {
        "request_id": output.request_id,
        "event_id": output.event_id,
        "sketches": output.sketches,
        "sizes": list(output.sizes),
        "media": list(output.media),
        "text_chars": output.text_chars,
    }
    new["indexed_ms"] = now_ms
    return new


def record_distribution(
    state: State | None,
    content_id: str,
    *,
    distribution_id: str,
    list_id: str,
    recipients: int,
    channel: str,
    explicit_label_kept: bool,
    now_ms: int,
) -> State:
    """Log a distribution (its recipients live in the list `list_id`); due fan-out for every match."""
    new = _copy(state, content_id)
    dist = next((d for d in new["distributions"] if d["distribution_id"] == distribution_id), None)
    if dist is None:
        dist = {"distribution_id": distribution_id, "lists": [], "recipients": 0, "first_ms": now_ms}
        new["distributions"].append(dist)
    if list_id not in dist["lists"]:
        dist["lists"].append(list_id)
        dist["recipients"] += recipients
    dist["channel"] = channel
    # LB-9: an unlabeled copy taken by any recipient is worth knowing when the content is a rumour.
    dist["explicit_label_kept"] = bool(dist.get("explicit_label_kept", True)) and explicit_label_kept
    dist["last_ms"] = now_ms
    for notice_id in new["matched_notices"]:
        _due(new, notice_id, distribution_id)
    return new


def apply_match(
    state: State | None,
    content_id: str,
    case: CaseRef,
    *,
    score: float,
    via: str,
    cause_id: str,
    now_ms: int,
) -> tuple[State, Takedown] | None:
    """The content carries the case's claim (or is under its order).

    Its takedown is required and every distribution so far is due for fan-out. None when this was
    already known: a match is applied at most once.
    """
    if matched(state, case.notice_id):
        return None
    new = _copy(state, content_id)
    new["matches"].append(
        {
            "notice_id": case.notice_id,
            "kind": case.kind,
            "rumour_id": case.rumour_id,
            "score": round(score, 4),
            "via": via,
            "reason": case.reason,
            "matched_ms": now_ms,
            "cause_id": cause_id,
        }
    )
    new["matched_notices"].append(case.notice_id)
    for dist in new["distributions"]:
        _due(new, case.notice_id, dist["distribution_id"])
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


def _due(state: State, notice_id: str, distribution_id: str) -> None:
    item = [notice_id, distribution_id]
    if item not in state["pending"]:
        state["pending"].append(item)
    state["pending_count"] = len(state["pending"])


def pending_items(state: State) -> list[tuple[str, str]]:
    """Fan-out still due: (notice id, distribution id) pairs."""
    return [(n, d) for n, d in state.get("pending", [])]


def list_ids(state: State, distribution_id: str) -> list[str]:
    """The recipient lists of one distribution."""
    for dist in state.get("distributions", []):
        if dist["distribution_id"] == distribution_id:
            return list(dist["lists"])
    return []


def complete_fanout(state: State | None, done: Sequence[tuple[str, str, int]], now_ms: int) -> State | None:
    """Mark (notice, distribution, recipients reached) items done; None when none of them was pending."""
    if not state:
        return None
    new = copy.deepcopy(state)
    was_pending = {(n, d) for n, d in new["pending"]}
    finished = [(n, d, r) for n, d, r in done if (n, d) in was_pending]
    if not finished:
        return None
    gone = {(n, d) for n, d, _ in finished}
    new["pending"] = [p for p in new["pending"] if (p[0], p[1]) not in gone]
    new["pending_count"] = len(new["pending"])
    for notice_id, distribution_id, recipients in finished:
        new["fanned"].append(
            {
                "notice_id": notice_id,
                "distribution_id": distribution_id,
                "recipients": recipients,
                "at_ms": now_ms,
            }
        )
    return new
