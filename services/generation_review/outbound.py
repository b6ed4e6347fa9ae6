"""The outbound translator: review, library and ladder outcomes → contract events on `dsgov.review`.

Every event is built with `reply` from what caused it (an inbound event, or an operation such as
the demo-library seeding); ids are derived as before, so a redelivered cause yields the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.generation_review.domain.ladder import Sanction
from services.generation_review.domain.library import LibraryDecision, LibraryEntry
from services.generation_review.domain.matcher import Hit
from services.generation_review.domain.reasons import reason
from services.generation_review.domain.request import Emission, RequestState, ReviewItem
from shared.contracts import types as T
from shared.contracts.base import Actor, Payload
from shared.contracts.complaints import ComplaintResolved, SanctionLifted
from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import (
    GenerationApproved,
    GenerationOutput,
    GenerationRejected,
    LibraryHit,
    MediaRef,
    ModelRef,
    OutputApproved,
    OutputBlocked,
    ReviewDecision,
    UserSanctioned,
)
from shared.contracts.review import LibraryEntrySnapshot, LibraryUpdated, ReviewQueued, ReviewResolved
from shared.messaging.codec import Inbound
from shared.messaging.ids import derived_id
from shared.messaging.replies import Cause, reply

SOURCE = "dsgov/generation-review"
APPROVALS = frozenset({T.GENERATION_APPROVED, T.OUTPUT_APPROVED})
_DECISIONS: dict[str, type[ReviewDecision]] = {
    T.GENERATION_APPROVED: GenerationApproved,
    T.GENERATION_REJECTED: GenerationRejected,
    T.OUTPUT_APPROVED: OutputApproved,
    T.OUTPUT_BLOCKED: OutputBlocked,
}


def item_id(provider_id: str, request_id: str, stage: str, content_id: str | None = None) -> str:
    """The review item of one request stage (and output): stable, so a replay yields the same id."""
    return derived_id(SOURCE, "item", provider_id, request_id, stage, content_id or "")


def decision_id(cause_id: str) -> str:
    """The id of the decision an inbound event (or operation) caused."""
    return derived_id(SOURCE, "decision", cause_id)


class RequestEvents:
    """Turns the emissions of one request decision into events (policy values it needs injected)."""

    def __init__(self, rule_set_version: str, excerpt_chars: int) -> None:
        """`excerpt_chars`: how much of the text a reviewer is shown at most."""
        self.rule_set_version = rule_set_version
        self.excerpt_chars = excerpt_chars

    def events(
        self,
        cause: Inbound[Any],
        state: RequestState,
        emissions: Sequence[Emission],
        now: datetime,
        *,
        text: str | None = None,
        media: Sequence[MediaRef] = (),
    ) -> list[CloudEvent]:
        """One event per emission, caused by `cause`, in the request's correlation."""
        event = cause.event
        # A reviewer's decision continues the correlation of the request it decides.
        origin = Cause(cause.id, event.providerid, state.correlation_id or event.correlation)
        out: list[CloudEvent] = []
        for e in emissions:
            data: Payload
            if e.kind == "decision":
                data = self._decision(e, state, cause.id, now)
            elif e.kind == "queued":
                data = self._queued(e, state, text, media)
            else:
                data = _resolved(e, state, now)
            out.append(
                reply(
                    origin,
                    type=e.type,
                    source=SOURCE,
                    subject=state.request_id,
                    data=data,
                    time=now,
                    id=derived_id(SOURCE, e.type, cause.id),
                )
            )
        return out

    def _decision(self, e: Emission, state: RequestState, cause_id: str, now: datetime) -> ReviewDecision:
        return _DECISIONS[e.type](
            request_id=state.request_id,
            user_id=state.user_id,
            decision_id=decision_id(cause_id),
            reasons=[reason(f.code, f.detail) for f in e.findings],
            library_version=e.library_version,
            rule_set_version=self.rule_set_version,
            label_required=state.label_required,
            service_type=state.service_type if state.user_id else None,
            content_id=e.content_id,
            decided_at=now,
            output=GenerationOutput.model_validate(e.output) if e.output is not None else None,
            hits=[_library_hit(h) for h in e.hits],
            rumour_ids=list(e.rumour_ids),
            reviewer=Actor(username=e.reviewer[0], role=e.reviewer[1]) if e.reviewer else None,
            strike=e.strike,
            violation_category=e.category,
            model=ModelRef(id=e.model.id, version=e.model.version) if e.model else None,
        )

    def _queued(
        self, e: Emission, state: RequestState, text: str | None, media: Sequence[MediaRef]
    ) -> ReviewQueued:
        item = _item(e)
        limit = self.excerpt_chars
        return ReviewQueued(
            item_id=item.item_id,
            request_id=state.request_id,
            user_id=state.user_id,
            service_type=state.service_type,  # validated on the way in
            stage=item.stage,
            content_id=item.content_id,
            hits=[_library_hit(h.hit(item.whys.get(h.entry_id, ""))) for h in item.hits],
            reasons=[reason(f.code, f.detail) for f in e.findings],
            text=text[:limit] if text else None,
            text_truncated=bool(text and len(text) > limit),
            text_sha256=item.text_sha256,
            media=[MediaRef.model_validate(m.model_dump()) for m in media],
            library_version=item.library_version,
            queued_at=item.queued_at,
        )


