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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from services.generation_review.domain.matcher import Hit
from services.generation_review.domain.projections import ConsentFacts, UserFacts
from services.generation_review.domain.review import (
    ContentVerdict,
    Finding,
    Findings,
    content_verdict,
    input_gate,
    output_gate,
    violation_category,
)
from services.generation_review.domain.service_types import label_required

DECISION_LIMIT: Final = 50
# A request in these statuses is decided (again) when it is submitted: `new` when only an output was
# seen so far (out of order), `rejected` when the platform resubmits, e.g. after identity.verified.
DECIDABLE: Final = frozenset({"new", "rejected"})
REVIEWER_ROLES: Final = frozenset({"operator", "admin"})
HUMAN_REJECTION: Final = "confirmed by a human reviewer (DS-10.1 manual review)"


@dataclass(frozen=True)
class Cause:
    """Where a decision comes from, with the ids the handler derived for it."""

    now: datetime
    provider_id: str
    event_id: str
    decision_id: str
    rule_set_version: str
    severe: frozenset[str] = frozenset()


@dataclass(frozen=True)
class InputRequest:
    """A `generation.requested`, as plain values."""

    request_id: str
    user_id: str
    service_type: str
    subjects: tuple[str, ...]
    item_id: str


@dataclass(frozen=True)
class OutputSubmission:
    """A `generation.completed`, as plain values; `output` is the contract form, kept for the decision."""

    request_id: str
    content_id: str
    output: dict[str, Any]
    item_id: str


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

    kind: str
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
    item: dict[str, Any] | None = None
    decision: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class RequestDecision:
    """The new state (None: unchanged), what to publish, and why nothing happened if so."""

    state: dict[str, Any] | None
    emissions: tuple[Emission, ...] = ()
    note: str | None = None


def new_request(
    provider_id: str, request_id: str, user_id: str = "", service_type: str = "other"
) -> dict[str, Any]:
    """A request nothing is decided about yet."""
    return {
        "kind": "request",
        "provider_id": provider_id,
        "request_id": request_id,
        "user_id": user_id,
        "service_type": service_type,
        "subjects": [],
        "status": "new",
        "consent_ids": [],
        "label_required": label_required(service_type),
        "items": {},
        "outputs": {},
        "decisions": [],
    }


def _hits(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    return [
        {
            "entry_id": h.entry_id,
            "kind": h.kind,
            "category": h.category,
            "action": h.action,
            "where": h.where,
            "distance": h.distance,
        }
        for h in hits
    ]


def _record(
    state: dict[str, Any],
    cause: Cause,
    stage: str,
    outcome: str,
    findings: Sequence[Finding],
    checked: Findings | None,
    **extra: Any,
) -> None:
    record: dict[str, Any] = {
        "decision_id": cause.decision_id,
        "cause_event_id": cause.event_id,
        "stage": stage,
        "outcome": outcome,
        "reasons": [f.code for f in findings],
        "rule_set_version": cause.rule_set_version,
        "decided_at": cause.now.isoformat(),
        **extra,
    }
    if checked is not None:
        record |= {
            "library_version": checked.library_version,
            "checked": {
                "text_sha256": checked.text_sha256,
                "media": [
                    {"media_id": m.media_id, "sha256": m.sha256, "phash": m.phash} for m in checked.media
                ],
            },
            "hits": _hits(checked.hits),
            "rumours": [
                {"rumour_id": r.rumour_id, "via": r.via, "where": r.where, "score": r.score}
                for r in checked.rumours
            ],
        }
    state["decisions"] = [*state["decisions"], record][-DECISION_LIMIT:]


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


def _item(item_id: str, stage: str, checked: Findings, cause: Cause, **extra: Any) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "stage": stage,
        "status": "open",
        "queued_at": cause.now.isoformat(),
        "library_version": checked.library_version,
        "hits": _hits(checked.for_review),
        "whys": {h.entry_id: h.why for h in checked.for_review},
        "text_sha256": checked.text_sha256,
        "decision_id": cause.decision_id,
        **extra,
    }


# --- input ------------------------------------------------------------------------------------


