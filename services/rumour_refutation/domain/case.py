"""A rumour case (DS-11) or a regulator takedown order (DS-21), keyed by the regulator's notice id.

The case keeps what was determined and what was found at that moment; the contents found are
listed in `to_apply` until the fan-out worker has recorded the match on each of them (where the
takedown is required and the recipients are looked up). Matches found later, from outputs or
distributions arriving after the determination, are recorded on the contents themselves; the
case record (`python -m services.rumour_refutation case <notice_id>`) gathers both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from services.rumour_refutation.domain.content import CaseKind, CaseRef, StoredMedia
from services.rumour_refutation.domain.index import Match
from shared.storage.aggregates import AggregateState

CASE: Final = "case:"
REASON_BY_KIND: dict[CaseKind, str] = {"rumour": "known_rumour", "takedown": "takedown_ordered"}

CaseStatus = Literal["open", "closed"]
Origin = Literal["regulator", "provider"]
Role = Literal["viewer", "operator", "admin"]
ACTING_ROLES: Final[frozenset[str]] = frozenset({"operator", "admin"})  # who may open or close a case
ClosedBy = Literal["console", "regulator"]


def case_key(provider_id: str, notice_id: str) -> str:
    """The aggregate id of one case: `case:<provider>/<notice_id>`."""
    return f"{CASE}{provider_id}/{notice_id}"


@dataclass(frozen=True)
class Opening:
    """Facts of the notice that opens a case."""

    notice_id: str
    event_id: str
    correlation_id: str
    determined_at: str  # the notice's own time, RFC 3339
    now_ms: int
    shards: int  # reach shards of this case; fixed for its life


class ClaimFingerprint(AggregateState):
    """The claim's sketches in their stored form (the claim text itself is kept beside it)."""

    scheme: str
    sketches: str
    sizes: tuple[int, ...]


class InitialMatch(AggregateState):
    """A content found when the case opened (or listed in the order)."""

    content_id: str
    score: float
    via: str


class Amendment(AggregateState):
    """A repeated takedown order that added contents."""

    event_id: str
    added: int
    at_ms: int


class ActorRecord(AggregateState):
    """The console user who opened or closed a case (username and role, nothing else)."""

    username: str
    role: Role


class Closure(AggregateState):
    """How a case was closed (DS-11): from then on no new notice or takedown is sent for it."""

    by: ClosedBy
    reason: str
    actor: ActorRecord | None = None
    event_id: str
    at_ms: int
    unapplied: tuple[str, ...] = ()  # contents found at opening whose takedown was not yet required


class CaseState(AggregateState):
    """The aggregate state of one case; rumour-only and order-only fields are empty for the other kind."""

    kind: CaseKind
    notice_id: str
    event_id: str
    correlation_id: str
    determined_at: str
    opened_ms: int
    shards: int
    status: CaseStatus = "open"
    origin: Origin = "regulator"
    opened_by: ActorRecord | None = None  # a provider-opened case: who, and why (`opening_reason`)
    opening_reason: str | None = None
    closed_ms: int | None = None  # indexed: other processes stop matching a closed rumour
    closure: Closure | None = None
    amendments: tuple[Amendment, ...] = ()
    rumour_id: str | None = None
    refutation_text: str
    initial_matches: tuple[InitialMatch, ...] = ()
    to_apply: tuple[str, ...] = ()
    apply_pending: int = 0
    # a rumour determined false
    claim_text: str | None = None
    severity: str | None = None
    claim_media: tuple[StoredMedia, ...] = ()
    claim: ClaimFingerprint | None = None
    # a takedown order
    reason: str | None = None


def _opened(kind: CaseKind, o: Opening) -> dict[str, object]:
    return {
        "kind": kind,
        "notice_id": o.notice_id,
        "event_id": o.event_id,
        "correlation_id": o.correlation_id,
        "determined_at": o.determined_at,
        "opened_ms": o.now_ms,
        "shards": o.shards,
    }


def _to_apply(content_ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(content_ids))


