"""The feature library (DS-10.2): entries, their admission by a second person, versions, history.

One library per provider, kept as one aggregate (`library:<provider>`). Every applied change
bumps the library version by one, and each entry keeps its full history (version, change,
actor, reason, time), so the library as it stood at any version can be rebuilt (`entries_at`)
to explain or replay a decision.

Admission procedure (the "documented admission standards, rules and procedures" of DS-10.2):

1. someone with the role `operator` or `admin` **proposes** an entry with a reason (the
   criterion applied); it is `proposed` and matches nothing yet;
2. a **different** `operator` or `admin` **approves** it with a reason (four-eyes); it becomes
   `active` and matches from the next library version on;
3. an `operator` or `admin` may **disable** an entry (proposed or active) at once, with a reason.
   Disabling needs no second person: taking an entry out must be quick when it over-blocks;
   the history shows who did it and why.

A change that breaks a rule is refused: nothing changes, the refusal is recorded and published.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from services.generation_review.domain.matcher import KINDS, MatchEntry, regex_error
from services.generation_review.domain.normalise import normalise
from services.generation_review.domain.phash_index import MAX_DISTANCE, parse_phash
from shared.storage.aggregates import AggregateState

CHANGE_LOG_LIMIT: Final = 1000  # recent changes kept on the library; each entry keeps all of its own
PERMITTED_ROLES: Final = frozenset({"operator", "admin"})
ACTIONS: Final = ("block", "review")
DEFAULT_PHASH_DISTANCE: Final = 8
_SHA256: Final = re.compile(r"[0-9a-f]{64}")
_CATEGORY: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


class ChangeRecord(AggregateState):
    """One change as logged: applied (`status`, `at`) or refused (`refused`, `detail`)."""

    version: int
    change: str
    entry_id: str
    actor: str
    role: str | None
    reason: str
    status: str | None = None
    at: datetime | None = None
    refused: str | None = None
    detail: str | None = None


class LibraryEntry(AggregateState):
    """One entry with its admission trail and its full history (for `entries_at`)."""

    entry_id: str
    kind: str
    pattern: str
    category: str
    action: str
    max_distance: int | None = None
    status: str  # proposed · active · disabled
    demo: bool = False
    proposed_by: str
    proposed_reason: str
    approved_by: str | None = None
    approval_reason: str | None = None
    disabled_by: str | None = None
    disabled_reason: str | None = None
    created_version: int
    updated_version: int
    history: tuple[ChangeRecord, ...] = ()


class LibraryState(AggregateState):
    """One provider's feature library: the aggregate `library:<provider>`."""

    kind: Literal["library"] = "library"
    provider_id: str
    version: int = 0
    entries: dict[str, LibraryEntry] = {}
    changes: tuple[ChangeRecord, ...] = ()

    def with_entry(self, entry: LibraryEntry, record: ChangeRecord) -> LibraryState:
        """The library with `entry` written at `record.version` and the change logged."""
        return self.model_copy(
            update={
                "entries": {**self.entries, entry.entry_id: entry},
                "version": record.version,
                "changes": (*self.changes, record)[-CHANGE_LOG_LIMIT:],
            }
        )


@dataclass(frozen=True)
class ChangeRequest:
    """A library change as submitted (console command or CLI)."""

    change: str  # propose · approve · disable
    entry_id: str
    reason: str
    actor: str  # `console:<username>` or `system:<what>`
    role: str | None
    entry: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class LibraryDecision:
    """The library after a change (None: unchanged) and what to publish about it."""

    state: LibraryState | None
    applied: bool
    change: str
    entry_id: str
    version: int
    refusal: str | None = None
    detail: str = ""
    entry: LibraryEntry | None = None
    actor: str = ""
    role: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class ProposedEntry:
    """A validated proposal."""

    kind: str
    pattern: str
    category: str
    action: str
    max_distance: int | None = None


def new_library(provider_id: str) -> LibraryState:
    """An empty library (version 0)."""
    return LibraryState(provider_id=provider_id)


