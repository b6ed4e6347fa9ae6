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

The state is JSON-shaped (strings, ints, bools, lists, dicts) so the store keeps it exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from services.regulator_reporting.chain import CanonicalizationError, canonical
from services.regulator_reporting.domain.articles import (
    BLOCK_ACTIONS,
    CATEGORY_ARTICLES,
    REPORTABLE_REASONS,
    SANCTION_ACTIONS,
    safe_code,
)

NEVER = 2**62  # due_ms of an incident with nothing left to report (an int: the store keeps it exactly)
LISTED_IDS = 200  # ids listed in a report; the count and a SHA-256 over all of them cover the rest
CONTENT_CAP = 20_000  # content ids tracked per incident (a report says `truncated` beyond)
RECIPIENT_CAP = 50_000  # recipient references tracked per rumour case

Category = Literal["illegal_content", "user_sanction", "rumour", "takedown"]
IMMEDIATE: frozenset[str] = frozenset({"illegal_content", "user_sanction"})


class InvalidIncident(ValueError):
    """The facts cannot be reported as they are (e.g. text that is not valid Unicode)."""


@dataclass(frozen=True)
class Policy:
    """How long windowed incidents gather facts before they are reported."""

    settle_ms: int = 30_000
    max_delay_ms: int = 300_000


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


Observation = Blocked | Sanction | RumourCase | Refutation | TakedownRequired | TakedownOrder


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
    return f"takedown/{obs.notice_id}"


def category_of(obs: Observation) -> Category:
    """The report category of an observation's incident."""
    if isinstance(obs, Blocked):
        return "illegal_content"
    if isinstance(obs, Sanction):
        return "user_sanction"
    if isinstance(obs, RumourCase | Refutation):
        return "rumour"
    return "takedown"


# --------------------------------------------------------------------------- accumulating facts


def _union(items: list[str], new: tuple[str, ...] | list[str], cap: int) -> tuple[list[str], bool]:
    merged = sorted(set(items).union(new))
    return (merged[:cap], True) if len(merged) > cap else (merged, False)


def _reasons(existing: list[list[str]], new: tuple[tuple[str, str], ...]) -> list[list[str]]:
    pairs = {(c, a) for c, a in existing} | {(safe_code(c), a) for c, a in new}
    return [[c, a] for c, a in sorted(pairs)]


def _times(acc: dict[str, Any], at_ms: int) -> None:
    acc["occurred_ms"] = min(acc.get("occurred_ms", at_ms), at_ms)
    acc["detected_ms"] = min(acc.get("detected_ms", at_ms), at_ms)


def _first(acc: dict[str, Any], name: str, value: Any) -> None:
    if value is not None and acc.get(name) is None:
        acc[name] = value


def _add_blocked(acc: dict[str, Any], obs: Blocked) -> None:
    acc.update(stage=obs.stage, request_id=obs.request_id, user_id=obs.user_id)
    acc["decision_ids"] = sorted({*acc.get("decision_ids", []), obs.decision_id})
    acc["reasons"] = _reasons(acc.get("reasons", []), obs.reasons)
    _first(acc, "service_type", obs.service_type)
    _first(acc, "content_id", obs.content_id)
    _first(acc, "library_version", obs.library_version)
    _first(acc, "rule_set_version", obs.rule_set_version)


def _add_sanction(acc: dict[str, Any], obs: Sanction) -> None:
    acc.update(user_id=obs.user_id, level=obs.level, strikes=obs.strikes)
    acc["reasons"] = _reasons(acc.get("reasons", []), obs.reasons)
    _first(acc, "until_ms", obs.until_ms)
    _first(acc, "decision_id", obs.decision_id)
    _first(acc, "category", safe_code(obs.category) if obs.category else None)


def _add_rumour(acc: dict[str, Any], obs: RumourCase) -> None:
    acc["recorded"] = True
    acc["rumour_ids"] = sorted({*acc.get("rumour_ids", []), obs.rumour_id})
    _first(acc, "claim_text_sha256", obs.claim_text_sha256)
    if obs.refutation_text_sha256:
        acc["refutation_text_sha256"] = sorted(
            {*acc.get("refutation_text_sha256", []), obs.refutation_text_sha256}
        )
    acc["claim_media_sha256"] = sorted({*acc.get("claim_media_sha256", []), *obs.claim_media_sha256})
    acc["fingerprint_count"] = max(acc.get("fingerprint_count", 0), obs.fingerprint_count)
    _add_content(acc, "matched_content", obs.matched_content_ids)
    acc["recipients_reported"] = max(acc.get("recipients_reported", 0), obs.recipients_reached or 0)


def _add_refutation(acc: dict[str, Any], obs: Refutation) -> None:
    if obs.rumour_id:
        acc["rumour_ids"] = sorted({*acc.get("rumour_ids", []), obs.rumour_id})
    if obs.refutation_text_sha256:
        acc["refutation_text_sha256"] = sorted(
            {*acc.get("refutation_text_sha256", []), obs.refutation_text_sha256}
        )
    _add_content(acc, "matched_content", obs.content_ids)
    refs, truncated = _union(acc.get("recipient_refs", []), [obs.recipient_ref], RECIPIENT_CAP)
    acc["recipient_refs"] = refs
    acc["recipients_truncated"] = acc.get("recipients_truncated", False) or truncated


