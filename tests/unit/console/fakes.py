"""In-memory stand-ins for the console's ports, and helpers to build consent states from real events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher

from services.console.domain.claims import Take, holder
from services.console.domain.library_view import ENTRY_STATUSES, LibraryEntryView, fold_library_entry
from services.console.domain.passwords import Passwords
from services.console.domain.projection import ConsentView, fold_consent
from services.console.domain.ratelimit import LoginRateLimiter
from services.console.domain.review_view import ReviewItemView, fold_review_item
from services.console.entrypoints.app import DEFINITION
from services.console.ports import (
    Actor,
    AuditEntry,
    AuditQuery,
    CommandResult,
    ConsentPage,
    ConsentQuery,
    DashboardCounts,
    LibraryCounts,
    LibraryQuery,
    Page,
    PendingAction,
    ReviewCounts,
    ReviewQuery,
    Session,
    TakeResult,
    User,
    WithdrawalResult,
)
from services.console.web.base import ConsoleDeps
from services.console.web.security import WebConfig
from shared.contracts.consent import ConsentEvent
from shared.contracts.envelope import CloudEvent
from shared.contracts.review import LibraryUpdated, ReviewQueued, ReviewResolved
from shared.messaging.codec import Inbound
from shared.storage.aggregates import AggregateState
from tests.unit.console.fake_incidents import FakeIncidentBoard
from tests.unit.console.fakes_complaints import FakeComplaintDesk

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
SECRET = b"unit-test-session-secret-0123456789abcdef"


def cheap_passwords() -> Passwords:
    """Argon2id with tiny parameters: the same code path, fast enough for many tests."""
    return Passwords(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


class FakeUsers:
    def __init__(self) -> None:
        self.users: dict[str, User] = {}

    async def get(self, username: str) -> User | None:
        return self.users.get(username)

    async def add(self, user: User) -> bool:
        if user.username in self.users:
            return False
        self.users[user.username] = replace(user, version=1)
        return True

    async def replace(self, user: User) -> bool:
        stored = self.users.get(user.username)
        if stored is None or stored.version != user.version:
            return False
        self.users[user.username] = replace(user, version=user.version + 1)
        return True

    async def all(self) -> list[User]:
        return [self.users[k] for k in sorted(self.users)]

    async def count(self) -> int:
        return len(self.users)


class FakeSessions:
    def __init__(self) -> None:
        self.sessions: dict[str, Session] = {}

    async def add(self, session: Session) -> None:
        assert session.id_digest not in self.sessions
        self.sessions[session.id_digest] = session

    async def get(self, id_digest: str, now_ms: int) -> Session | None:
        s = self.sessions.get(id_digest)
        return s if s is not None and s.expires_ms > now_ms else None

    async def delete(self, id_digest: str) -> None:
        self.sessions.pop(id_digest, None)

    async def delete_for_user(self, username: str) -> None:
        for key in [k for k, s in self.sessions.items() if s.username == username]:
            del self.sessions[key]


class FakeFailureLog:
    def __init__(self) -> None:
        self.failures: dict[str, list[int]] = {}

    async def since(self, key: str, since_ms: int) -> list[int]:
        return [t for t in self.failures.get(key, []) if t >= since_ms]

    async def add(self, key: str, at_ms: int) -> None:
        self.failures.setdefault(key, []).append(at_ms)

    async def clear(self, key: str) -> None:
        self.failures.pop(key, None)


class FakeAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []
        self.withdrawals: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []  # rows as `submitted` returns them, with "action"

    async def record(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def actions(self) -> list[str]:
        return [e.action for e in self.entries]

    async def recent(self, limit: int, skip: int = 0) -> list[dict[str, Any]]:
        rows = [
            {
                "action": e.action,
                "actor": e.actor.as_dict() if e.actor else None,
                "at": e.at.isoformat(),
                "client": e.client,
                "target": e.target,
                "details": dict(e.details),
                "sent": True,
            }
            for e in reversed(self.entries)
        ]
        return rows[skip : skip + limit]

    async def search(self, query: AuditQuery, limit: int, skip: int = 0) -> list[dict[str, Any]]:
        rows = [
            r
            for r, e in zip(await self.recent(len(self.entries)), reversed(self.entries), strict=True)
            if (not query.actor or (e.actor is not None and e.actor.username == query.actor))
            and (not query.action or e.action == query.action)
            and (query.since_ms is None or e.at.timestamp() * 1000 >= query.since_ms)
            and (query.until_ms is None or e.at.timestamp() * 1000 <= query.until_ms)
        ]
        return rows[skip : skip + limit]

    async def withdrawals_for(self, consent_id: str) -> list[dict[str, Any]]:
        return [w for w in self.withdrawals if w["target"] == consent_id]

    async def submitted(self, action: str, target: str) -> list[dict[str, Any]]:
        return [c for c in reversed(self.commands) if c["action"] == action and c["target"] == target]


class FakePending:
    def __init__(self) -> None:
        self.actions: dict[str, PendingAction] = {}

    async def open(self, action: PendingAction) -> bool:
        if action.key in self.actions:
            return False
        self.actions[action.key] = action
        return True

    async def get(self, key: str) -> PendingAction | None:
        return self.actions.get(key)

    async def all(self) -> list[PendingAction]:
        return sorted(self.actions.values(), key=lambda a: (a.requested_ms, a.key))

    async def close(self, action: PendingAction) -> bool:
        if self.actions.get(action.key) != action:
            return False
        del self.actions[action.key]
        return True


class FakeSite:
    def __init__(self) -> None:
        self.url: str | None = None

    async def record_url(self, url: str) -> None:
        self.url = url


class FakeReadModel:
    def __init__(self) -> None:
        self.consents: dict[str, dict[str, Any]] = {}
        self.identity = {"verified": 0, "rejected": 0}

    def put(self, state: dict[str, Any]) -> None:
        self.consents[state["consent_id"]] = state

    async def search(self, query: ConsentQuery, now: datetime) -> ConsentPage:
        items = [
            c
            for c in self.consents.values()
            if (not query.subject_id or c["subject_id"] == query.subject_id)
            and (not query.grantee_user_id or c["grantee_user_id"] == query.grantee_user_id)
            and (not query.status or c["status"] == query.status)
        ]
        return ConsentPage(items, len(items))

    async def consent(self, consent_id: str) -> dict[str, Any] | None:
        return self.consents.get(consent_id)

    async def counts(self, now: datetime) -> DashboardCounts:
        by_status = {s: 0 for s in ("granted", "rejected", "withdrawn", "expired")}
        for c in self.consents.values():
            by_status[c["status"]] += 1
        return DashboardCounts(by_status, 0, self.identity["verified"], self.identity["rejected"])


class FakeLibrary:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, Any]] = {}

    def put(self, state: dict[str, Any]) -> None:
        self.entries[state["entry_id"]] = state

    async def search(self, query: LibraryQuery) -> Page:
        items = [
            e
            for e in self.entries.values()
            if (not query.status or e["status"] == query.status)
            and (not query.kind or e["entry_kind"] == query.kind)
            and (not query.category or e["category"] == query.category)
            and (not query.action or e["action"] == query.action)
            and (not query.text or query.text.casefold() in e["search"])
        ]
        return Page(items, len(items))

    async def entry(self, entry_id: str) -> dict[str, Any] | None:
        return self.entries.get(entry_id)

    async def counts(self) -> LibraryCounts:
        by_status = {s: sum(e["status"] == s for e in self.entries.values()) for s in ENTRY_STATUSES}
        return LibraryCounts(by_status, max((e["library_version"] for e in self.entries.values()), default=0))


class FakeReviews:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.counted = ReviewCounts(0, None, 0, {}, 0, {})

    def put(self, state: dict[str, Any]) -> None:
        self.items[state["item_id"]] = state

    async def queue(self, query: ReviewQuery) -> Page:
        items = [
            i
            for i in self.items.values()
            if (not query.status or i["status"] == query.status)
            and (not query.stage or i["stage"] == query.stage)
        ]
        items.sort(key=lambda i: (i["queue_rank"], i["queued_ms"]))
        return Page(items, len(items))

    async def item(self, item_id: str) -> dict[str, Any] | None:
        return self.items.get(item_id)

    async def counts(self, now: datetime) -> ReviewCounts:
        pending = [i for i in self.items.values() if i["status"] == "pending"]
        return replace(self.counted, pending=len(pending))


class FakeDesk:
    def __init__(self) -> None:
        self.all_takes: list[Take] = []
        self.sent: dict[str, dict[str, Any]] = {}
        self.rival: Take | None = None  # taken by someone else at the very moment of the next take

    async def takes(self, item_id: str) -> list[Take]:
        return sorted((t for t in self.all_takes if t.item_id == item_id), key=lambda t: t.seq)

    async def holders(self, item_ids: list[str]) -> dict[str, Take]:
        found = {i: holder(await self.takes(i)) for i in item_ids}
        return {i: t for i, t in found.items() if t is not None}

    async def take(
        self, item_id: str, *, actor: Actor, expected_seq: int, client: str | None, now: datetime
    ) -> TakeResult:
        if self.rival is not None:
            self.all_takes.append(replace(self.rival, item_id=item_id, seq=expected_seq + 1))
            self.rival = None
        if any(t.item_id == item_id and t.seq == expected_seq + 1 for t in self.all_takes):
            return TakeResult(False, holder(await self.takes(item_id)))
        previous = holder(await self.takes(item_id))
        take = Take(
            item_id,
            expected_seq + 1,
            actor.username,
            actor.role,
            now.isoformat(),
            previous.username if previous else None,
        )
        self.all_takes.append(take)
        return TakeResult(True, take)

    async def decisions(self, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {i: self.sent[i] for i in item_ids if i in self.sent}


@dataclass
class FakeCommands:
    calls: list[dict[str, Any]] = field(default_factory=list)
    library_calls: list[dict[str, Any]] = field(default_factory=list)
    review_calls: list[dict[str, Any]] = field(default_factory=list)
    desk: FakeDesk | None = None

    async def withdraw(
        self,
        consent: Mapping[str, Any],
        *,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> WithdrawalResult:
        self.calls.append(
            {"consent_id": consent["consent_id"], "reason": reason, "actor": actor, "request_id": request_id}
        )
        return WithdrawalResult(command_id=str(uuid.uuid4()), duplicate=False, published=True)

    async def library_change(
        self,
        *,
        change: str,
        entry_id: str,
        entry: Mapping[str, Any] | None,
        current: Mapping[str, Any] | None,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        duplicate = any(c["request_id"] == request_id for c in self.library_calls)
        if not duplicate:
            self.library_calls.append(
                {"change": change, "entry_id": entry_id, "entry": entry, "reason": reason}
                | {"actor": actor, "request_id": request_id, "current": current}
            )
        return CommandResult(f"cmd-{request_id}", duplicate=duplicate, published=True)

    async def review_decision(
        self,
        item: Mapping[str, Any],
        *,
        decision: str,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        earlier = [c for c in self.review_calls if c["item_id"] == item["item_id"]]
        if earlier and earlier[0]["request_id"] == request_id:
            return CommandResult(f"cmd-{request_id}", duplicate=True, published=True)
        if earlier:
            existing = {"actor": earlier[0]["actor"].as_dict()}
            return CommandResult(f"cmd-{earlier[0]['request_id']}", False, True, False, existing)
        self.review_calls.append(
            {"item_id": item["item_id"], "decision": decision, "reason": reason}
            | {"actor": actor, "request_id": request_id}
        )
        if self.desk is not None:  # as the audit store would show it
            self.desk.sent[item["item_id"]] = {
                "actor": actor.as_dict(),
                "at": now.isoformat(),
                "at_ms": int(now.timestamp() * 1000),
                "details": {"decision": decision, "reason": reason, "command_id": f"cmd-{request_id}"},
                "sent": True,
            }
        return CommandResult(f"cmd-{request_id}", duplicate=False, published=True)


@dataclass
class Fakes:
    users: FakeUsers
    sessions: FakeSessions
    failures: FakeFailureLog
    audit: FakeAudit
    read_model: FakeReadModel
    commands: FakeCommands
    deps: ConsoleDeps
    clock: list[datetime]
    library: FakeLibrary
    reviews: FakeReviews
    desk: FakeDesk
    pending: FakePending
    rumours: Any  # rumour_fakes.FakeRumours (that module imports this one)
    rumour_commands: Any  # rumour_fakes.FakeRumourCommands
    complaints: FakeComplaintDesk


FIRST_RUN = (
    "DSGOV_MONGO_URI='mongodb://127.0.0.1:27017/?directConnection=true' "
    "/venv/bin/python -m services.console create-user --username NAME --role admin"
)


def make_fakes(
    *, secure_cookies: bool = True, allowed_hosts: tuple[str, ...] = ("testserver", "127.0.0.1")
) -> Fakes:
    users, sessions, failures = FakeUsers(), FakeSessions(), FakeFailureLog()
    audit, read_model, desk = FakeAudit(), FakeReadModel(), FakeDesk()
    commands = FakeCommands(desk=desk)
    library, reviews, pending = FakeLibrary(), FakeReviews(), FakePending()
    clock = [NOW]
    from tests.unit.console.rumour_fakes import FakeRumourCommands, FakeRumours  # it imports this module

    rumours, rumour_commands = FakeRumours(), FakeRumourCommands(audit)
    deps = ConsoleDeps(
        users=users,
        sessions=sessions,
        audit=audit,
        read_model=read_model,
        commands=commands,
        limiter=LoginRateLimiter(failures),
        passwords=cheap_passwords(),
        config=WebConfig(
            session_secret=SECRET,
            secure_cookies=secure_cookies,
            allowed_hosts=allowed_hosts,
            public_url="https://testserver/",
            first_run_command=FIRST_RUN,
        ),
        library=library,
        reviews=reviews,
        rumours=rumours,
        rumour_commands=rumour_commands,
        desk=desk,
        pending=pending,
        site=FakeSite(),
        incidents=FakeIncidentBoard(),
        clock=lambda: clock[0],
        complaints=(complaints := FakeComplaintDesk()),
    )
    return Fakes(
        users,
        sessions,
        failures,
        audit,
        read_model,
        commands,
        deps,
        clock,
        library,
        reviews,
        desk,
        pending,
        rumours,
        rumour_commands,
        complaints,
    )


def consent_event(
    type_: str,
    consent_id: str,
    *,
    subject_id: str = "subject-1",
    grantee_user_id: str = "grantee-1",
    time: datetime = NOW,
    event_id: str | None = None,
    **data: Any,
) -> dict[str, Any]:
    """A `dsgov.consent.*` CloudEvent as the consent service would publish it."""
    body: dict[str, Any] = {
        "consent_id": consent_id,
        "subject_id": subject_id,
        "grantee_user_id": grantee_user_id,
        "biometric_types": ["face"],
        "expires_at": (time + timedelta(days=30)).isoformat(),
        "reasons": [],
        "actor": "subject",
        "occurred_at": time.isoformat(),
        **data,
    }
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": "dsgov/biometric-consent",
        "type": type_,
        "time": time.isoformat(),
        "subject": consent_id,
        "datacontenttype": "application/json",
        "providerid": "provider-test",
        "correlationid": "corr-" + consent_id,
        "causationid": "cause-" + consent_id,
        "data": body,
    }


CONSUMES = DEFINITION.consumes  # topic -> event types, as the console's routes declare them


def aggregate_id(event: Inbound[Any]) -> str:
    """The read-model document an event folds into: the key of its declared route."""
    [route] = [
        r for r in DEFINITION.routes if (r.spec.topic, r.spec.type) == (event.record.topic, event.type)
    ]
    return route.key(event)


def stored(state: AggregateState) -> dict[str, Any]:
    """A read-model state as the pages get it back from the store (arrays as lists)."""
    return state.model_dump(mode="json")


def fold(
    state: dict[str, Any] | None, raw: dict[str, Any], received: datetime = NOW
) -> dict[str, Any] | None:
    """Fold one event into a consent state the way the projection handler does."""
    event = CloudEvent.model_validate(raw)
    data = ConsentEvent.model_validate(raw["data"])
    previous = ConsentView.model_validate(state) if state is not None else None
    new = fold_consent(previous, event=event, data=data, event_json=json.dumps(raw), received_at=received)
    return stored(new) if new is not None else None


def granted_consent(consent_id: str = "consent-1", **data: Any) -> dict[str, Any]:
    state = fold(None, consent_event("dsgov.consent.granted", consent_id, **data))
    assert state is not None
    return state


def envelope(type_: str, subject: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A CloudEvent from the review service, as a dict."""
    return {
        "specversion": "1.0",
        "id": extra.pop("event_id", None) or str(uuid.uuid4()),
        "source": "dsgov/generation-review",
        "type": type_,
        "time": extra.pop("time", NOW).isoformat(),
        "subject": subject,
        "datacontenttype": "application/json",
        "providerid": "provider-test",
        "correlationid": extra.pop("correlationid", "corr-" + subject),
        "causationid": extra.pop("causationid", "cause-" + subject),
        "data": data,
    }


