"""Handling the service's events: read what a decision needs, ask the pure domain, hand over to outbound.

Thin by design (ARCHITECTURE rule 7): each handler reads the user and consent projections
through the directory and the current matchers from the catalogue, asks the domain, and returns
the new typed state with the events `outbound` builds; the engine writes both in one document write.

Aggregates of the one collection, by key: `request:<provider>/<request_id>`, `user:<provider>/<user_id>`
(identity projection and standing on the ladder), `consent:<provider>/<consent_id>`,
`rumour:<provider>/<rumour_id>` and one `library:<provider>`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final

from services.generation_review.catalogue import Catalogues
from services.generation_review.config import ReviewPolicy
from services.generation_review.domain.ladder import Strike, apply_strike, lift
from services.generation_review.domain.library import ChangeRequest, LibraryState, apply_change, new_library
from services.generation_review.domain.matcher import MediaHashes
from services.generation_review.domain.projections import (
    ConsentState,
    UserState,
    apply_consent_event,
    apply_identity,
    consents_of,
    new_user,
    user_facts,
)
from services.generation_review.domain.request import (
    DECIDABLE,
    Cause,
    InputRequest,
    ModelVersion,
    OutputSubmission,
    RequestDecision,
    RequestState,
    ReviewerDecision,
    decide_input,
    decide_output,
    decide_review,
)
from services.generation_review.domain.review import Findings, check_content
from services.generation_review.domain.rumours import ClaimMedia, RumourState, rumour_state
from services.generation_review.outbound import (
    APPROVALS,
    SOURCE,
    RequestEvents,
    decision_id,
    item_id,
    library_event,
    sanction_event,
    sanction_lifted_event,
)
from services.generation_review.ports import Directory
from shared.contracts import types as T
from shared.contracts.complaints import ComplaintResolved
from shared.contracts.consent import ConsentEvent
from shared.contracts.console import LibraryChangeSubmitted, ReviewDecisionSubmitted
from shared.contracts.generation import (
    GenerationCompleted,
    GenerationRequested,
    MediaRef,
    ModelRef,
    ReviewDecision,
)
from shared.contracts.identity import IdentityDecision
from shared.contracts.rumour import RumourRecorded
from shared.messaging.codec import Inbound
from shared.messaging.routing import Outcome
from shared.observability import get_logger

log = get_logger(__name__)

REQUEST: Final = "request:"
USER: Final = "user:"
CONSENT: Final = "consent:"
RUMOUR: Final = "rumour:"


def user_key(provider_id: str, user_id: str) -> str:
    """The aggregate of one user: identity projection and standing."""
    return f"{USER}{provider_id}/{user_id}"


def library_key(provider_id: str) -> str:
    """The provider's one feature library."""
    return f"library:{provider_id}"


def library_of(event: Inbound[Any]) -> str:
    """Every library command folds into the one library, so versions are a gap-free sequence."""
    return library_key(event.event.providerid)


def lifted_user(event: Inbound[ComplaintResolved]) -> str | None:
    """The user whose sanction an upheld appeal lifts (DS-12), or None."""
    d = event.data
    if d.kind != "appeal" or d.outcome == "rejected":
        return None
    return next((a.user_id for a in d.actions if a.type == "lift_sanction"), None)


def user_of_resolution(event: Inbound[ComplaintResolved]) -> str:
    """A resolution that lifts a sanction folds into that user; any other into its own small record."""
    user = lifted_user(event)
    if user is not None:
        return user_key(event.event.providerid, user)
    return f"complaint:{event.event.providerid}/{event.data.complaint_id}"


