"""One generation request as an aggregate: its input decision, its outputs, its review items.

Each decision appends a record to `state.decisions` naming the library version, the rule-set
version, the hashes of what was checked (SHA-256 of the normalised text, media hashes), the
library hits and rumours found, the consents relied on and the reviewer, so that it can be
explained and replayed (DS-10.1, DS-10.2 hit log).

Statuses: `rejected` (a resubmission of the same request id is decided afresh; that is how a
request that overtook its user's `identity.verified` recovers), `in_review` (waiting for a
person), `approved`. Outputs are kept per content id: `approved`, `blocked`, `in_review`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from services.generation_review.domain.matcher import Hit
from services.generation_review.domain.projections import ConsentFacts, UserFacts
from services.generation_review.domain.review import (
    ContentVerdict,
    Finding,
    Findings,
    GatePolicy,
    content_verdict,
    input_gate,
    output_gate,
    violation_category,
)
from services.generation_review.domain.service_types import label_required
from shared.contracts import types as T
from shared.storage.aggregates import AggregateState

DECISION_LIMIT: Final = 50
# A request in these statuses is decided (again) when it is submitted: `new` when only an output was
# seen so far (out of order), `rejected` when the platform resubmits, e.g. after identity.verified.
DECIDABLE: Final = frozenset({"new", "rejected"})
REVIEWER_ROLES: Final = frozenset({"operator", "admin"})
HUMAN_REJECTION: Final = "confirmed by a human reviewer (DS-10.1 manual review)"
# (stage, outcome) -> the decision event type
DECISION_TYPES: Final = {
    ("input", "approved"): T.GENERATION_APPROVED,
    ("input", "rejected"): T.GENERATION_REJECTED,
    ("output", "approved"): T.OUTPUT_APPROVED,
    ("output", "blocked"): T.OUTPUT_BLOCKED,
}


# --- stored state ------------------------------------------------------------------------------


class ModelVersion(AggregateState):
    """The generation model the platform named (DS-10.1 decision record, DS-15.1)."""

    id: str
    version: str


class StoredHit(AggregateState):
    """A library hit as kept in a decision record or review item (no `why`: it is on the entry)."""

    entry_id: str
    kind: str
    category: str
    action: str
    where: str = "text"
    distance: int | None = None

    @classmethod
    def of(cls, hit: Hit) -> StoredHit:
        """The stored form of a matcher hit."""
        return cls(
            entry_id=hit.entry_id,
            kind=hit.kind,
            category=hit.category,
            action=hit.action,
            where=hit.where,
            distance=hit.distance,
        )

    def hit(self, why: str = "") -> Hit:
        """Back as a matcher hit."""
        return Hit(self.entry_id, self.kind, self.category, self.action, self.where, self.distance, why)


class CheckedMedia(AggregateState):
    """The hashes of a media item that was checked."""

    media_id: str
    sha256: str
    phash: str | None = None


class Checked(AggregateState):
    """What was checked, by hash only (never the prompt itself)."""

    text_sha256: str | None
    media: tuple[CheckedMedia, ...] = ()


class RumourFound(AggregateState):
    """A known rumour found in checked content."""

    rumour_id: str
    via: str
    where: str
    score: float


class DecisionRecord(AggregateState):
    """One decision, kept to explain and replay it (DS-10.1, DS-10.2 hit log)."""

    decision_id: str
    cause_event_id: str
    stage: str
    outcome: str
    reasons: tuple[str, ...] = ()
    rule_set_version: str
    decided_at: datetime
    library_version: int | None = None
    checked: Checked | None = None
    hits: tuple[StoredHit, ...] = ()
    rumours: tuple[RumourFound, ...] = ()
    item_id: str | None = None
    content_id: str | None = None
    consents: tuple[str, ...] | None = None
    identity_verified: bool | None = None
    sanction: str | None = None
    strike: bool | None = None
    category: str | None = None
    reviewer: str | None = None
    reviewer_role: str | None = None
    review_reason: str | None = None
    model: ModelVersion | None = None


class ReviewItem(AggregateState):
    """A request or output waiting for (or decided by) a person."""

    item_id: str
    stage: Literal["input", "output"]
    status: str  # open · approved · rejected
    queued_at: datetime
    library_version: int
    hits: tuple[StoredHit, ...] = ()
    whys: dict[str, str] = {}
    reasons: tuple[str, ...] = ()  # why a person must look besides hits, e.g. library_empty
    text_sha256: str | None = None
    decision_id: str
    content_id: str | None = None
    output: dict[str, Any] | None = None  # the contract form, kept only until decided
    model: ModelVersion | None = None  # of the output (output items)
    resolved_at: datetime | None = None
    reviewer: str | None = None
    reviewer_role: str | None = None
    review_reason: str | None = None
    outcome_type: str | None = None
    resolved_decision_id: str | None = None


class RequestState(AggregateState):
    """One generation request: the aggregate `request:<provider>/<request_id>`."""

    kind: Literal["request"] = "request"
    provider_id: str
    request_id: str
    user_id: str = ""
    service_type: str = "other"
    subjects: tuple[str, ...] = ()
    depicts_person: bool = False  # an input media item shows a person (DS-14.2)
    model: ModelVersion | None = None
    status: str = "new"  # new · rejected · in_review · approved
    consent_ids: tuple[str, ...] = ()
    label_required: bool = False
    items: dict[str, ReviewItem] = {}
    outputs: dict[str, str] = {}  # content id -> approved · blocked · in_review
    decisions: tuple[DecisionRecord, ...] = ()
    correlation_id: str | None = None

    def recorded(self, record: DecisionRecord, **changes: Any) -> RequestState:
        """The request with `changes` applied and `record` appended to its decisions."""
        decisions = (*self.decisions, record)[-DECISION_LIMIT:]
        return self.model_copy(update={**changes, "decisions": decisions})


# --- inputs and outputs of the decisions -------------------------------------------------------


@dataclass(frozen=True)
class Cause:
    """Where a decision comes from, with the ids the handler derived for it."""

    now: datetime
    provider_id: str
    event_id: str
    decision_id: str
    rule_set_version: str
    severe: frozenset[str] = frozenset()
    correlation_id: str | None = None
    gates: GatePolicy = field(default_factory=GatePolicy)


@dataclass(frozen=True)
class InputRequest:
    """A `generation.requested`, as plain values."""

    request_id: str
    user_id: str
    service_type: str
    subjects: tuple[str, ...]
    item_id: str
    depicts_person: bool = False
    model: ModelVersion | None = None


@dataclass(frozen=True)
class OutputSubmission:
    """A `generation.completed`, as plain values; `output` is the contract form, kept for the decision."""

    request_id: str
    content_id: str
    output: dict[str, Any]
    item_id: str
    model: ModelVersion | None = None


@dataclass(frozen=True)
class ReviewerDecision:
    """A reviewer's decision on a queued item."""

    item_id: str
    decision: str  # approve · reject
    reason: str
    username: str
    role: str