def snapshot(entry_id: str, **fields: Any) -> dict[str, Any]:
    """A `LibraryEntrySnapshot` as the review service publishes it."""
    return {
        "entry_id": entry_id,
        "kind": "keyword",
        "pattern": "forbidden words",
        "category": "fraud",
        "action": "review",
        "max_distance": None,
        "status": "proposed",
        "demo": False,
        "proposed_by": "console:alice",
        "proposed_reason": "criterion 4.2: fraud bait",
        "approved_by": None,
        "approval_reason": None,
        "disabled_by": None,
        "disabled_reason": None,
        "created_version": 1,
        "updated_version": 1,
        **fields,
    }


def library_event(
    entry_id: str,
    *,
    version: int = 1,
    change: str = "propose",
    applied: bool = True,
    entry: dict[str, Any] | None = None,
    actor: str = "console:alice",
    reason: str = "criterion 4.2: fraud bait",
    time: datetime = NOW,
    **extra: Any,
) -> dict[str, Any]:
    """`dsgov.library.updated` as the review service publishes it."""
    data: dict[str, Any] = {
        "entry_id": entry_id,
        "library_version": version,
        "change": change,
        "applied": applied,
        "actor": actor,
        "actor_role": "operator",
        "reason": reason,
        "changed_at": time.isoformat(),
        **{k: v for k, v in extra.items() if k in ("refusal", "refusal_detail")},
    }
    if entry is not None:
        data["entry"] = entry
    envelope_extra = {k: v for k, v in extra.items() if k not in ("refusal", "refusal_detail")}
    return envelope("dsgov.library.updated", entry_id, data, time=time, **envelope_extra)


