"""Handling the service's events: translate, ask the pure domain, turn its decision into events.

Thin by design (ARCHITECTURE rule 7): each handler reads what the decision needs (the user and
consent projections through the coalescing directory, the current matchers from the catalogue),
asks the domain, and returns the new state and the outbound CloudEvents; the engine writes both
in one document write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from services.generation_review.catalogue import Catalogues
from services.generation_review.config import ReviewPolicy
from services.generation_review.domain.ladder import Sanction, Strike, apply_strike
from services.generation_review.domain.library import (
    ChangeRequest,
    LibraryDecision,
    apply_change,
    new_library,
)
from services.generation_review.domain.matcher import MediaHashes
from services.generation_review.domain.projections import (
    apply_consent_event,
    apply_identity,
    consents_of,
    new_user,
    user_facts,
)
from services.generation_review.domain.reasons import reason
from services.generation_review.domain.request import (
    DECIDABLE,
    Cause,
    Emission,
    InputRequest,
    OutputSubmission,
    RequestDecision,
    ReviewerDecision,
    decide_input,
    decide_output,
    decide_review,
)
from services.generation_review.domain.review import check_content
from services.generation_review.domain.rumours import ClaimMedia, rumour_state
from services.generation_review.ports import Directory
from shared.contracts.base import Actor, Payload
from shared.contracts.consent import ConsentEvent
from shared.contracts.console import LibraryChangeSubmitted, ReviewDecisionSubmitted
from shared.contracts.envelope import CloudEvent, new_event
from shared.contracts.generation import (
    GenerationApproved,
    GenerationCompleted,
    GenerationOutput,
    GenerationRejected,
    GenerationRequested,
    LibraryHit,
    MediaRef,
    OutputApproved,
    OutputBlocked,
    ReviewDecision,
    UserSanctioned,
)
from shared.contracts.identity import IdentityDecision
from shared.contracts.review import LibraryEntrySnapshot, LibraryUpdated, ReviewQueued, ReviewResolved
from shared.contracts.rumour import RumourRecorded
from shared.messaging.codec import Inbound
from shared.messaging.engine import Outcome
from shared.messaging.ids import derived_id
from shared.observability import get_logger

log = get_logger(__name__)

SOURCE = "dsgov/generation-review"
_APPROVALS = frozenset({"dsgov.generation.approved", "dsgov.output.approved"})
_DECISIONS: dict[str, type[ReviewDecision]] = {
    "dsgov.generation.approved": GenerationApproved,
    "dsgov.generation.rejected": GenerationRejected,
    "dsgov.output.approved": OutputApproved,
    "dsgov.output.blocked": OutputBlocked,
}


def item_id(provider_id: str, request_id: str, stage: str, content_id: str | None = None) -> str:
    """The review item of one request stage (and output): stable, so a replay yields the same id."""
    return derived_id(SOURCE, "item", provider_id, request_id, stage, content_id or "")


class ReviewHandlers:
    """The service's use cases, with their ports injected."""

    def __init__(
        self,
        directory: Directory,
        catalogues: Catalogues,
        policy: ReviewPolicy,
        clock: Callable[[], datetime],
    ) -> None:
        """`directory` reads the projections; `catalogues` holds the current matchers."""
        self.directory = directory
        self.catalogues = catalogues
        self.policy = policy
        self.rule_set_version = policy.rule_set_version
        self.clock = clock

    # --- projections ----------------------------------------------------------------------------

    async def on_identity(self, state: dict[str, Any] | None, event: Inbound[IdentityDecision]) -> Outcome:
        """Keep who is real-name verified (DS-9); the newest decision wins."""
        data = event.data
        outcome = "verified" if event.type == "dsgov.identity.verified" else "rejected"
        decided_at = data.decided_at or event.event.time
        new = apply_identity(state, event.event.providerid, data.user_id, outcome, decided_at, event.id)
        return Outcome(state=new)

    async def on_consent(self, state: dict[str, Any] | None, event: Inbound[ConsentEvent]) -> Outcome:
        """Keep each consent's status, grantee, subject and scope (DS-14.2)."""
        kind = event.type.rsplit(".", 1)[-1]
        fields = event.data.model_dump()
        return Outcome(state=apply_consent_event(state, event.event.providerid, kind, fields, event.id))

    async def on_rumour(self, state: dict[str, Any] | None, event: Inbound[RumourRecorded]) -> Outcome:
        """Keep a known rumour (DS-11); the catalogue picks it up for matching."""
        d = event.data
        media = [ClaimMedia(m.sha256, m.phash) for m in d.claim_media]
        new = rumour_state(
            event.event.providerid, d.rumour_id, d.notice_id, d.claim_text, media, d.fingerprints, event.id
        )
        return Outcome(state=new)

    # --- review ---------------------------------------------------------------------------------

    async def on_requested(
        self, state: dict[str, Any] | None, event: Inbound[GenerationRequested]
    ) -> Outcome:
        """Input review (DS-10.1): identity, sanctions, consents, library, rumours."""
        if state and state["status"] not in DECIDABLE:
            log.info("request.duplicate_ignored", request_id=event.subject, status=state["status"])
            return Outcome(state=None)
        d, provider = event.data, event.event.providerid
        now = self.clock()
        users = await self.directory.users(provider, [d.user_id])
        consents = await self._consents(provider, d.user_id) if d.biometric_subjects else []
        catalogue = await self.catalogues.get(provider)
        media = [MediaHashes(m.media_id, m.sha256, m.phash) for m in d.input.media]
        checked = check_content(d.input.text, media, catalogue.matcher, catalogue.rumours)
        req = InputRequest(
            d.request_id,
            d.user_id,
            d.service_type,
            tuple(d.biometric_subjects),
            item_id(provider, d.request_id, "input"),
        )
        user = user_facts(users.get(d.user_id), d.user_id, now)
        decision = decide_input(state, req, user, consents_of(consents), checked, self._cause(event, now))
        if decision.state is not None:
            decision.state["correlation_id"] = event.event.correlation
        return self._outcome(decision, event, now, text=d.input.text, media=list(d.input.media))

    async def on_completed(
        self, state: dict[str, Any] | None, event: Inbound[GenerationCompleted]
    ) -> Outcome:
        """Output review (DS-10.1): approved request, consents still active, library, rumours."""
        d, provider = event.data, event.event.providerid
        now = self.clock()
        consents = (
            await self._consents(provider, state["user_id"]) if state and state.get("consent_ids") else []
        )
        catalogue = await self.catalogues.get(provider)
        media = [MediaHashes(m.media_id, m.sha256, m.phash) for m in d.output.media]
        checked = check_content(d.output.text, media, catalogue.matcher, catalogue.rumours)
        output = d.output.model_dump(mode="json", exclude_none=True)
        sub = OutputSubmission(
            d.request_id, d.content_id, output, item_id(provider, d.request_id, "output", d.content_id)
        )
        decision = decide_output(state, sub, consents_of(consents), checked, self._cause(event, now))
        return self._outcome(decision, event, now, text=d.output.text, media=list(d.output.media))

    async def on_review_decision(
        self, state: dict[str, Any] | None, event: Inbound[ReviewDecisionSubmitted]
    ) -> Outcome:
        """A reviewer decided a queued item (console command): the platform gets the final decision."""
        d, provider = event.data, event.event.providerid
        now = self.clock()
        user_id = (state or {}).get("user_id") or ""
        users = await self.directory.users(provider, [user_id]) if user_id else {}
        consents = await self._consents(provider, user_id) if user_id else []
        cmd = ReviewerDecision(d.item_id, d.decision, d.reason, d.actor.username, d.actor.role)
        user = user_facts(users.get(user_id), user_id, now)
        decision = decide_review(state, cmd, user, consents_of(consents), self._cause(event, now))
        return self._outcome(decision, event, now)

    async def on_library_change(
        self, state: dict[str, Any] | None, event: Inbound[LibraryChangeSubmitted]
    ) -> Outcome:
        """Propose, approve (four-eyes) or disable a library entry (DS-10.2)."""
        d, provider = event.data, event.event.providerid
        now = self.clock()
        req = ChangeRequest(
            d.change, d.entry_id, d.reason, f"console:{d.actor.username}", d.actor.role, d.entry
        )
        decision = apply_change(state or new_library(provider), req, now)
        level = log.info if decision.applied else log.warning
        level(
            "library.change",
            entry_id=d.entry_id,
            change=d.change,
            applied=decision.applied,
            refusal=decision.refusal,
            refusal_detail=decision.detail or None,
        )
        cause = _Cause(event.id, event.event.correlation)
        return Outcome(state=decision.state, events=[library_event(decision, provider, cause, now)])

    async def on_own_decision(self, state: dict[str, Any] | None, event: Inbound[ReviewDecision]) -> Outcome:
        """A decision of this service that confirms a violation is a strike on the user (DS-10.3)."""
        d = event.data
        if not d.strike:
            return Outcome(state=None)
        if event.event.source != SOURCE:  # only this service's own decisions count (Kafka ACLs in production)
            log.warning("strike.foreign_source_ignored", source=event.event.source, request_id=d.request_id)
            return Outcome(state=None)
        strike = Strike(
            strike_id=d.decision_id,
            at=d.decided_at or event.event.time,
            category=d.violation_category or "unspecified",
            request_id=d.request_id,
            reasons=tuple(r.code for r in d.reasons),
        )
        current = state or new_user(event.event.providerid, d.user_id)
        result = apply_strike(current.get("standing"), strike, self.policy.ladder)
        if result is None:
            return Outcome(state=None)
        standing, sanction = result
        log.info("user.sanctioned", user_id=d.user_id, level=sanction.level, strikes=sanction.strikes)
        new = {**current, "standing": standing}
        return Outcome(state=new, events=[_sanction_event(event, d, sanction, self.clock())])

    # --- helpers --------------------------------------------------------------------------------

    async def _consents(self, provider: str, user_id: str) -> list[Mapping[str, Any]]:
        return list((await self.directory.consents_granted_to(provider, [user_id])).get(user_id, []))

    def _cause(self, event: Inbound[Any], now: datetime) -> Cause:
        return Cause(
            now=now,
            provider_id=event.event.providerid,
            event_id=event.id,
            decision_id=derived_id(SOURCE, "decision", event.id),
            rule_set_version=self.rule_set_version,
            severe=self.policy.ladder.severe_categories,
        )

    def _outcome(
        self,
        decision: RequestDecision,
        event: Inbound[Any],
        now: datetime,
        *,
        text: str | None = None,
        media: Sequence[MediaRef] = (),
    ) -> Outcome:
        if decision.state is None:
            log.info("review.nothing_to_do", request_id=event.subject, note=decision.note)
            return Outcome(state=None)
        state = decision.state
        correlation = state.get("correlation_id") or event.event.correlation
        events: list[CloudEvent] = []
        for emission in decision.emissions:
            if emission.kind == "decision":
                data: Payload = self._decision_data(emission, state, event.id, now)
            elif emission.kind == "queued":
                data = self._queued_data(emission, state, text, media)
            else:
                data = _resolved_data(emission, state, now)
            events.append(
                new_event(
                    type=emission.type,
                    source=SOURCE,
                    subject=state["request_id"],
                    providerid=event.event.providerid,
                    data=data,
                    id=derived_id(SOURCE, emission.type, event.id),
                    time=now,
                    correlationid=correlation,
                    causationid=event.id,
                )
            )
            if emission.type not in _APPROVALS:  # approvals are the bulk: not logged one by one
                log.info(
                    "review.decided",
                    type=emission.type,
                    request_id=state["request_id"],
                    reasons=[f.code for f in emission.findings],
                    strike=emission.strike,
                )
        return Outcome(state=state, events=events)

    def _decision_data(
        self, e: Emission, state: Mapping[str, Any], cause_id: str, now: datetime
    ) -> ReviewDecision:
        return _DECISIONS[e.type](
            request_id=state["request_id"],
            user_id=state["user_id"],
            decision_id=derived_id(SOURCE, "decision", cause_id),
            reasons=[reason(f.code, f.detail) for f in e.findings],
            library_version=e.library_version,
            rule_set_version=self.rule_set_version,
            label_required=bool(state.get("label_required")),
            service_type=state["service_type"] if state.get("user_id") else None,
            content_id=e.content_id,
            decided_at=now,
            output=GenerationOutput.model_validate(e.output) if e.output is not None else None,
            hits=[
                LibraryHit(
                    entry_id=h.entry_id,
                    kind=h.kind,
                    category=h.category,
                    action=h.action,
                    where=h.where,
                    distance=h.distance,
                    why=h.why,
                )
                for h in e.hits
            ],
            rumour_ids=list(e.rumour_ids),
            reviewer=Actor(username=e.reviewer[0], role=e.reviewer[1]) if e.reviewer else None,
            strike=e.strike,
            violation_category=e.category,
        )

    def _queued_data(
        self, e: Emission, state: Mapping[str, Any], text: str | None, media: Sequence[MediaRef]
    ) -> ReviewQueued:
        item = e.item or {}
        limit = self.policy.excerpt_chars
        whys = item.get("whys", {})
        return ReviewQueued(
            item_id=item["item_id"],
            request_id=state["request_id"],
            user_id=state["user_id"],
            service_type=state["service_type"],
            stage=item["stage"],
            content_id=item.get("content_id"),
            hits=[LibraryHit.model_validate({**h, "why": whys.get(h["entry_id"], "")}) for h in item["hits"]],
            text=text[:limit] if text else None,
            text_truncated=bool(text and len(text) > limit),
            text_sha256=item.get("text_sha256"),
            media=[MediaRef.model_validate(m.model_dump()) for m in media],
            library_version=item["library_version"],
            queued_at=datetime.fromisoformat(item["queued_at"]),
        )