@dataclass(frozen=True)
class Emission:
    """Something to publish, before it is put in an envelope.

    kind: `decision` (type = generation.approved/rejected, output.approved/blocked),
    `queued` or `resolved`.
    """

    kind: Literal["decision", "queued", "resolved"]
    type: str
    findings: tuple[Finding, ...] = ()
    hits: tuple[Hit, ...] = ()
    rumour_ids: tuple[str, ...] = ()
    strike: bool = False
    category: str | None = None
    library_version: int | None = None
    content_id: str | None = None
    output: dict[str, Any] | None = None
    reviewer: tuple[str, str] | None = None  # (username, role)
    item: ReviewItem | None = None
    decision: str | None = None
    reason: str = ""
    model: ModelVersion | None = None


@dataclass(frozen=True)
class RequestDecision:
    """The new state (None: unchanged), what to publish, and why nothing happened if so."""

    state: RequestState | None
    emissions: tuple[Emission, ...] = ()
    note: str | None = None


def new_request(
    provider_id: str, request_id: str, user_id: str = "", service_type: str = "other"
) -> RequestState:
    """A request nothing is decided about yet."""
    return RequestState(
        provider_id=provider_id,
        request_id=request_id,
        user_id=user_id,
        service_type=service_type,
        label_required=label_required(service_type),
    )