def fold_library(state: dict[str, Any] | None, raw: dict[str, Any]) -> dict[str, Any]:
    """Fold one new event into an entry's read model (the event must change it)."""
    event = CloudEvent.model_validate(raw)
    previous = LibraryEntryView.model_validate(state) if state is not None else None
    new = fold_library_entry(
        previous, event=event, data=LibraryUpdated.model_validate(raw["data"]), received_at=NOW
    )
    assert new is not None
    return stored(new)


def proposed_entry(entry_id: str = "kw-1", **fields: Any) -> dict[str, Any]:
    """An entry proposed by console:alice, as the read model holds it."""
    state = fold_library(None, library_event(entry_id, entry=snapshot(entry_id, **fields)))
    assert state is not None
    return state


HIT = {
    "entry_id": "demo-kw-review",
    "kind": "keyword",
    "category": "demo_negative",
    "action": "review",
    "where": "text",
    "why": "demo: stands for negative information a person must look at",
}


def queued_event(item_id: str = "item-1", request_id: str = "req-1", **data: Any) -> dict[str, Any]:
    """`dsgov.review.queued` as the review service publishes it."""
    body: dict[str, Any] = {
        "item_id": item_id,
        "request_id": request_id,
        "user_id": "user-1",
        "service_type": "text_writing",
        "stage": "input",
        "hits": [HIT],
        "text": "please write about demo-review-term",
        "text_truncated": False,
        "text_sha256": "ab" * 32,
        "media": [],
        "library_version": 7,
        "queued_at": NOW.isoformat(),
        **data,
    }
    return envelope("dsgov.review.queued", request_id, body)