def validate_entry(raw: Mapping[str, Any] | None) -> ProposedEntry | str:
    """A proposal checked field by field, or the reason it is not acceptable."""
    if not raw:
        return "a proposal needs `entry` with kind, pattern, category and action"
    kind, pattern = raw.get("kind"), raw.get("pattern")
    category, action = raw.get("category"), raw.get("action", "block")
    if kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    if not isinstance(pattern, str) or not pattern or len(pattern) > 1000:
        return "pattern must be a non-empty string of at most 1000 characters"
    if not isinstance(category, str) or not _CATEGORY.fullmatch(category):
        return "category must be a lowercase identifier (a-z, 0-9, _ . -), at most 64 characters"
    if action not in ACTIONS:
        return "action must be block or review"
    return _validate_pattern(kind, pattern, category, action, raw.get("max_distance"))


def _validate_pattern(
    kind: str, pattern: str, category: str, action: str, distance: Any
) -> ProposedEntry | str:
    if kind == "keyword" and not normalise(pattern):
        return "the keyword has no letters or digits left after normalisation"
    if kind == "regex" and (error := regex_error(pattern)):
        return f"not an RE2 regular expression: {error}"
    if kind == "sha256" and not _SHA256.fullmatch(pattern.lower()):
        return "a sha256 entry is 64 hexadecimal digits"
    if kind == "phash":
        if parse_phash(pattern) is None:
            return "a phash entry is a 64-bit perceptual hash: 16 hexadecimal digits"
        distance = DEFAULT_PHASH_DISTANCE if distance is None else distance
        if not isinstance(distance, int) or isinstance(distance, bool) or not 0 <= distance <= MAX_DISTANCE:
            return f"max_distance must be an integer from 0 to {MAX_DISTANCE}"
        return ProposedEntry(kind, pattern.lower(), category, action, distance)
    stored = pattern.lower() if kind == "sha256" else pattern
    return ProposedEntry(kind, stored, category, action)


def apply_change(state: LibraryState | None, req: ChangeRequest, now: datetime) -> LibraryDecision:
    """Apply a propose/approve/disable, or refuse it (nothing changes)."""
    library = state or new_library("")
    if req.role not in PERMITTED_ROLES and not req.actor.startswith("system:"):
        return _refuse(
            library, req, "actor_not_permitted", "only an operator or admin may change the library"
        )
    if req.change == "propose":
        return _propose(library, req, now)
    entry = library.entries.get(req.entry_id)
    if entry is None:
        return _refuse(library, req, "entry_unknown", "no entry with this id")
    if req.change == "approve":
        if entry.status != "proposed":
            return _refuse(library, req, "not_proposed", f"the entry is {entry.status}")
        if entry.proposed_by == req.actor:
            return _refuse(library, req, "four_eyes", "the proposer may not approve their own entry")
        approved = entry.model_copy(
            update={"status": "active", "approved_by": req.actor, "approval_reason": req.reason}
        )
        return _apply(library, req, now, approved)
    if req.change == "disable":
        if entry.status == "disabled":
            return _refuse(library, req, "already_disabled", "the entry is already disabled")
        disabled = entry.model_copy(
            update={"status": "disabled", "disabled_by": req.actor, "disabled_reason": req.reason}
        )
        return _apply(library, req, now, disabled)
    return _refuse(library, req, "change_unknown", f"unknown change {req.change!r}")


def _proposal(library: LibraryState, req: ChangeRequest, demo: bool) -> LibraryEntry | str:
    """The new entry a proposal makes, or why there is none (an entry_exists / entry_invalid detail)."""
    proposal = validate_entry(req.entry)
    if isinstance(proposal, str):
        return proposal
    return LibraryEntry(
        entry_id=req.entry_id,
        kind=proposal.kind,
        pattern=proposal.pattern,
        category=proposal.category,
        action=proposal.action,
        max_distance=proposal.max_distance,
        status="proposed",
        demo=demo,
        proposed_by=req.actor,
        proposed_reason=req.reason,
        created_version=library.version + 1,
        updated_version=library.version + 1,
    )