def _record(
    cause: Cause,
    stage: str,
    outcome: str,
    findings: Sequence[Finding],
    checked: Findings | None,
    user: UserFacts | None = None,
    **extra: Any,
) -> DecisionRecord:
    if user is not None:  # what the input gates knew about the user
        extra |= {
            "identity_verified": user.verified,
            "sanction": user.sanction.level if user.sanction else None,
        }
    content: dict[str, Any] = {}
    if checked is not None:
        content = {
            "library_version": checked.library_version,
            "checked": Checked(
                text_sha256=checked.text_sha256,
                media=tuple(
                    CheckedMedia(media_id=m.media_id, sha256=m.sha256, phash=m.phash) for m in checked.media
                ),
            ),
            "hits": tuple(StoredHit.of(h) for h in checked.hits),
            "rumours": tuple(
                RumourFound(rumour_id=r.rumour_id, via=r.via, where=r.where, score=r.score)
                for r in checked.rumours
            ),
        }
    return DecisionRecord(
        decision_id=cause.decision_id,
        cause_event_id=cause.event_id,
        stage=stage,
        outcome=outcome,
        reasons=tuple(f.code for f in findings),
        rule_set_version=cause.rule_set_version,
        decided_at=cause.now,
        **content,
        **extra,
    )


def _decision(type_: str, findings: Sequence[Finding], checked: Findings | None, **extra: Any) -> Emission:
    return Emission(
        "decision",
        type_,
        findings=tuple(findings),
        hits=checked.hits if checked else (),
        rumour_ids=tuple(sorted({r.rumour_id for r in checked.rumours})) if checked else (),
        library_version=checked.library_version if checked else None,
        **extra,
    )


def _item(
    item_id: str,
    stage: Literal["input", "output"],
    checked: Findings,
    verdict: ContentVerdict,
    cause: Cause,
    content_id: str | None = None,
    output: dict[str, Any] | None = None,
) -> ReviewItem:
    return ReviewItem(
        item_id=item_id,
        stage=stage,
        status="open",
        queued_at=cause.now,
        library_version=checked.library_version,
        hits=tuple(StoredHit.of(h) for h in checked.for_review),
        whys={h.entry_id: h.why for h in checked.for_review},
        reasons=tuple(f.code for f in verdict.findings),
        text_sha256=checked.text_sha256,
        decision_id=cause.decision_id,
        content_id=content_id,
        output=output,
    )


def _queued(item: ReviewItem, checked: Findings, verdict: ContentVerdict) -> Emission:
    return Emission("queued", T.REVIEW_QUEUED, findings=verdict.findings, item=item, hits=checked.for_review)


# --- input ------------------------------------------------------------------------------------