def resolved_event(
    item_id: str = "item-1", request_id: str = "req-1", decision: str = "approve", **data: Any
) -> dict[str, Any]:
    """`dsgov.review.resolved` as the review service publishes it."""
    outcome = "dsgov.generation.approved" if decision == "approve" else "dsgov.generation.rejected"
    body: dict[str, Any] = {
        "item_id": item_id,
        "request_id": request_id,
        "user_id": "user-1",
        "stage": "input",
        "decision": decision,
        "outcome_type": outcome,
        "decision_id": "dec-" + item_id,
        "reviewer": {"username": "olga", "role": "operator"},
        "reason": "harmless in context",
        "resolved_at": NOW.isoformat(),
        **data,
    }
    return envelope("dsgov.review.resolved", request_id, body, causationid="cmd-x")


def fold_item(state: dict[str, Any] | None, raw: dict[str, Any]) -> dict[str, Any] | None:
    """Fold one event into an item's read model; None when it was already applied."""
    event = CloudEvent.model_validate(raw)
    model = ReviewQueued if raw["type"] == "dsgov.review.queued" else ReviewResolved
    data = model.model_validate(raw["data"])
    previous = ReviewItemView.model_validate(state) if state is not None else None
    new = fold_review_item(previous, event=event, data=data, received_at=NOW)
    return stored(new) if new is not None else None


def resolved_item(item_id: str = "item-1", **data: Any) -> dict[str, Any]:
    """An item queued, then resolved."""
    state = fold_item(
        pending_item(item_id, request_id=data.get("request_id", "req-1")), resolved_event(item_id, **data)
    )
    assert state is not None
    return state


def pending_item(item_id: str = "item-1", **data: Any) -> dict[str, Any]:
    state = fold_item(None, queued_event(item_id, **data))
    assert state is not None
    return state