def _propose(library: LibraryState, req: ChangeRequest, now: datetime) -> LibraryDecision:
    if req.entry_id in library.entries:
        return _refuse(library, req, "entry_exists", "an entry with this id exists; propose a new id")
    entry = _proposal(library, req, demo=False)
    if isinstance(entry, str):
        return _refuse(library, req, "entry_invalid", entry)
    return _apply(library, req, now, entry)


def _apply(library: LibraryState, req: ChangeRequest, now: datetime, entry: LibraryEntry) -> LibraryDecision:
    version = library.version + 1
    record = ChangeRecord(
        version=version,
        change=req.change,
        entry_id=req.entry_id,
        status=entry.status,
        actor=req.actor,
        role=req.role,
        reason=req.reason,
        at=now,
    )
    entry = entry.model_copy(update={"updated_version": version, "history": (*entry.history, record)})
    return LibraryDecision(
        library.with_entry(entry, record),
        True,
        req.change,
        req.entry_id,
        version,
        entry=entry,
        actor=req.actor,
        role=req.role,
        reason=req.reason,
    )


def _refuse(library: LibraryState, req: ChangeRequest, code: str, detail: str) -> LibraryDecision:
    record = ChangeRecord(
        version=library.version,
        change=req.change,
        entry_id=req.entry_id,
        refused=code,
        detail=detail,
        actor=req.actor,
        role=req.role,
        reason=req.reason,
    )
    logged = library.model_copy(update={"changes": (*library.changes, record)[-CHANGE_LOG_LIMIT:]})
    return LibraryDecision(
        logged,
        False,
        req.change,
        req.entry_id,
        library.version,
        refusal=code,
        detail=detail,
        entry=library.entries.get(req.entry_id),
        actor=req.actor,
        role=req.role,
        reason=req.reason,
    )


def seed(
    state: LibraryState | None,
    provider_id: str,
    entries: Iterable[Mapping[str, Any]],
    actor: str,
    now: datetime,
) -> list[LibraryDecision]:
    """Load shipped entries into an empty library as active, marked demo (one version each).

    Returns no decisions when the library already has entries: seeding is for a first start only.
    """
    library = state.model_copy(update={"provider_id": provider_id}) if state else new_library(provider_id)
    if library.entries:
        return []
    decisions: list[LibraryDecision] = []
    for raw in entries:
        entry_id = str(raw["entry_id"])
        req = ChangeRequest("seed", entry_id, str(raw.get("why", "demo data")), actor, None, raw)
        proposed = _proposal(library, req, demo=bool(raw.get("demo", True)))
        if isinstance(proposed, str):
            raise ValueError(f"seed entry {entry_id}: {proposed}")
        active = proposed.model_copy(
            update={"status": "active", "approved_by": actor, "approval_reason": req.reason}
        )
        decision = _apply(library, req, now, active)
        assert decision.state is not None
        library = decision.state
        decisions.append(decision)
    return decisions


def match_entries(entries: Iterable[LibraryEntry]) -> list[MatchEntry]:
    """The active entries, as the matcher needs them (sorted by id, so builds are reproducible)."""
    return [
        MatchEntry(
            entry_id=e.entry_id,
            kind=e.kind,
            pattern=e.pattern,
            category=e.category,
            action=e.action,
            max_distance=e.max_distance,
            why=e.approval_reason or "",
        )
        for e in sorted(entries, key=lambda e: e.entry_id)
        if e.status == "active"
    ]


def active_entries(state: LibraryState | None) -> list[MatchEntry]:
    """What matches now."""
    return match_entries(state.entries.values()) if state else []


def entries_at(state: LibraryState, version: int) -> list[MatchEntry]:
    """What matched at library `version`: each entry with the status its history had then."""
    then: list[LibraryEntry] = []
    for entry in state.entries.values():
        past = [h for h in entry.history if h.version <= version]
        if past and past[-1].status:
            then.append(entry.model_copy(update={"status": past[-1].status}))
    return match_entries(then)