def decide_input(
    state: RequestState | None,
    req: InputRequest,
    user: UserFacts,
    consents: Sequence[ConsentFacts],
    checked: Findings,
    cause: Cause,
) -> RequestDecision:
    """Review a request's input: rejected, approved, or queued for a person."""
    if state and state.status not in DECIDABLE:
        return RequestDecision(None, note=f"request already {state.status}")
    current = new_request(cause.provider_id, req.request_id, req.user_id, req.service_type).model_copy(
        update={
            "decisions": state.decisions if state else (),
            "outputs": state.outputs if state else {},  # outputs blocked before stay blocked
            "subjects": req.subjects,
            "depicts_person": req.depicts_person,
            "model": req.model,
            "correlation_id": cause.correlation_id,
        }
    )
    failures, relied = input_gate(
        req.service_type, req.subjects, user, consents, cause.now, cause.gates, req.depicts_person
    )
    if failures:
        return _reject_input(current, failures, checked, cause, strike=False, user=user)
    current = current.model_copy(update={"consent_ids": relied})
    verdict = content_verdict(checked, cause.severe)
    if verdict.outcome == "block":
        return _reject_input(
            current, verdict.findings, checked, cause, strike=True, verdict=verdict, user=user
        )
    if verdict.outcome == "review":
        item = _item(req.item_id, "input", checked, verdict, cause)
        record = _record(
            cause,
            "input",
            "queued",
            verdict.findings,
            checked,
            user,
            item_id=req.item_id,
            consents=relied,
            model=req.model,
        )
        queued = current.recorded(record, status="in_review", items={**current.items, req.item_id: item})
        return RequestDecision(queued, (_queued(item, checked, verdict),))
    record = _record(cause, "input", "approved", (), checked, user, consents=relied, model=req.model)
    emission = _decision(T.GENERATION_APPROVED, (), checked, model=req.model)
    return RequestDecision(current.recorded(record, status="approved"), (emission,))


def _reject_input(
    current: RequestState,
    failures: Sequence[Finding],
    checked: Findings,
    cause: Cause,
    *,
    strike: bool,
    user: UserFacts,
    verdict: ContentVerdict | None = None,
) -> RequestDecision:
    category = verdict.category if verdict else None
    model = current.model
    record = _record(
        cause, "input", "rejected", failures, checked, user, strike=strike, category=category, model=model
    )
    emission = _decision(
        T.GENERATION_REJECTED, failures, checked, strike=strike, category=category, model=model
    )
    return RequestDecision(current.recorded(record, status="rejected"), (emission,))


# --- output -----------------------------------------------------------------------------------


def decide_output(
    state: RequestState | None,
    sub: OutputSubmission,
    consents: Sequence[ConsentFacts],
    checked: Findings,
    cause: Cause,
) -> RequestDecision:
    """Review an output: approved (with the output), blocked, or queued for a person."""
    current = state or new_request(cause.provider_id, sub.request_id)
    if sub.content_id in current.outputs:
        return RequestDecision(
            None, note=f"output {sub.content_id} already {current.outputs[sub.content_id]}"
        )
    if current.status != "approved":
        failure = Finding("no_approved_request", f"the request is {current.status}")
        return _finish_output(current, sub, "blocked", (failure,), checked, cause)
    failures = output_gate(current.consent_ids, consents, cause.now)
    if failures:
        return _finish_output(current, sub, "blocked", failures, checked, cause)
    verdict = content_verdict(checked, cause.severe)
    if verdict.outcome == "block":
        return _finish_output(current, sub, "blocked", verdict.findings, checked, cause, verdict=verdict)
    if verdict.outcome == "review":
        item = _item(sub.item_id, "output", checked, verdict, cause, sub.content_id, sub.output)
        item = item.model_copy(update={"model": sub.model or current.model})
        record = _record(
            cause,
            "output",
            "queued",
            verdict.findings,
            checked,
            item_id=sub.item_id,
            content_id=sub.content_id,
            model=item.model,
        )
        queued = current.recorded(
            record,
            items={**current.items, sub.item_id: item},
            outputs={**current.outputs, sub.content_id: "in_review"},
        )
        return RequestDecision(queued, (_queued(item, checked, verdict),))
    return _finish_output(current, sub, "approved", (), checked, cause)


def _finish_output(
    current: RequestState,
    sub: OutputSubmission,
    outcome: str,
    failures: Sequence[Finding],
    checked: Findings,
    cause: Cause,
    verdict: ContentVerdict | None = None,
) -> RequestDecision:
    strike = verdict is not None
    category = verdict.category if verdict else None
    model = sub.model or current.model
    record = _record(
        cause,
        "output",
        outcome,
        failures,
        checked,
        content_id=sub.content_id,
        strike=strike,
        category=category,
        model=model,
    )
    output = sub.output if outcome == "approved" else None
    emission = _decision(
        DECISION_TYPES[("output", outcome)],
        failures,
        checked,
        strike=strike,
        category=category,
        content_id=sub.content_id,
        output=output,
        model=model,
    )
    finished = current.recorded(record, outputs={**current.outputs, sub.content_id: outcome})
    return RequestDecision(finished, (emission,))