def user_of_decision(event: Inbound[ReviewDecision]) -> str:
    """A decision (subject: the request) folds into its *user*: a confirmed violation is a strike there."""
    return user_key(event.event.providerid, event.data.user_id)


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
        self.outbound = RequestEvents(self.rule_set_version, policy.excerpt_chars)

    # --- projections ----------------------------------------------------------------------------

    async def on_identity(
        self, state: UserState | None, event: Inbound[IdentityDecision]
    ) -> Outcome[UserState]:
        """Keep who is real-name verified (DS-9) and their age group (GA-10); the newest decision wins."""
        data = event.data
        outcome = "verified" if event.type == T.IDENTITY_VERIFIED else "rejected"
        decided_at = data.decided_at or event.event.time
        new = apply_identity(
            state, event.event.providerid, data.user_id, outcome, decided_at, event.id, data.age_group
        )
        return Outcome(new)

    async def on_consent(
        self, state: ConsentState | None, event: Inbound[ConsentEvent]
    ) -> Outcome[ConsentState]:
        """Keep each consent's status, grantee, subject and scope (DS-14.2)."""
        kind = event.type.rsplit(".", 1)[-1]
        return Outcome(apply_consent_event(state, event.event.providerid, kind, event.data, event.id))

    async def on_rumour(
        self, state: RumourState | None, event: Inbound[RumourRecorded]
    ) -> Outcome[RumourState]:
        """Keep a known rumour (DS-11); the catalogue picks it up for matching."""
        d = event.data
        media = [ClaimMedia(m.sha256, m.phash) for m in d.claim_media]
        new = rumour_state(
            event.event.providerid, d.rumour_id, d.notice_id, d.claim_text, media, d.fingerprints, event.id
        )
        return Outcome(new)

    # --- review ---------------------------------------------------------------------------------

    async def on_requested(
        self, state: RequestState | None, event: Inbound[GenerationRequested]
    ) -> Outcome[RequestState]:
        """Input review (DS-10.1): identity, sanctions, consents, library, rumours."""
        if state and state.status not in DECIDABLE:
            log.info("request.duplicate_ignored", request_id=event.subject, status=state.status)
            return Outcome(None)
        d, provider, now = event.data, event.event.providerid, self.clock()
        users = await self.directory.users(provider, [d.user_id])
        consents = await self._consents(provider, d.user_id) if d.biometric_subjects else []
        checked = await self._check(provider, d.input.text, d.input.media)
        req = InputRequest(
            d.request_id,
            d.user_id,
            d.service_type,
            tuple(d.biometric_subjects),
            item_id(provider, d.request_id, "input"),
            depicts_person=any(m.depicts_person for m in d.input.media),
            model=_model(d.model),
        )
        user = user_facts(users.get(d.user_id), d.user_id, now)
        decision = decide_input(state, req, user, consents_of(consents), checked, self._cause(event, now))
        return self._outcome(decision, event, now, text=d.input.text, media=d.input.media)

    async def on_completed(
        self, state: RequestState | None, event: Inbound[GenerationCompleted]
    ) -> Outcome[RequestState]:
        """Output review (DS-10.1): approved request, consents still active, library, rumours."""
        d, provider, now = event.data, event.event.providerid, self.clock()
        consents = await self._consents(provider, state.user_id) if state and state.consent_ids else []
        checked = await self._check(provider, d.output.text, d.output.media)
        output = d.output.model_dump(mode="json", exclude_none=True)
        sub = OutputSubmission(
            d.request_id,
            d.content_id,
            output,
            item_id(provider, d.request_id, "output", d.content_id),
            model=_model(d.model),
        )
        decision = decide_output(state, sub, consents_of(consents), checked, self._cause(event, now))
        return self._outcome(decision, event, now, text=d.output.text, media=d.output.media)

    async def on_review_decision(
        self, state: RequestState | None, event: Inbound[ReviewDecisionSubmitted]
    ) -> Outcome[RequestState]:
        """A reviewer decided a queued item (console command): the platform gets the final decision."""
        d, provider, now = event.data, event.event.providerid, self.clock()
        user_id = state.user_id if state else ""
        users = await self.directory.users(provider, [user_id]) if user_id else {}
        consents = await self._consents(provider, user_id) if user_id else []
        cmd = ReviewerDecision(d.item_id, d.decision, d.reason, d.actor.username, d.actor.role)
        user = user_facts(users.get(user_id), user_id, now)
        decision = decide_review(state, cmd, user, consents_of(consents), self._cause(event, now))
        return self._outcome(decision, event, now)

    async def on_library_change(
        self, state: LibraryState | None, event: Inbound[LibraryChangeSubmitted]
    ) -> Outcome[LibraryState]:
        """Propose, approve (four-eyes) or disable a library entry (DS-10.2)."""
        d, provider, now = event.data, event.event.providerid, self.clock()
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
        return Outcome(decision.state, [library_event(decision, event, now)])

    async def on_own_decision(
        self, state: UserState | None, event: Inbound[ReviewDecision]
    ) -> Outcome[UserState]:
        """A decision of this service that confirms a violation is a strike on the user (DS-10.3)."""
        d = event.data
        if not d.strike:
            return Outcome(None)
        if event.event.source != SOURCE:  # only this service's own decisions count (Kafka ACLs in production)
            log.warning("strike.foreign_source_ignored", source=event.event.source, request_id=d.request_id)
            return Outcome(None)
        strike = Strike(
            strike_id=d.decision_id,
            at=d.decided_at or event.event.time,
            category=d.violation_category or "unspecified",
            request_id=d.request_id,
            reasons=tuple(r.code for r in d.reasons),
        )
        current = state or new_user(event.event.providerid, d.user_id)
        result = apply_strike(current.standing, strike, self.policy.ladder)
        if result is None:
            return Outcome(None)
        standing, sanction = result
        log.info("user.sanctioned", user_id=d.user_id, level=sanction.level, strikes=sanction.strikes)
        new = current.model_copy(update={"standing": standing})
        return Outcome(new, [sanction_event(event, sanction, self.clock())])

    async def on_complaint_resolved(
        self, state: UserState | None, event: Inbound[ComplaintResolved]
    ) -> Outcome[UserState]:
        """An upheld appeal lifts the user's sanction; the ladder restarts from the named level (DS-10.3)."""
        user = lifted_user(event)
        if user is None:
            return Outcome(None)
        action = next(a for a in event.data.actions if a.type == "lift_sanction")
        level_after = None if action.level_after == "none" else action.level_after
        now = self.clock()
        current = state or new_user(event.event.providerid, user)
        result = lift(current.standing, level_after, event.data.complaint_id, now, self.policy.ladder)
        if result is None:
            return Outcome(None)
        standing, before, after = result
        log.info("user.sanction_lifted", user_id=user, level_before=before, level_after=after)
        new = current.model_copy(update={"standing": standing})
        return Outcome(new, [sanction_lifted_event(event, user, before, after, now)])

    # --- helpers --------------------------------------------------------------------------------

    async def _consents(self, provider: str, user_id: str) -> list[ConsentState]:
        return list((await self.directory.consents_granted_to(provider, [user_id])).get(user_id, []))

    async def _check(self, provider: str, text: str | None, media: Sequence[MediaRef]) -> Findings:
        catalogue = await self.catalogues.get(provider)
        hashes = [MediaHashes(m.media_id, m.sha256, m.phash) for m in media]
        return check_content(text, hashes, catalogue.matcher, catalogue.rumours)

    def _cause(self, event: Inbound[Any], now: datetime) -> Cause:
        return Cause(
            now=now,
            provider_id=event.event.providerid,
            event_id=event.id,
            decision_id=decision_id(event.id),
            rule_set_version=self.rule_set_version,
            severe=self.policy.ladder.severe_categories,
            correlation_id=event.event.correlation,
            gates=self.policy.gates,
        )

    def _outcome(
        self,
        decision: RequestDecision,
        event: Inbound[Any],
        now: datetime,
        *,
        text: str | None = None,
        media: Sequence[MediaRef] = (),
    ) -> Outcome[RequestState]:
        state = decision.state
        if state is None:
            log.info("review.nothing_to_do", request_id=event.subject, note=decision.note)
            return Outcome(None)
        for e in decision.emissions:
            if e.type not in APPROVALS:  # approvals are the bulk: not logged one by one
                log.info(
                    "review.decided",
                    type=e.type,
                    request_id=state.request_id,
                    reasons=[f.code for f in e.findings],
                    strike=e.strike,
                )
        return Outcome(
            state, self.outbound.events(event, state, decision.emissions, now, text=text, media=media)
        )


def _model(model: ModelRef | None) -> ModelVersion | None:
    return ModelVersion(id=model.id, version=model.version) if model else None