def _item(e: Emission) -> ReviewItem:
    assert e.item is not None, "queued and resolved emissions carry their item"
    return e.item


def _library_hit(h: Hit) -> LibraryHit:
    return LibraryHit(
        entry_id=h.entry_id,
        kind=h.kind,  # one of the matcher's kinds
        category=h.category,
        action=h.action,
        where=h.where,
        distance=h.distance,
        why=h.why,
    )


def _resolved(e: Emission, state: RequestState, now: datetime) -> ReviewResolved:
    item = _item(e)
    assert e.reviewer is not None
    return ReviewResolved(
        item_id=item.item_id,
        request_id=state.request_id,
        user_id=state.user_id,
        stage=item.stage,
        decision="approve" if e.decision == "approve" else "reject",
        outcome_type=item.outcome_type or "",
        decision_id=item.resolved_decision_id or "",
        reviewer=Actor(username=e.reviewer[0], role=e.reviewer[1]),
        reason=e.reason,
        resolved_at=now,
    )


def sanction_event(cause: Inbound[ReviewDecision], sanction: Sanction, now: datetime) -> CloudEvent:
    """`dsgov.user.sanctioned` for the strike a decision of this service made (DS-10.3)."""
    d = cause.data
    data = UserSanctioned(
        user_id=d.user_id,
        level=sanction.level,  # one of the ladder's levels
        until=sanction.until,
        strikes=sanction.strikes,
        reasons=list(d.reasons),
        category=d.violation_category,
        decision_id=d.decision_id,
    )
    return reply(
        cause,
        type=T.USER_SANCTIONED,
        source=SOURCE,
        subject=d.user_id,
        data=data,
        time=now,
        id=derived_id(SOURCE, "sanctioned", d.decision_id),
    )


def sanction_lifted_event(
    cause: Inbound[ComplaintResolved], user_id: str, before: str | None, after: str | None, now: datetime
) -> CloudEvent:
    """`dsgov.user.sanction-lifted`: an upheld appeal lifted the user's sanction (DS-10.3, DS-12)."""
    data = SanctionLifted.model_validate(
        {
            "user_id": user_id,
            "complaint_id": cause.data.complaint_id,
            "level_before": before or "none",
            "level_after": after or "none",
        }
    )
    return reply(
        cause,
        type=T.USER_SANCTION_LIFTED,
        source=SOURCE,
        subject=user_id,
        data=data,
        time=now,
        id=derived_id(SOURCE, "sanction-lifted", cause.data.complaint_id, user_id),
    )


def entry_snapshot(entry: LibraryEntry) -> LibraryEntrySnapshot:
    """The contract form of a stored entry (its history stays in the store)."""
    return LibraryEntrySnapshot.model_validate(entry.model_dump(exclude={"history"}))


def library_event(decision: LibraryDecision, cause: Inbound[Any] | Cause, now: datetime) -> CloudEvent:
    """`dsgov.library.updated` for one applied or refused change (a command, or the seeding)."""
    data = LibraryUpdated(
        entry_id=decision.entry_id,
        library_version=decision.version,
        change=decision.change,  # propose · approve · disable · seed
        applied=decision.applied,
        refusal=decision.refusal,
        refusal_detail=decision.detail or None,
        entry=entry_snapshot(decision.entry) if decision.entry else None,
        actor=decision.actor,
        actor_role=decision.role,
        reason=decision.reason,
        changed_at=now,
    )
    cause_id = cause.id
    return reply(
        cause,
        type=T.LIBRARY_UPDATED,
        source=SOURCE,
        subject=decision.entry_id,
        data=data,
        time=now,
        id=derived_id(SOURCE, "library.updated", cause_id, decision.entry_id),
    )