def open_rumour(
    opening: Opening,
    *,
    rumour_id: str,
    claim_text: str,
    refutation_text: str,
    severity: str,
    claim_media: Sequence[StoredMedia],
    claim_sketches: str,
    claim_sizes: Sequence[int],
    scheme: str,
    matches: Sequence[Match],
    opened_by: ActorRecord | None = None,
    opening_reason: str | None = None,
) -> CaseState:
    """A rumour determined false: the claim, its fingerprints and every output found to carry it.

    `opened_by` names the console user when the provider opened the case itself (DS-11).
    """
    to_apply = _to_apply([m.content_id for m in matches])
    return CaseState.model_validate(
        {
            **_opened("rumour", opening),
            "origin": "provider" if opened_by else "regulator",
            "opened_by": opened_by,
            "opening_reason": opening_reason,
            "rumour_id": rumour_id,
            "claim_text": claim_text,
            "refutation_text": refutation_text,
            "severity": severity,
            "claim_media": tuple(claim_media),
            "claim": ClaimFingerprint(scheme=scheme, sketches=claim_sketches, sizes=tuple(claim_sizes)),
            "initial_matches": tuple(
                InitialMatch(content_id=m.content_id, score=m.score, via=m.via) for m in matches
            ),
            "to_apply": to_apply,
            "apply_pending": len(to_apply),
        }
    )


def _ordered(content_ids: Sequence[str]) -> tuple[InitialMatch, ...]:
    return tuple(InitialMatch(content_id=c, score=1.0, via="ordered") for c in content_ids)


def open_takedown_order(opening: Opening, *, content_ids: Sequence[str], reason: str) -> CaseState:
    """A takedown order: the listed contents, with the order's reason told to their recipients."""
    ids = _to_apply(content_ids)
    return CaseState.model_validate(
        {
            **_opened("takedown", opening),
            "refutation_text": reason,
            "reason": reason,
            "initial_matches": _ordered(ids),
            "to_apply": ids,
            "apply_pending": len(ids),
        }
    )


def extend_order(
    state: CaseState, content_ids: Sequence[str], event_id: str, now_ms: int
) -> CaseState | None:
    """A repeated order under the same notice id adds the contents not listed yet; None if none."""
    listed = {m.content_id for m in state.initial_matches}
    added = [c for c in dict.fromkeys(content_ids) if c not in listed]
    if not added:
        return None
    to_apply = (*state.to_apply, *added)
    return state.model_copy(
        update={
            "initial_matches": (*state.initial_matches, *_ordered(added)),
            "to_apply": to_apply,
            "apply_pending": len(to_apply),
            "amendments": (*state.amendments, Amendment(event_id=event_id, added=len(added), at_ms=now_ms)),
        }
    )


def applied(state: CaseState | None, content_ids: Sequence[str]) -> CaseState | None:
    """The matches on these contents are recorded on them; None when none was still to apply."""
    if state is None:
        return None
    done = set(content_ids)
    remaining = tuple(c for c in state.to_apply if c not in done)
    if len(remaining) == len(state.to_apply):
        return None
    return state.model_copy(update={"to_apply": remaining, "apply_pending": len(remaining)})


def is_closed(state: CaseState | None) -> bool:
    """True when the case was closed: nothing new is sent for it."""
    return state is not None and state.status == "closed"


def close(
    state: CaseState,
    *,
    by: ClosedBy,
    reason: str,
    event_id: str,
    now_ms: int,
    actor: ActorRecord | None = None,
) -> CaseState | None:
    """Close the case (DS-11); None when it was closed already (the first close counts).

    Matches found at opening and not yet recorded on their contents are dropped with it: no
    takedown is required for them any more, and they are kept in the closure for the record.
    """
    if is_closed(state):
        return None
    closure = Closure(
        by=by, reason=reason, actor=actor, event_id=event_id, at_ms=now_ms, unapplied=state.to_apply
    )
    return state.model_copy(
        update={
            "status": "closed",
            "closed_ms": now_ms,
            "closure": closure,
            "to_apply": (),
            "apply_pending": 0,
        }
    )


def case_ref(state: CaseState) -> CaseRef:
    """What contents need to know about this case."""
    return CaseRef(
        notice_id=state.notice_id,
        kind=state.kind,
        rumour_id=state.rumour_id,
        correlation_id=state.correlation_id,
        reason=REASON_BY_KIND[state.kind],
    )


def initial_matches(state: CaseState) -> dict[str, tuple[float, str]]:
    """Score and evidence of each content found when the case opened (or listed in the order)."""
    return {m.content_id: (m.score, m.via) for m in state.initial_matches}