def decide_input(
    state: Mapping[str, Any] | None,
    req: InputRequest,
    user: UserFacts,
    consents: Sequence[ConsentFacts],
    checked: Findings,
    cause: Cause,
) -> RequestDecision:
    """Review a request's input: rejected, approved, or queued for a person."""
    if state and state["status"] not in DECIDABLE:
        return RequestDecision(None, note=f"request already {state['status']}")
    current = new_request(cause.provider_id, req.request_id, req.user_id, req.service_type)
    current["decisions"] = list((state or {}).get("decisions", []))
    current["outputs"] = dict((state or {}).get("outputs", {}))  # outputs blocked before stay blocked
    current["subjects"] = list(req.subjects)
    failures, relied = input_gate(req.service_type, req.subjects, user, consents, cause.now)
    facts = {"identity_verified": user.verified, "sanction": user.sanction.level if user.sanction else None}
    if failures:
        return _reject_input(current, failures, checked, cause, strike=False, facts=facts)
    current["consent_ids"] = list(relied)
    verdict = content_verdict(checked, cause.severe)
    if verdict.outcome == "block":
        return _reject_input(
            current, verdict.findings, checked, cause, strike=True, verdict=verdict, facts=facts
        )
    if verdict.outcome == "review":
        item = _item(req.item_id, "input", checked, cause, content_id=None)
        current["status"] = "in_review"
        current["items"] = {**current["items"], req.item_id: item}
        _record(
            current,
            cause,
            "input",
            "queued",
            (),
            checked,
            item_id=req.item_id,
            consents=list(relied),
            **facts,
        )
        return RequestDecision(
            current, (Emission("queued", "dsgov.review.queued", item=item, hits=checked.for_review),)
        )
    current["status"] = "approved"
    _record(current, cause, "input", "approved", (), checked, consents=list(relied), **facts)
    emission = _decision("dsgov.generation.approved", (), checked)
    return RequestDecision(current, (emission,))


def _reject_input(
    current: dict[str, Any],
    failures: Sequence[Finding],
    checked: Findings,
    cause: Cause,
    *,
    strike: bool,
    facts: Mapping[str, Any],
    verdict: ContentVerdict | None = None,
) -> RequestDecision:
    current["status"] = "rejected"
    category = verdict.category if verdict else None
    _record(current, cause, "input", "rejected", failures, checked, strike=strike, category=category, **facts)
    emission = _decision("dsgov.generation.rejected", failures, checked, strike=strike, category=category)
    return RequestDecision(current, (emission,))


# --- output -----------------------------------------------------------------------------------


def decide_output(
    state: Mapping[str, Any] | None,
    sub: OutputSubmission,
    consents: Sequence[ConsentFacts],
    checked: Findings,
    cause: Cause,
) -> RequestDecision:
    """Review an output: approved (with the output), blocked, or queued for a person."""
    current = _copy(state) if state else new_request(cause.provider_id, sub.request_id)
    if sub.content_id in current["outputs"]:
        return RequestDecision(
            None, note=f"output {sub.content_id} already {current['outputs'][sub.content_id]}"
        )
    if current["status"] != "approved":
        failure = Finding("no_approved_request", f"the request is {current['status']}")
        return _finish_output(current, sub, "blocked", (failure,), checked, cause)
    failures = output_gate(current["consent_ids"], consents, cause.now)
    if failures:
        return _finish_output(current, sub, "blocked", failures, checked, cause)
    verdict = content_verdict(checked, cause.severe)
    if verdict.outcome == "block":
        return _finish_output(current, sub, "blocked", verdict.findings, checked, cause, verdict=verdict)
    if verdict.outcome == "review":
        item = _item(sub.item_id, "output", checked, cause, content_id=sub.content_id, output=sub.output)
        current["items"] = {**current["items"], sub.item_id: item}
        current["outputs"] = {**current["outputs"], sub.content_id: "in_review"}
        _record(
            current, cause, "output", "queued", (), checked, item_id=sub.item_id, content_id=sub.content_id
        )
        return RequestDecision(
            current, (Emission("queued", "dsgov.review.queued", item=item, hits=checked.for_review),)
        )
    return _finish_output(current, sub, "approved", (), checked, cause)


def _finish_output(
    current: dict[str, Any],
    sub: OutputSubmission,
    outcome: str,
    failures: Sequence[Finding],
    checked: Findings,
    cause: Cause,
    verdict: ContentVerdict | None = None,
) -> RequestDecision:
    strike = verdict is not None
    category = verdict.category if verdict else None
    current["outputs"] = {**current["outputs"], sub.content_id: outcome}
    _record(
        current,
        cause,
        "output",
        outcome,
        failures,
        checked,
        content_id=sub.content_id,
        strike=strike,
        category=category,
    )
    type_ = f"dsgov.output.{outcome}"
    output = sub.output if outcome == "approved" else None
    emission = _decision(
        type_, failures, checked, strike=strike, category=category, content_id=sub.content_id, output=output
    )
    return RequestDecision(current, (emission,))