def _add_content(acc: dict[str, Any], name: str, ids: tuple[str, ...] | list[str]) -> None:
    merged, truncated = _union(acc.get(f"{name}_ids", []), ids, CONTENT_CAP)
    acc[f"{name}_ids"] = merged
    acc[f"{name}_truncated"] = acc.get(f"{name}_truncated", False) or truncated


def _add_takedown(acc: dict[str, Any], obs: TakedownRequired | TakedownOrder) -> None:
    if isinstance(obs, TakedownOrder):
        acc["ordered"] = True
        _first(acc, "order_reason_sha256", obs.reason_sha256)
        _add_content(acc, "ordered_content", obs.content_ids)
        return
    _add_content(acc, "required_content", [obs.content_id])
    if obs.rumour_id:
        acc["rumour_ids"] = sorted({*acc.get("rumour_ids", []), obs.rumour_id})


def accumulate(acc: dict[str, Any], obs: Observation) -> dict[str, Any]:
    """A new accumulator with `obs` folded in (the input is not changed)."""
    out = dict(acc)
    if isinstance(obs, Blocked):
        _add_blocked(out, obs)
    elif isinstance(obs, Sanction):
        _add_sanction(out, obs)
    elif isinstance(obs, RumourCase):
        _add_rumour(out, obs)
    elif isinstance(obs, Refutation):
        _add_refutation(out, obs)
    else:
        _add_takedown(out, obs)
    _times(out, obs.at_ms)
    return out


# --------------------------------------------------------------------------- the report draft


def iso(ms: int) -> str:
    """RFC 3339 UTC with milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id_list(ids: list[str], truncated: bool) -> dict[str, Any]:
    # Listing every id could exceed a message; the count and a digest over all of them cannot.
    out: dict[str, Any] = {
        "count": len(ids),
        "ids": ids[:LISTED_IDS],
        "sha256": hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest(),
    }
    if truncated:
        out["truncated"] = True
    return out


def _optional(facts: dict[str, Any], acc: dict[str, Any], *names: str) -> None:
    for name in names:
        if acc.get(name) is not None:
            facts[name] = acc[name]


def _reason_articles(acc: dict[str, Any]) -> set[str]:
    # A report is made under the articles of its reportable reasons; every reason stays in the facts.
    return {REPORTABLE_REASONS[c] for c, _ in acc.get("reasons", []) if c in REPORTABLE_REASONS}


def _blocked_draft(acc: dict[str, Any]) -> tuple[dict[str, Any], list[str], set[str]]:
    facts: dict[str, Any] = {
        "stage": acc["stage"],
        "request_id": acc["request_id"],
        "user_id": acc["user_id"],  # a platform pseudonym: a reference, not an identity
        "decision_ids": acc["decision_ids"],
        "reasons": [{"code": c, "article": a} for c, a in acc["reasons"]],
    }
    _optional(facts, acc, "service_type", "content_id", "library_version", "rule_set_version")
    return facts, [BLOCK_ACTIONS[acc["stage"]]], _reason_articles(acc)


def _sanction_draft(acc: dict[str, Any]) -> tuple[dict[str, Any], list[str], set[str]]:
    facts: dict[str, Any] = {
        "user_id": acc["user_id"],
        "level": acc["level"],
        "strikes": acc["strikes"],
        "reasons": [{"code": c, "article": a} for c, a in acc["reasons"]],
    }
    if acc.get("until_ms") is not None:
        facts["until"] = iso(acc["until_ms"])
    _optional(facts, acc, "decision_id", "category")
    actions = [SANCTION_ACTIONS.get(acc["level"], "user_sanctioned")]
    if acc["strikes"] > 0:
        actions.append("strike_recorded")
    return facts, actions, _reason_articles(acc)


def _rumour_draft(acc: dict[str, Any]) -> tuple[dict[str, Any], list[str], set[str]]:
    notices = len(acc.get("recipient_refs", []))
    facts: dict[str, Any] = {
        "notice_id": acc["notice_id"],
        "rumour_ids": acc.get("rumour_ids", []),
        "recorded": acc.get("recorded", False),
        "claim_media_sha256": acc.get("claim_media_sha256", []),
        "fingerprint_count": acc.get("fingerprint_count", 0),
        "matched_content": _id_list(
            acc.get("matched_content_ids", []), acc.get("matched_content_truncated", False)
        ),
        "refutation_notices_sent": notices,
        "recipients_reached": max(notices, acc.get("recipients_reported", 0)),
    }
    if acc.get("recipients_truncated"):
        facts["recipients_truncated"] = True
    _optional(facts, acc, "claim_text_sha256", "refutation_text_sha256")
    actions = ["rumour_recorded", "matching_generation_blocked"] if facts["recorded"] else []
    if notices or acc.get("recipients_reported"):
        actions.append("refutation_sent")
    return facts, actions, set()


def _takedown_draft(acc: dict[str, Any]) -> tuple[dict[str, Any], list[str], set[str]]:
    required = acc.get("required_content_ids", [])
    facts: dict[str, Any] = {
        "notice_id": acc["notice_id"],
        "ordered_by_regulator": acc.get("ordered", False),
        "takedown_required_content": _id_list(required, acc.get("required_content_truncated", False)),
    }
    if acc.get("ordered"):
        facts["ordered_content"] = _id_list(
            acc.get("ordered_content_ids", []), acc.get("ordered_content_truncated", False)
        )
    _optional(facts, acc, "order_reason_sha256", "rumour_ids")
    actions = ["takedown_order_received"] if acc.get("ordered") else []
    if required:
        actions.append("takedown_required")
    articles = {"DS-11"} if acc.get("rumour_ids") else set()
    if acc.get("ordered"):
        articles.add("DS-21")  # carrying out the regulator's order (cooperation with supervision)
    return facts, actions, articles


_DRAFTERS = {
    "illegal_content": _blocked_draft,
    "user_sanction": _sanction_draft,
    "rumour": _rumour_draft,
    "takedown": _takedown_draft,
}


def draft(category: str, acc: dict[str, Any]) -> dict[str, Any]:
    """The next report's content (without sequence, chain and signature)."""
    facts, actions, extra_articles = _DRAFTERS[category](acc)
    return {
        "category": category,
        "articles": sorted({*CATEGORY_ARTICLES[category], *extra_articles}),
        "occurred_at": iso(acc["occurred_ms"]),
        "detected_at": iso(acc["detected_ms"]),
        "facts": facts,
        "actions_taken": actions,
    }


