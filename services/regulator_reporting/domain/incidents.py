"""Incidents: what happened, folded from events, until it is reported (DS-10.3, DS-11, GA-14).

Every reportable event belongs to exactly one incident, named by an incident key that depends
only on the facts (never on the event id), so redelivered and re-emitted events land on the same
incident and change nothing. An incident keeps an accumulator of facts and the draft of its next
report. The draft's digest is compared with the digest of what was last reported: when they
differ, the incident is pending and due for the sequencer at `due_ms`.

Blocked content and sanctions are due at once. Rumour cases and takedowns gather facts that
arrive over time (takedowns, one refutation notice per recipient), so they are due after a quiet
`settle` period (at most `max_delay` after the first unreported change). Facts that arrive after
a report was numbered make the incident pending again: its next report is a later *part* with
the cumulative facts and a reference to the previous part.

The state is a frozen model (`Incident`, its facts in `Facts`), stored as plain strings, ints,
bools and lists so the store keeps it exactly; the draft is the report's JSON payload.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from services.regulator_reporting.chain import CanonicalizationError, canonical
from services.regulator_reporting.domain import complaints, cyber
from services.regulator_reporting.domain.articles import (
    BLOCK_ACTIONS,
    CATEGORY_ARTICLES,
    REPORTABLE_REASONS,
    SANCTION_ACTIONS,
    safe_code,
)
from services.regulator_reporting.domain.cyber import CyberFacts, CyberObservation, IncidentPolicy
from shared.storage.aggregates import AggregateState

NEVER = 2**62  # due_ms of an incident with nothing left to report (an int: the store keeps it exactly)
LISTED_IDS = 200  # ids listed in a report; the count and a SHA-256 over all of them cover the rest
CONTENT_CAP = 20_000  # content ids tracked per incident (a report says `truncated` beyond)
RECIPIENT_CAP = 50_000  # recipient references tracked per rumour case

Category = Literal[
    "illegal_content",
    "user_sanction",
    "rumour",
    "takedown",
    "incident",
    "complaint_overdue",
    "complaint_statistics",
]
# Statistics are immediate once counted: the timer counts a period only after it ended (+ delay).
IMMEDIATE: frozenset[str] = frozenset(
    {"illegal_content", "user_sanction", "incident", "complaint_overdue", "complaint_statistics"}
)


class InvalidIncident(ValueError):
    """The facts cannot be reported as they are (e.g. text that is not valid Unicode)."""


@dataclass(frozen=True)
class Policy:
    """How long windowed incidents gather facts before they are reported."""

    settle_ms: int = 30_000
    max_delay_ms: int = 300_000
    incidents: IncidentPolicy = field(default_factory=IncidentPolicy)  # cybersecurity incidents
    statistics: complaints.StatisticsPolicy = field(default_factory=complaints.StatisticsPolicy)


@dataclass(frozen=True)
class Blocked:
    """An input (`generation.rejected`) or output (`output.blocked`) blocked for a reportable reason."""

    stage: Literal["input", "output"]
    request_id: str
    user_id: str
    decision_id: str
    reasons: tuple[tuple[str, str], ...]  # (code, article)
    at_ms: int
    service_type: str | None = None
    content_id: str | None = None
    library_version: int | None = None
    rule_set_version: str | None = None


@dataclass(frozen=True)
class Sanction:
    """A step on the enforcement ladder (`user.sanctioned`)."""

    user_id: str
    level: str
    strikes: int
    reasons: tuple[tuple[str, str], ...]
    at_ms: int
    until_ms: int | None = None
    decision_id: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class RumourCase:
    """A recorded rumour (`rumour.recorded`): texts only as SHA-256."""

    notice_id: str
    rumour_id: str
    at_ms: int
    claim_text_sha256: str | None = None
    refutation_text_sha256: str | None = None
    claim_media_sha256: tuple[str, ...] = ()
    fingerprint_count: int = 0
    matched_content_ids: tuple[str, ...] = ()
    recipients_reached: int | None = None


@dataclass(frozen=True)
class Refutation:
    """One refutation notice to one recipient (`refutation.notice`), the recipient as a digest."""

    notice_id: str
    recipient_ref: str
    at_ms: int
    rumour_id: str | None = None
    refutation_text_sha256: str | None = None
    content_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TakedownRequired:
    """The platform was told to take one content down (`content.takedown-required`)."""

    notice_id: str
    content_id: str
    at_ms: int
    rumour_id: str | None = None


@dataclass(frozen=True)
class TakedownOrder:
    """The regulator ordered content taken down (`takedown.ordered`); its reason only as SHA-256."""

    notice_id: str
    content_ids: tuple[str, ...]
    reason_sha256: str
    at_ms: int


Observation = (
    Blocked
    | Sanction
    | RumourCase
    | Refutation
    | TakedownRequired
    | TakedownOrder
    | CyberObservation
    | complaints.ComplaintObservation
)


@dataclass(frozen=True)
class EventRef:
    """The event an observation came from (for the report envelope's correlation and causation)."""

    event_id: str
    correlation_id: str


def sha256_text(text: str) -> str:
    """SHA-256 hex of a text (texts never leave in plaintext)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def incident_key(obs: Observation) -> str:
    """The incident an observation belongs to: a function of the facts only, never of the event id."""
    if isinstance(obs, Blocked):
        return f"illegal_content/{obs.stage}/{obs.request_id}"
    if isinstance(obs, Sanction):
        step = obs.decision_id or f"{obs.level}-{obs.strikes}"
        return f"user_sanction/{obs.user_id}/{step}"
    if isinstance(obs, RumourCase | Refutation):
        return f"rumour/{obs.notice_id}"
    if isinstance(obs, CyberObservation):
        return f"incident/{obs.incident_id}"
    if isinstance(obs, complaints.ComplaintObservation):
        return f"complaint_overdue/{obs.complaint_id}"
    return f"takedown/{obs.notice_id}"


def category_of(obs: Observation) -> Category:
    """The report category of an observation's incident."""
    if isinstance(obs, Blocked):
        return "illegal_content"
    if isinstance(obs, Sanction):
        return "user_sanction"
    if isinstance(obs, RumourCase | Refutation):
        return "rumour"
    if isinstance(obs, CyberObservation):
        return "incident"
    if isinstance(obs, complaints.ComplaintObservation):
        return "complaint_overdue"
    return "takedown"


# --------------------------------------------------------------------------- the incident state

Pair = tuple[str, str]


class Facts(AggregateState):
    """What is known of an incident so far: the accumulator its report drafts are made from.

    One flat model for every category (each uses its own fields); `None` means "never observed",
    which the drafts keep apart from an empty value, so a report says only what is known.
    """

    notice_id: str | None = None
    occurred_ms: int | None = None
    detected_ms: int | None = None
    # blocked input / output and sanctions
    stage: Literal["input", "output"] | None = None
    request_id: str | None = None
    user_id: str | None = None  # a platform pseudonym: a reference, not an identity
    decision_ids: tuple[str, ...] = ()
    reasons: tuple[Pair, ...] = ()  # (code, article), sorted
    service_type: str | None = None
    content_id: str | None = None
    library_version: int | None = None
    rule_set_version: str | None = None
    level: str | None = None
    strikes: int = 0
    until_ms: int | None = None
    decision_id: str | None = None
    category: str | None = None
    # rumour cases
    recorded: bool = False
    rumour_ids: tuple[str, ...] | None = None
    claim_text_sha256: str | None = None
    refutation_text_sha256: tuple[str, ...] | None = None
    claim_media_sha256: tuple[str, ...] = ()
    fingerprint_count: int = 0
    matched_content_ids: tuple[str, ...] = ()
    matched_content_truncated: bool = False
    recipients_reported: int = 0
    recipient_refs: tuple[str, ...] = ()
    recipients_truncated: bool = False
    # takedowns
    ordered: bool = False
    order_reason_sha256: str | None = None
    ordered_content_ids: tuple[str, ...] = ()
    ordered_content_truncated: bool = False
    required_content_ids: tuple[str, ...] = ()
    required_content_truncated: bool = False
    # cybersecurity incidents
    cyber: CyberFacts | None = None
    # complaint tickets (reported when overdue) and handling statistics of a period
    complaint: complaints.Ticket | None = None
    statistics: complaints.Statistics | None = None


class PartEntry(AggregateState):
    """A report numbered for the incident."""

    report_id: str
    sequence: int
    incident_key: str


class Incident(AggregateState):
    """One incident: its facts, the digest of its next draft, its reported parts and when it is due.

    `due_ms` keeps its stored name: the sequencer's query and index use `state.due_ms`.
    """

    provider: str
    key: str
    category: str
    acc: Facts = Facts()
    correlation_id: str
    cause_event_id: str
    draft_digest: str = ""
    reported_digest: str = ""
    parts: tuple[PartEntry, ...] = ()
    pending_since_ms: int | None = None
    due_ms: int = NEVER
    timer_ms: int = NEVER  # cybersecurity incidents: when the reminder or summary is next due


# --------------------------------------------------------------------------- accumulating facts


def _union(items: tuple[str, ...], new: tuple[str, ...], cap: int) -> tuple[tuple[str, ...], bool]:
    merged = tuple(sorted(set(items).union(new)))
    return (merged[:cap], True) if len(merged) > cap else (merged, False)


def _sorted_union(items: tuple[str, ...] | None, *new: str) -> tuple[str, ...]:
    return tuple(sorted({*(items or ()), *new}))


def _reasons(existing: tuple[Pair, ...], new: tuple[Pair, ...]) -> tuple[Pair, ...]:
    return tuple(sorted({*existing, *((safe_code(c), a) for c, a in new)}))


def _content(acc: Facts, name: str, ids: tuple[str, ...]) -> dict[str, Any]:
    merged, truncated = _union(getattr(acc, f"{name}_ids"), ids, CONTENT_CAP)
    return {f"{name}_ids": merged, f"{name}_truncated": getattr(acc, f"{name}_truncated") or truncated}


def _first(acc: Facts, **values: Any) -> dict[str, Any]:
    # The first observed value stays: later events do not rewrite what was reported.
    return {k: v for k, v in values.items() if v is not None and getattr(acc, k) is None}


def _blocked(acc: Facts, obs: Blocked) -> dict[str, Any]:
    return {
        "stage": obs.stage,
        "request_id": obs.request_id,
        "user_id": obs.user_id,
        "decision_ids": _sorted_union(acc.decision_ids, obs.decision_id),
        "reasons": _reasons(acc.reasons, obs.reasons),
        **_first(
            acc,
            service_type=obs.service_type,
            content_id=obs.content_id,
            library_version=obs.library_version,
            rule_set_version=obs.rule_set_version,
        ),
    }


def _sanction(acc: Facts, obs: Sanction) -> dict[str, Any]:
    return {
        "user_id": obs.user_id,
        "level": obs.level,
        "strikes": obs.strikes,
        "reasons": _reasons(acc.reasons, obs.reasons),
        **_first(
            acc,
            until_ms=obs.until_ms,
            decision_id=obs.decision_id,
            category=safe_code(obs.category) if obs.category else None,
        ),
    }


def _refutation_texts(acc: Facts, sha256: str | None) -> dict[str, Any]:
    return {"refutation_text_sha256": _sorted_union(acc.refutation_text_sha256, sha256)} if sha256 else {}


def _rumour(acc: Facts, obs: RumourCase) -> dict[str, Any]:
    return {
        "recorded": True,
        "rumour_ids": _sorted_union(acc.rumour_ids, obs.rumour_id),
        **_first(acc, claim_text_sha256=obs.claim_text_sha256),
        **_refutation_texts(acc, obs.refutation_text_sha256),
        "claim_media_sha256": _sorted_union(acc.claim_media_sha256, *obs.claim_media_sha256),
        "fingerprint_count": max(acc.fingerprint_count, obs.fingerprint_count),
        **_content(acc, "matched_content", obs.matched_content_ids),
        "recipients_reported": max(acc.recipients_reported, obs.recipients_reached or 0),
    }


def _refutation(acc: Facts, obs: Refutation) -> dict[str, Any]:
    refs, truncated = _union(acc.recipient_refs, (obs.recipient_ref,), RECIPIENT_CAP)
    return {
        **({"rumour_ids": _sorted_union(acc.rumour_ids, obs.rumour_id)} if obs.rumour_id else {}),
        **_refutation_texts(acc, obs.refutation_text_sha256),
        **_content(acc, "matched_content", obs.content_ids),
        "recipient_refs": refs,
        "recipients_truncated": acc.recipients_truncated or truncated,
    }


def _takedown(acc: Facts, obs: TakedownRequired | TakedownOrder) -> dict[str, Any]:
    if isinstance(obs, TakedownOrder):
        return {
            "ordered": True,
            **_first(acc, order_reason_sha256=obs.reason_sha256),
            **_content(acc, "ordered_content", obs.content_ids),
        }
    return {
        **_content(acc, "required_content", (obs.content_id,)),
        **({"rumour_ids": _sorted_union(acc.rumour_ids, obs.rumour_id)} if obs.rumour_id else {}),
    }


def _cyber(acc: Facts, obs: CyberObservation, policy: IncidentPolicy) -> Facts:
    try:
        facts = cyber.observe(acc.cyber, obs, policy)
    except cyber.UnknownIncident as exc:
        raise InvalidIncident(str(exc)) from None
    if isinstance(obs, cyber.CyberDetected):  # the incident's own times, not the event's
        occurred = obs.occurred_ms if acc.occurred_ms is None else min(acc.occurred_ms, obs.occurred_ms)
        detected = obs.detected_ms if acc.detected_ms is None else min(acc.detected_ms, obs.detected_ms)
        return acc.model_copy(update={"cyber": facts, "occurred_ms": occurred, "detected_ms": detected})
    return acc.model_copy(update={"cyber": facts})


def _complaint(acc: Facts, obs: complaints.ComplaintObservation) -> Facts:
    ticket = complaints.observe(acc.complaint, obs)
    if ticket.overdue_ms is None:
        return acc.model_copy(update={"complaint": ticket})
    # An overdue ticket's report: the deadline passed at `due_ms`, found at `overdue_ms`.
    assert ticket.due_ms is not None  # every complaint event carries its deadline
    return acc.model_copy(
        update={"complaint": ticket, "occurred_ms": ticket.due_ms, "detected_ms": ticket.overdue_ms}
    )


def accumulate(acc: Facts, obs: Observation, policy: Policy = Policy()) -> Facts:
    """The facts with `obs` folded in."""
    if isinstance(obs, CyberObservation):
        return _cyber(acc, obs, policy.incidents)
    if isinstance(obs, complaints.ComplaintObservation):
        return _complaint(acc, obs)
    if isinstance(obs, Blocked):
        changes = _blocked(acc, obs)
    elif isinstance(obs, Sanction):
        changes = _sanction(acc, obs)
    elif isinstance(obs, RumourCase):
        changes = _rumour(acc, obs)
    elif isinstance(obs, Refutation):
        changes = _refutation(acc, obs)
    else:
        changes = _takedown(acc, obs)
    occurred = obs.at_ms if acc.occurred_ms is None else min(acc.occurred_ms, obs.at_ms)
    detected = obs.at_ms if acc.detected_ms is None else min(acc.detected_ms, obs.at_ms)
    return acc.model_copy(update={**changes, "occurred_ms": occurred, "detected_ms": detected})


# --------------------------------------------------------------------------- the report draft

Draft = dict[str, Any]  # the report's JSON payload before numbering (the contract's `facts` is open)


def iso(ms: int) -> str:
    """RFC 3339 UTC with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id_list(ids: tuple[str, ...], truncated: bool) -> Draft:
    # Listing every id could exceed a message; the count and a digest over all of them cannot.
    out: Draft = {
        "count": len(ids),
        "ids": list(ids[:LISTED_IDS]),
        "sha256": hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest(),
    }
    if truncated:
        out["truncated"] = True
    return out


def _present(**values: Any) -> Draft:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v is not None}


def _reason_list(acc: Facts) -> list[dict[str, str]]:
    return [{"code": c, "article": a} for c, a in acc.reasons]


def _reason_articles(acc: Facts) -> set[str]:
    # A report is made under the articles of its reportable reasons; every reason stays in the facts.
    return {REPORTABLE_REASONS[c] for c, _ in acc.reasons if c in REPORTABLE_REASONS}


def _blocked_draft(acc: Facts) -> tuple[Draft, list[str], set[str]]:
    assert acc.stage is not None
    facts: Draft = {
        "stage": acc.stage,
        "request_id": acc.request_id,
        "user_id": acc.user_id,
        "decision_ids": list(acc.decision_ids),
        "reasons": _reason_list(acc),
        **_present(
            service_type=acc.service_type,
            content_id=acc.content_id,
            library_version=acc.library_version,
            rule_set_version=acc.rule_set_version,
        ),
    }
    return facts, [BLOCK_ACTIONS[acc.stage]], _reason_articles(acc)


def _sanction_draft(acc: Facts) -> tuple[Draft, list[str], set[str]]:
    facts: Draft = {
        "user_id": acc.user_id,
        "level": acc.level,
        "strikes": acc.strikes,
        "reasons": _reason_list(acc),
        **_present(
            until=iso(acc.until_ms) if acc.until_ms is not None else None,
            decision_id=acc.decision_id,
            category=acc.category,
        ),
    }
    actions = [SANCTION_ACTIONS.get(acc.level or "", "user_sanctioned")]
    if acc.strikes > 0:
        actions.append("strike_recorded")
    return facts, actions, _reason_articles(acc)


def _rumour_draft(acc: Facts) -> tuple[Draft, list[str], set[str]]:
    notices = len(acc.recipient_refs)
    facts: Draft = {
        "notice_id": acc.notice_id,
        "rumour_ids": list(acc.rumour_ids or ()),
        "recorded": acc.recorded,
        "claim_media_sha256": list(acc.claim_media_sha256),
        "fingerprint_count": acc.fingerprint_count,
        "matched_content": _id_list(acc.matched_content_ids, acc.matched_content_truncated),
        "refutation_notices_sent": notices,
        "recipients_reached": max(notices, acc.recipients_reported),
        **({"recipients_truncated": True} if acc.recipients_truncated else {}),
        **_present(
            claim_text_sha256=acc.claim_text_sha256, refutation_text_sha256=acc.refutation_text_sha256
        ),
    }
    actions = ["rumour_recorded", "matching_generation_blocked"] if acc.recorded else []
    if notices or acc.recipients_reported:
        actions.append("refutation_sent")
    return facts, actions, set()


def _takedown_draft(acc: Facts) -> tuple[Draft, list[str], set[str]]:
    facts: Draft = {
        "notice_id": acc.notice_id,
        "ordered_by_regulator": acc.ordered,
        "takedown_required_content": _id_list(acc.required_content_ids, acc.required_content_truncated),
    }
    if acc.ordered:
        facts["ordered_content"] = _id_list(acc.ordered_content_ids, acc.ordered_content_truncated)
    facts.update(_present(order_reason_sha256=acc.order_reason_sha256, rumour_ids=acc.rumour_ids))
    actions = ["takedown_order_received"] if acc.ordered else []
    if acc.required_content_ids:
        actions.append("takedown_required")
    articles = {"DS-11"} if acc.rumour_ids else set()
    if acc.ordered:
        articles.add("DS-21")  # carrying out the regulator's order (cooperation with supervision)
    return facts, actions, articles


def _incident_draft(acc: Facts) -> tuple[Draft, list[str], set[str]]:
    c = acc.cyber
    assert c is not None  # an `incident` incident starts with its detection
    facts: Draft = {
        "incident_id": c.incident_id,
        "kind": c.kind,
        "cii": c.cii,
        "severity": c.severity,
        "severity_basis": list(c.severity_basis),
        "systems": list(c.systems),
        "report_due_at": iso(c.report_due_ms),
        **_present(
            affected_people=c.affected_people,
            direct_loss_cny=c.direct_loss_cny,
            description_sha256=c.description_sha256 or None,
            closed_at=iso(c.closed_ms) if c.closed_ms is not None else None,
            summary_due_at=iso(c.summary_due_ms) if c.summary_due_ms is not None else None,
            summary_reminder_at=iso(c.reminder_sent_ms) if c.reminder_sent_ms is not None else None,
            summary_at=iso(c.summary_sent_ms) if c.summary_sent_ms is not None else None,
        ),
    }
    actions = ["incident_reported"]
    if c.closed_ms is not None:
        actions.append("handling_ended")
    if c.summary_sent_ms is not None:
        actions.append("summary_submitted")
    # PI-57: a leak of personal information is also notified to the authority.
    return facts, actions, {"PI-57"} if c.affected_people else set()


def _complaint_articles(kinds: set[str]) -> set[str]:
    # PI-50: answering a personal-information rights request is its own obligation.
    return {"PI-50"} if "rights_request" in kinds else set()


def _overdue_draft(acc: Facts) -> tuple[Draft, list[str], set[str]]:
    t = acc.complaint
    assert t is not None  # only an overdue ticket is drafted
    assert t.due_ms is not None
    assert t.overdue_ms is not None
    facts: Draft = {
        "complaint_id": t.complaint_id,
        "kind": t.kind,
        "due_at": iso(t.due_ms),
        "detected_at": iso(t.overdue_ms),
    }
    return facts, [], _complaint_articles({t.kind})


def _counts(c: complaints.KindCounts) -> Draft:
    return {
        "received": c.received,
        "resolved_in_time": c.resolved_in_time,
        "resolved_late": c.resolved_late,
        "overdue": c.overdue,
    }


def _statistics_draft(acc: Facts) -> tuple[Draft, list[str], set[str]]:
    s = acc.statistics
    assert s is not None  # a statistics incident starts with its counts
    totals = {
        name: sum(_counts(c)[name] for c in s.by_kind) for name in _counts(complaints.KindCounts(kind=""))
    }
    facts: Draft = {
        "period": s.period,
        "period_id": s.period_id,
        "timezone": complaints.TIMEZONE_NAME,
        "period_start": iso(s.start_ms),
        "period_end": iso(s.end_ms),
        "totals": totals,
        "by_kind": {c.kind: _counts(c) for c in s.by_kind},
        **_present(counted_from=iso(s.counted_from_ms) if s.counted_from_ms is not None else None),
    }
    handled = {c.kind for c in s.by_kind if any(_counts(c).values())}
    return facts, [], _complaint_articles(handled)


_DRAFTERS = {
    "illegal_content": _blocked_draft,
    "user_sanction": _sanction_draft,
    "rumour": _rumour_draft,
    "takedown": _takedown_draft,
    "incident": _incident_draft,
    "complaint_overdue": _overdue_draft,
    "complaint_statistics": _statistics_draft,
}


def draft(category: str, acc: Facts) -> Draft:
    """The next report's content (without sequence, chain and signature)."""
    facts, actions, extra_articles = _DRAFTERS[category](acc)
    assert acc.occurred_ms is not None  # every observation sets both times
    assert acc.detected_ms is not None
    out: Draft = {
        "category": category,
        "articles": sorted({*CATEGORY_ARTICLES[category], *extra_articles}),
        "occurred_at": iso(acc.occurred_ms),
        "detected_at": iso(acc.detected_ms),
        "facts": facts,
        "actions_taken": actions,
    }
    if acc.cyber is not None:
        out["severity"] = acc.cyber.severity
    return out


def draft_of(state: Incident) -> Draft:
    """The draft of an incident's next report, rebuilt from its facts."""
    return draft(state.category, state.acc)


def digest(value: Any) -> str:
    """SHA-256 over the canonical JSON of `value`; InvalidIncident when it has none."""
    try:
        return hashlib.sha256(canonical(value)).hexdigest()
    except CanonicalizationError as exc:
        raise InvalidIncident(f"the facts cannot be canonicalised (RFC 8785): {exc}") from exc


# --------------------------------------------------------------------------- the incident's life


def scheduled(state: Incident, changed_at_ms: int, policy: Policy) -> Incident:
    """The incident with `pending_since_ms` and `due_ms` set from its digests."""
    if state.draft_digest == state.reported_digest:
        return state.model_copy(update={"pending_since_ms": None, "due_ms": NEVER})
    since = changed_at_ms if state.pending_since_ms is None else state.pending_since_ms
    if state.category in IMMEDIATE:
        due = since  # due at once, in arrival order
    else:
        due = min(changed_at_ms + policy.settle_ms, since + policy.max_delay_ms)
    return state.model_copy(update={"pending_since_ms": since, "due_ms": due})


def new_incident(provider: str, obs: Observation, ref: EventRef) -> Incident:
    """The state of an incident nothing was known about."""
    notice = (
        obs.notice_id if isinstance(obs, RumourCase | Refutation | TakedownRequired | TakedownOrder) else None
    )
    return Incident(
        provider=provider,
        key=incident_key(obs),
        category=category_of(obs),
        acc=Facts(notice_id=notice),
        correlation_id=ref.correlation_id,
        cause_event_id=ref.event_id,
    )


def fold(
    state: Incident | None, provider: str, obs: Observation, ref: EventRef, now_ms: int, policy: Policy
) -> Incident:
    """The incident after one more observation; InvalidIncident when the facts are unreportable.

    Only the draft's digest is kept (documents stay small); `draft_of` rebuilds the draft.
    """
    current = state or new_incident(provider, obs, ref)
    acc = accumulate(current.acc, obs, policy)
    if acc.complaint is not None and acc.complaint.overdue_ms is None:
        return current.model_copy(update={"acc": acc})  # a ticket in time: counted, not reported
    return _changed(current, acc, ref, now_ms, policy)


def with_statistics(
    state: Incident | None,
    provider: str,
    counted: complaints.Statistics,
    ref: EventRef,
    now_ms: int,
    policy: Policy,
) -> Incident:
    """The period's statistics incident with fresh counts: due when they differ from the last report.

    Counts that change after the period was reported make its next part (cumulative figures).
    """
    current = state or Incident(
        provider=provider,
        key=f"complaint_statistics/{counted.period}/{counted.period_id}",
        category="complaint_statistics",
        correlation_id=ref.correlation_id,
        cause_event_id=ref.event_id,
    )
    acc = current.acc.model_copy(
        update={"statistics": counted, "occurred_ms": counted.start_ms, "detected_ms": counted.end_ms}
    )
    return _changed(current, acc, ref, now_ms, policy)


def _changed(current: Incident, acc: Facts, ref: EventRef, now_ms: int, policy: Policy) -> Incident:
    new_digest = digest(draft(current.category, acc))
    out = current.model_copy(update={"acc": acc})
    if acc.cyber is not None:
        timer = cyber.timer_ms(acc.cyber, policy.incidents)
        out = out.model_copy(update={"timer_ms": NEVER if timer is None else timer})
    if new_digest == current.draft_digest:
        return out
    changed = out.model_copy(update={"draft_digest": new_digest, "cause_event_id": ref.event_id})
    return scheduled(changed, now_ms, policy)


def fire_timer(state: Incident, now_ms: int, ref: EventRef, policy: Policy) -> Incident:
    """The incident after its timer fired at `now_ms` (unchanged when it is not due yet).

    The reminder or the summary changes the facts, so the incident is due for its next report.
    """
    if state.acc.cyber is None or state.timer_ms > now_ms:
        return state
    facts = cyber.fire(state.acc.cyber, now_ms, policy.incidents)
    return _changed(state, state.acc.model_copy(update={"cyber": facts}), ref, now_ms, policy)


@dataclass(frozen=True)
class PartRef:
    """A report that was numbered for an incident."""

    report_id: str
    sequence: int
    incident_key: str
    reported_digest: str


def part_key(state: Incident) -> str:
    """The incident key of the incident's next report: the key itself for the first, `key#n` after."""
    n = len(state.parts)
    return state.key if n == 0 else f"{state.key}#{n + 1}"


def mark_reported(state: Incident, part: PartRef, now_ms: int, policy: Policy) -> Incident:
    """The incident after its next report was numbered; idempotent for an already recorded part."""
    if any(p.report_id == part.report_id for p in state.parts):
        return state
    entry = PartEntry(report_id=part.report_id, sequence=part.sequence, incident_key=part.incident_key)
    out = state.model_copy(
        update={
            "parts": (*state.parts, entry),
            "reported_digest": part.reported_digest,
            "pending_since_ms": None,
        }
    )
    # Facts that arrived after the snapshot was taken make the incident pending again.
    return scheduled(out, now_ms, policy)
