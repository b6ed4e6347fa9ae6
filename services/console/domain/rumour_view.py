"""The rumour cases' read model (DS-11), folded from `dsgov.rumour` (pure: the received time is passed in).

One document per case (notice id), from `dsgov.rumour.recorded` (the claim, the refutation, what was
found at opening) and `dsgov.rumour.case-closed` (closed by the console or the regulator, the reason,
who, and the recipients notified before the close). The two events have different Kafka keys (the
rumour id, the notice id), so a close may arrive first: the case then stays closed when its record
arrives. A regulator takedown order (DS-21) publishes no record, so it may appear closed only.

`case_key` orders the list in one unique, indexed key: open cases first, then the latest change first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict

from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.rumour import RumourCaseClosed, RumourRecorded
from shared.storage.aggregates import AggregateState

CASE_TYPES: Final = (T.RUMOUR_RECORDED, T.RUMOUR_CASE_CLOSED)
CASE_STATUSES: Final = ("open", "closed")
TEXT_LIMIT: Final = 4000  # claim and refutation are kept up to this many characters (the page shows them)
_RANK: Final = {"open": 1, "closed": 0}  # sorted descending: open first


class CaseEvent(BaseModel):
    """One event about the case, as the case page lists it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_id: str
    type: str
    time: str
    causation_id: str | None = None
    received_at: str


class Closure(BaseModel):
    """How the case was closed (DS-11: no new notices or takedowns after it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    closed_by: Literal["console", "regulator"]
    reason: str = ""
    actor: dict[str, str] | None = None  # the console user, for a console close
    closed_at: str
    notices_sent: int
    command_id: str | None = None  # the console command it answers (its causation id)


class RumourCaseView(AggregateState):
    """The read model of one rumour case (DS-11). Every field has a value, so a close seen first renders."""

    kind: Literal["rumour_case"] = "rumour_case"
    provider_id: str
    notice_id: str
    rumour_id: str | None = None
    recorded: bool = False  # a `dsgov.rumour.recorded` arrived (a rumour, not a takedown order)
    claim_text: str | None = None
    claim_truncated: bool = False
    refutation_text: str = ""
    refutation_truncated: bool = False
    claim_media: int = 0
    matched_contents: int = 0
    recipients_reached: int | None = None  # distinct recipients known when the case opened
    recorded_at: str | None = None
    recorded_ms: int | None = None
    status: str = "open"
    closure: Closure | None = None
    closed_ms: int | None = None
    changed_ms: int = 0
    case_key: str = ""
    correlation_id: str | None = None  # the case's flow: a close command continues it
    last_event_id: str
    history: tuple[CaseEvent, ...] = ()


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def case_key(status: str, changed_ms: int, notice_id: str) -> str:
    """The list's order in one unique key, sorted descending: open first, then newest change first."""
    return f"{_RANK[status]}|{changed_ms:015d}|{notice_id}"


def _cut(text: str) -> tuple[str, bool]:
    return (text[:TEXT_LIMIT], True) if len(text) > TEXT_LIMIT else (text, False)


def fold_case(
    state: RumourCaseView | None,
    *,
    event: CloudEvent,
    data: RumourRecorded | RumourCaseClosed,
    received_at: datetime,
) -> RumourCaseView | None:
    """The case's read model after `event`; None when the event was already applied."""
    history = state.history if state else ()
    if any(h.event_id == event.id for h in history):
        return None
    seen = CaseEvent(
        event_id=event.id,
        type=event.type,
        time=event.time.isoformat(),
        causation_id=event.causationid,
        received_at=received_at.isoformat(),
    )
    common = {
        "provider_id": event.providerid,
        "notice_id": data.notice_id,
        "rumour_id": data.rumour_id or (state.rumour_id if state else None),
        "history": (*history, seen),
        "last_event_id": event.id,
    }
    base = state.model_copy(update=common) if state else RumourCaseView.model_validate(common)
    new = _recorded(base, event, data) if isinstance(data, RumourRecorded) else _closed(base, event, data)
    return new.model_copy(update={"case_key": case_key(new.status, new.changed_ms, new.notice_id)})


def _recorded(base: RumourCaseView, event: CloudEvent, data: RumourRecorded) -> RumourCaseView:
    claim, claim_cut = _cut(data.claim_text or "")
    refutation, refutation_cut = _cut(data.refutation_text)
    recorded_ms = _ms(event.time)
    return base.model_copy(
        update={
            "recorded": True,
            "claim_text": claim if data.claim_text is not None else None,
            "claim_truncated": claim_cut,
            "refutation_text": refutation,
            "refutation_truncated": refutation_cut,
            "claim_media": len(data.claim_media),
            "matched_contents": len(data.matched_content_ids),
            "recipients_reached": data.recipients_reached,
            "recorded_at": event.time.isoformat(),
            "recorded_ms": recorded_ms,
            # A close seen first keeps its place in the list; the record fills the case in.
            "changed_ms": base.changed_ms if base.closure else recorded_ms,
            "correlation_id": event.correlation,
        }
    )


def _closed(base: RumourCaseView, event: CloudEvent, data: RumourCaseClosed) -> RumourCaseView:
    if base.closure is not None:
        return base  # a case closes once; the service publishes one close per case
    closure = Closure(
        closed_by=data.closed_by,
        reason=data.reason,
        actor=data.actor.model_dump(mode="json") if data.actor else None,
        closed_at=data.closed_at.isoformat(),
        notices_sent=data.notices_sent,
        command_id=event.causationid,
    )
    closed_ms = _ms(data.closed_at)
    return base.model_copy(
        update={
            "status": "closed",
            "closure": closure,
            "closed_ms": closed_ms,
            "changed_ms": closed_ms,
            "correlation_id": base.correlation_id or event.correlation,
        }
    )
