"""A rumour case (DS-11) or a regulator takedown order (DS-21), keyed by the regulator's notice id.

The case keeps what was determined and what was found at that moment; the contents found are
listed in `to_apply` until the fan-out worker has recorded the match on each of them (where the
takedown is required and the recipients are looked up). Matches found later, from outputs or
distributions arriving after the determination, are recorded on the contents themselves; the
case record (`python -m services.rumour_refutation case <notice_id>`) gathers both.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from services.rumour_refutation.domain.content import CaseKind, CaseRef
from services.rumour_refutation.domain.index import Match

State = dict[str, Any]

REASON_BY_KIND: dict[CaseKind, str] = {"rumour": "known_rumour", "takedown": "takedown_ordered"}


@dataclass(frozen=True)
class Opening:
    """Facts of the notice that opens a case."""

    notice_id: str
    event_id: str
    correlation_id: str
    determined_at: str  # the notice's own time, RFC 3339
    now_ms: int
    shards: int  # reach shards of this case; fixed for its life


def open_rumour(
    opening: Opening,
    *,
    rumour_id: str,
    claim_text: str,
    refutation_text: str,
    severity: str,
    claim_media: Sequence[dict[str, str]],
    claim_sketches: str,
    claim_sizes: Sequence[int],
    scheme: str,
    matches: Sequence[Match],
) -> State:
    """A rumour determined false: the claim, its fingerprints and every output found to carry it."""
    return {
        **_opened("rumour", opening),
        "rumour_id": rumour_id,
        "claim_text": claim_text,
        "refutation_text": refutation_text,
        "severity": severity,
        "claim_media": list(claim_media),
        "claim": {"scheme": scheme, "sketches": claim_sketches, "sizes": list(claim_sizes)},
        "initial_matches": [{"content_id": m.content_id, "score": m.score, "via": m.via} for m in matches],
        "to_apply": list(dict.fromkeys(m.content_id for m in matches)),
        "apply_pending": len({m.content_id for m in matches}),
    }


def open_takedown_order(opening: Opening, *, content_ids: Sequence[str], reason: str) -> State:
    """A takedown order: the listed contents, with the order's reason told to their recipients."""
    ids = list(dict.fromkeys(content_ids))
    return {
        **_opened("takedown", opening),
        "rumour_id": None,
        "refutation_text": reason,
        "reason": reason,
        "initial_matches": [{"content_id": c, "score": 1.0, "via": "ordered"} for c in ids],
        "to_apply": ids,
        "apply_pending": len(ids),
    }


def _opened(kind: CaseKind, o: Opening) -> State:
    return {
        "kind": kind,
        "notice_id": o.notice_id,
        "event_id": o.event_id,
        "correlation_id": o.correlation_id,
        "determined_at": o.determined_at,
        "opened_ms": o.now_ms,
        "shards": o.shards,
        "status": "open",
        "amendments": [],
    }


def extend_order(state: State, content_ids: Sequence[str], event_id: str, now_ms: int) -> State | None:
    """A repeated order under the same notice id adds the contents not listed yet; None if none."""
    listed = {m["content_id"] for m in state["initial_matches"]}
    added = [c for c in dict.fromkeys(content_ids) if c not in listed]
    if not added:
        return None
    new = copy.deepcopy(state)
    new["initial_matches"] += [{"content_id": c, "score": 1.0, "via": "ordered"} for c in added]
    new["to_apply"] += added
    new["apply_pending"] = len(new["to_apply"])
    new["amendments"].append({"event_id": event_id, "added": len(added), "at_ms": now_ms})
    return new


def applied(state: State | None, content_ids: Sequence[str]) -> State | None:
    """The matches on these contents are recorded on them; None when none was still to apply."""
    if not state:
        return None
    done = set(content_ids)
    remaining = [c for c in state["to_apply"] if c not in done]
    if len(remaining) == len(state["to_apply"]):
        return None
    new = copy.deepcopy(state)
    new["to_apply"] = remaining
    new["apply_pending"] = len(remaining)
    return new


def case_ref(state: State) -> CaseRef:
    """What contents need to know about this case."""
    kind: CaseKind = state["kind"]
    return CaseRef(
        notice_id=state["notice_id"],
        kind=kind,
        rumour_id=state.get("rumour_id"),
        correlation_id=state["correlation_id"],
        reason=REASON_BY_KIND[kind],
    )


def initial_matches(state: State) -> dict[str, tuple[float, str]]:
    """Score and evidence of each content found when the case opened (or listed in the order)."""
    return {m["content_id"]: (float(m["score"]), str(m["via"])) for m in state["initial_matches"]}