# --- human review -----------------------------------------------------------------------------


def decide_review(
    state: RequestState | None,
    cmd: ReviewerDecision,
    user: UserFacts,
    consents: Sequence[ConsentFacts],
    cause: Cause,
) -> RequestDecision:
    """Apply a reviewer's decision to an open item; the platform then gets the final decision."""
    item = state.items.get(cmd.item_id) if state else None
    if state is None or item is None:
        return RequestDecision(None, note="review_item_unknown")
    if item.status != "open":
        return RequestDecision(None, note=f"review_item_already_{item.status}")
    if cmd.role not in REVIEWER_ROLES:
        return RequestDecision(None, note="reviewer_not_permitted")
    if cmd.decision == "reject":
        hits = [h.hit() for h in item.hits]
        # An item held without hits (library_empty) has no category of its own.
        category = violation_category(hits, cause.severe) if hits else None
        findings: tuple[Finding, ...] = (Finding("prohibited_content", HUMAN_REJECTION),)
        outcome = "rejected" if item.stage == "input" else "blocked"
        return _resolve(state, item, cmd, outcome, findings, cause, strike=True, category=category)
    current = state
    if item.stage == "input":
        failures, relied = input_gate(
            current.service_type,
            current.subjects,
            user,
            consents,
            cause.now,
            cause.gates,
            current.depicts_person,
        )
        current = current.model_copy(update={"consent_ids": relied})
    else:
        failures = output_gate(current.consent_ids, consents, cause.now)
    outcome = ("rejected" if item.stage == "input" else "blocked") if failures else "approved"
    return _resolve(current, item, cmd, outcome, failures, cause, strike=False, category=None)


def _resolve(
    current: RequestState,
    item: ReviewItem,
    cmd: ReviewerDecision,
    outcome: str,
    findings: Sequence[Finding],
    cause: Cause,
    *,
    strike: bool,
    category: str | None,
) -> RequestDecision:
    reviewer = (cmd.username, cmd.role)
    content_id = item.content_id
    output = item.output if outcome == "approved" else None
    type_ = DECISION_TYPES[(item.stage, outcome)]
    model = current.model if item.stage == "input" else item.model
    resolved = item.model_copy(  # the output itself is not kept once decided
        update={
            "output": None,
            "status": "approved" if cmd.decision == "approve" else "rejected",
            "resolved_at": cause.now,
            "reviewer": cmd.username,
            "reviewer_role": cmd.role,
            "review_reason": cmd.reason,
            "outcome_type": type_,
            "resolved_decision_id": cause.decision_id,
        }
    )
    changes: dict[str, Any] = {"items": {**current.items, cmd.item_id: resolved}}
    if item.stage == "input":
        changes["status"] = outcome
    else:
        changes["outputs"] = {**current.outputs, str(content_id): outcome}
    record = _record(
        cause,
        item.stage,
        outcome,
        findings,
        None,
        item_id=cmd.item_id,
        content_id=content_id,
        library_version=item.library_version,
        hits=item.hits,
        strike=strike,
        category=category,
        reviewer=cmd.username,
        reviewer_role=cmd.role,
        review_reason=cmd.reason,
        model=model,
    )
    decision = Emission(
        "decision",
        type_,
        findings=tuple(findings),
        hits=tuple(h.hit() for h in item.hits),
        strike=strike,
        category=category,
        library_version=item.library_version,
        content_id=content_id,
        output=output,
        reviewer=reviewer,
        model=model,
    )
    resolved_emission = Emission(
        "resolved",
        T.REVIEW_RESOLVED,
        item=resolved,
        decision=cmd.decision,
        reviewer=reviewer,
        reason=cmd.reason,
        content_id=content_id,
    )
    return RequestDecision(current.recorded(record, **changes), (decision, resolved_emission))
