"""In-memory stand-ins for the console's ports, and helpers to build consent states from real events."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher

from services.console.domain.passwords import Passwords
from services.console.domain.projection import fold_consent
from services.console.domain.ratelimit import LoginRateLimiter
from services.console.ports import (
    Actor,
    AuditEntry,
    ConsentPage,
    ConsentQuery,
    DashboardCounts,
    Session,
    User,
    WithdrawalResult,
)
from services.console.web.base import ConsoleDeps
from services.console.web.security import WebConfig
from shared.contracts.consent import ConsentEvent
from shared.contracts.envelope import CloudEvent

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

    async def withdrawals_for(self, consent_id: str) -> list[dict[str, Any]]:
        return [w for w in self.withdrawals if w["target"] == consent_id]


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


@dataclass
class FakeCommands:
    calls: list[dict[str, Any]] = field(default_factory=list)

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


def make_fakes(*, secure_cookies: bool = True) -> Fakes:
    users, sessions, failures = FakeUsers(), FakeSessions(), FakeFailureLog()
    audit, read_model, commands = FakeAudit(), FakeReadModel(), FakeCommands()
    clock = [NOW]
    deps = ConsoleDeps(
        users=users,
        sessions=sessions,
        audit=audit,
        read_model=read_model,
        commands=commands,
        limiter=LoginRateLimiter(failures),
        passwords=cheap_passwords(),
        config=WebConfig(session_secret=SECRET, secure_cookies=secure_cookies),
        clock=lambda: clock[0],
    )
    return Fakes(users, sessions, failures, audit, read_model, commands, deps, clock)


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


def fold(
    state: dict[str, Any] | None, raw: dict[str, Any], received: datetime = NOW
) -> dict[str, Any] | None:
    """Fold one event into a consent state the way the projection handler does."""
    event = CloudEvent.model_validate(raw)
    data = ConsentEvent.model_validate(raw["data"])
    return fold_consent(state, event=event, data=data, event_json=json.dumps(raw), received_at=received)


def granted_consent(consent_id: str = "consent-1", **data: Any) -> dict[str, Any]:
    state = fold(None, consent_event("dsgov.consent.granted", consent_id, **data))
    assert state is not None
    return state