def draft_of(state: dict[str, Any]) -> dict[str, Any]:
    """The draft of an incident's next report, rebuilt from its facts."""
    return draft(state["category"], state["acc"])


def digest(value: Any) -> str:
    """SHA-256 over the canonical JSON of `value`; InvalidIncident when it has none."""
    try:
        return hashlib.sha256(canonical(value)).hexdigest()
    except CanonicalizationError as exc:
        raise InvalidIncident(f"the facts cannot be canonicalised (RFC 8785): {exc}") from exc


# --------------------------------------------------------------------------- the incident's life


def _schedule(state: dict[str, Any], changed_at_ms: int, policy: Policy) -> None:
    if state["draft_digest"] == state["reported_digest"]:
        state["pending_since_ms"], state["due_ms"] = None, NEVER
        return
    if state["pending_since_ms"] is None:
        state["pending_since_ms"] = changed_at_ms
    since = state["pending_since_ms"]
    if state["category"] in IMMEDIATE:
        state["due_ms"] = since  # due at once, in arrival order
    else:
        state["due_ms"] = min(changed_at_ms + policy.settle_ms, since + policy.max_delay_ms)


def new_incident(provider: str, obs: Observation, ref: EventRef) -> dict[str, Any]:
    """The state of an incident nothing was known about."""
    key = incident_key(obs)
    acc: dict[str, Any] = {"notice_id": obs.notice_id} if hasattr(obs, "notice_id") else {}
    return {
        "provider": provider,
        "key": key,
        "category": category_of(obs),
        "acc": acc,
        "correlation_id": ref.correlation_id,
        "cause_event_id": ref.event_id,
        "draft_digest": "",
        "reported_digest": "",
        "parts": [],
        "pending_since_ms": None,
        "due_ms": NEVER,
    }


def fold(
    state: dict[str, Any] | None, provider: str, obs: Observation, ref: EventRef, now_ms: int, policy: Policy
) -> dict[str, Any]:
    """The incident after one more observation; InvalidIncident when the facts are unreportable.

    Only the draft's digest is kept (documents stay small); `draft_of` rebuilds the draft.
    """
    current = state or new_incident(provider, obs, ref)
    acc = accumulate(current["acc"], obs)
    new_draft = draft(current["category"], acc)
    new_digest = digest(new_draft)
    out = {**current, "acc": acc}
    if new_digest != current["draft_digest"]:
        out.update(draft_digest=new_digest, cause_event_id=ref.event_id)
        _schedule(out, now_ms, policy)
    return out


@dataclass(frozen=True)
class PartRef:
    """A report that was numbered for an incident."""

    report_id: str
    sequence: int
    incident_key: str
    reported_digest: str


def part_key(state: dict[str, Any]) -> str:
    """The incident key of the incident's next report: the key itself for the first, `key#n` after."""
    n = len(state["parts"])
    return state["key"] if n == 0 else f"{state['key']}#{n + 1}"


def mark_reported(state: dict[str, Any], part: PartRef, now_ms: int, policy: Policy) -> dict[str, Any]:
    """The incident after its next report was numbered; idempotent for an already recorded part."""
    if any(p["report_id"] == part.report_id for p in state["parts"]):
        return state
    entry = {"report_id": part.report_id, "sequence": part.sequence, "incident_key": part.incident_key}
    out = {**state, "parts": [*state["parts"], entry], "reported_digest": part.reported_digest}
    out["pending_since_ms"] = None
    # Facts that arrived after the snapshot was taken make the incident pending again.
    _schedule(out, now_ms, policy)
    return out