# --- human review -----------------------------------------------------------------------------


def decide_review(
    state: Mapping[str, Any] | None,
    cmd: ReviewerDecision,
    user: UserFacts,
    consents: Sequence[ConsentFacts],
    cause: Cause,
) -> RequestDecision:
    """Apply a reviewer's decision to an open item; the platform then gets the final decision."""
    if not state or cmd.item_id not in state["items"]:
        return RequestDecision(None, note="review_item_unknown")
    item = state["items"][cmd.item_id]
    if item["status"] != "open":
        return RequestDecision(None, note=f"review_item_already_{item['status']}")
    if cmd.role not in REVIEWER_ROLES:
        return RequestDecision(None, note="reviewer_not_permitted")
    current = _copy(state)
    reviewer = (cmd.username, cmd.role)
    if cmd.decision == "reject":
        hits = [_hit_from(h) for h in item["hits"]]
        category = violation_category(hits, cause.severe)
        findings: tuple[Finding, ...] = (Finding("prohibited_content", HUMAN_REJECTION),)
        outcome = "rejected" if item["stage"] == "input" else "blocked"
        return _resolve(
            current, item, cmd, outcome, findings, cause, strike=True, category=category, reviewer=reviewer
        )
    if item["stage"] == "input":
        failures, relied = input_gate(current["service_type"], current["subjects"], user, consents, cause.now)
        current["consent_ids"] = list(relied)
    else:
        failures = output_gate(current["consent_ids"], consents, cause.now)
    outcome = ("rejected" if item["stage"] == "input" else "blocked") if failures else "approved"
    return _resolve(
        current, item, cmd, outcome, failures, cause, strike=False, category=None, reviewer=reviewer
    )


def _hit_from(raw: Mapping[str, Any]) -> Hit:
    return Hit(
        raw["entry_id"],
        raw["kind"],
        raw["category"],
        raw["action"],
        raw.get("where", "text"),
        raw.get("distance"),
    )


def _resolve(
    current: dict[str, Any],
    item: Mapping[str, Any],
    cmd: ReviewerDecision,
    outcome: str,
    findings: Sequence[Finding],
    cause: Cause,
    *,
    strike: bool,
    category: str | None,
    reviewer: tuple[str, str],
) -> RequestDecision:
    stage = item["stage"]
    content_id = item.get("content_id")
    output = item.get("output") if outcome == "approved" else None
    if stage == "input":
        current["status"] = outcome
        type_ = f"dsgov.generation.{outcome}"
    else:
        current["outputs"] = {**current["outputs"], str(content_id): outcome}
        type_ = f"dsgov.output.{outcome}"
    resolved = {k: v for k, v in item.items() if k != "output"}  # the output itself is not kept once decided
    resolved |= {
        "status": "approved" if cmd.decision == "approve" else "rejected",
        "resolved_at": cause.now.isoformat(),
    }
    resolved |= {"reviewer": cmd.username, "reviewer_role": cmd.role, "review_reason": cmd.reason}
    resolved |= {"outcome_type": type_, "resolved_decision_id": cause.decision_id}
    current["items"] = {**current["items"], cmd.item_id: resolved}
    _record(
        current,
        cause,
        stage,
        outcome,
        findings,
        None,
        item_id=cmd.item_id,
        content_id=content_id,
        library_version=item["library_version"],
        hits=item["hits"],
        strike=strike,
        category=category,
        reviewer=cmd.username,
        reviewer_role=cmd.role,
        review_reason=cmd.reason,
    )
    hits = tuple(_hit_from(h) for h in item["hits"])
    decision = Emission(
        "decision",
        type_,
        findings=tuple(findings),
        hits=hits,
        strike=strike,
        category=category,
        library_version=item["library_version"],
        content_id=content_id,
        output=output,
        reviewer=reviewer,
    )
    resolved_emission = Emission(
        "resolved",
        "dsgov.review.resolved",
        item=resolved,
        decision=cmd.decision,
        reviewer=reviewer,
        reason=cmd.reason,
        content_id=content_id,
    )
    return RequestDecision(current, (decision, resolved_emission))


def _copy(state: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **state,
        "items": dict(state["items"]),
        "outputs": dict(state["outputs"]),
        "decisions": list(state["decisions"]),
    }