def _resolved_data(e: Emission, state: Mapping[str, Any], now: datetime) -> ReviewResolved:
    item = e.item or {}
    assert e.reviewer is not None
    return ReviewResolved(
        item_id=item["item_id"],
        request_id=state["request_id"],
        user_id=state["user_id"],
        stage=item["stage"],
        decision="approve" if e.decision == "approve" else "reject",
        outcome_type=item["outcome_type"],
        decision_id=item["resolved_decision_id"],
        reviewer=Actor(username=e.reviewer[0], role=e.reviewer[1]),
        reason=e.reason,
        resolved_at=now,
    )


def _sanction_event(
    event: Inbound[ReviewDecision], d: ReviewDecision, sanction: Sanction, now: datetime
) -> CloudEvent:
    data = UserSanctioned(
        user_id=d.user_id,
        level=sanction.level,
        until=sanction.until,
        strikes=sanction.strikes,
        reasons=list(d.reasons),
        category=d.violation_category,
        decision_id=d.decision_id,
    )
    return new_event(
        type="dsgov.user.sanctioned",
        source=SOURCE,
        subject=d.user_id,
        providerid=event.event.providerid,
        data=data,
        id=derived_id(SOURCE, "sanctioned", d.decision_id),
        time=now,
        correlationid=event.event.correlation,
        causationid=event.id,
    )


class _Cause:
    """The id and correlation of whatever caused a library change (a command, or the seeding)."""

    def __init__(self, id: str, correlation: str) -> None:
        self.id = id
        self.correlation = correlation


def entry_snapshot(entry: Mapping[str, Any]) -> LibraryEntrySnapshot:
    """The contract form of a stored entry (its history stays in the store)."""
    return LibraryEntrySnapshot.model_validate({k: v for k, v in entry.items() if k != "history"})


def library_event(decision: LibraryDecision, provider_id: str, cause: _Cause, now: datetime) -> CloudEvent:
    """`dsgov.library.updated` for one applied or refused change."""
    data = LibraryUpdated(
        entry_id=decision.entry_id,
        library_version=decision.version,
        change=decision.change,
        applied=decision.applied,
        refusal=decision.refusal,
        refusal_detail=decision.detail or None,
        entry=entry_snapshot(decision.entry) if decision.entry else None,
        actor=decision.actor,
        actor_role=decision.role,
        reason=decision.reason,
        changed_at=now,
    )
    return new_event(
        type="dsgov.library.updated",
        source=SOURCE,
        subject=decision.entry_id,
        providerid=provider_id,
        data=data,
        id=derived_id(SOURCE, "library.updated", cause.id, decision.entry_id),
        time=now,
        correlationid=cause.correlation,
        causationid=cause.id,
    )


def seed_cause(operation_id: str) -> _Cause:
    """The cause of library changes made by seeding (no inbound event)."""
    return _Cause(operation_id, operation_id)
