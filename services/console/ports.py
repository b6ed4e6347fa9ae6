"""What the console's web layer needs from the outside world, and the records it passes around."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from services.console.domain.claims import Take
from services.console.domain.roles import Role
from services.console.domain.rumour_commands import CaseForm


@dataclass(frozen=True)
class User:
    """A console user; the password is kept only as an Argon2id hash."""

    username: str
    role: Role
    password_hash: str
    active: bool = True
    created_ms: int = 0
    created_by: str = ""
    version: int = 0  # 0: not stored yet
    # Who last did what to the account (usernames; `cli:<os user>` from the command line). Separation
    # of duties (domain/duties.py) refuses a second-person action between an account and these.
    role_by: str = ""  # gave it its current role
    enabled_by: str = ""  # last re-enabled it
    password_set_by: str = ""  # set its current password (the user, after changing it)
    confirmed_by: str = ""  # the second admin who confirmed its creation or its role


@dataclass(frozen=True)
class Session:
    """A server-side session; `username` is None before login (it still carries a CSRF token)."""

    id_digest: str  # HMAC of the cookie value: the store never holds a usable session id
    csrf_token: str
    expires_ms: int
    username: str | None = None
    created_ms: int = 0


@dataclass(frozen=True)
class Actor:
    """Who did something (a console user, or the command line)."""

    username: str
    role: str

    def as_dict(self) -> dict[str, str]:
        """Stored and exported form."""
        return {"username": self.username, "role": self.role}


@dataclass(frozen=True)
class AuditEntry:
    """One audited action."""

    action: str
    actor: Actor | None
    at: datetime
    client: str | None = None
    target: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit page; empty fields do not filter. Times are inclusive, in ms."""

    actor: str = ""
    action: str = ""
    since_ms: int | None = None
    until_ms: int | None = None


@dataclass(frozen=True)
class PendingAction:
    """An action that waits for a second person (separation of duties).

    `key` names what it is about (`user:<username>`, `library_disable:<entry id>`): at most one
    request per key is open. `details` hold what the confirmation needs.
    """

    key: str
    kind: Literal["user_grant", "library_disable"]
    target: str
    requested_by: str
    requested_role: str
    requested_ms: int
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConsentQuery:
    """Search criteria of the consent list; empty fields do not filter."""

    subject_id: str = ""
    grantee_user_id: str = ""
    status: str = ""
    expiring_within_days: int | None = None
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class ConsentPage:
    """One page of search results."""

    items: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class DashboardCounts:
    """The dashboard's numbers."""

    consents_by_status: dict[str, int]
    expiring_7_days: int
    identity_verified: int
    identity_rejected: int


@dataclass(frozen=True)
class CommandResult:
    """What happened to a command submitted from a form."""

    command_id: str
    duplicate: bool  # the same form was submitted before: no second command
    published: bool  # False: stored and left to the outbox relay (the broker did not confirm in time)
    accepted: bool = True  # False: another command already did this (`existing` is its audit record)
    existing: Mapping[str, Any] | None = None


WithdrawalResult = CommandResult  # the name the withdrawal path was written with


@dataclass(frozen=True)
class LibraryQuery:
    """Search criteria of the feature library; empty fields do not filter."""

    text: str = ""  # in the id, the pattern, the category and the reasons (case-insensitive)
    kind: str = ""
    category: str = ""
    status: str = ""
    action: str = ""
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class ReviewQuery:
    """Criteria of the review queue: `status` pending (default), resolved, or empty for all."""

    status: str = "pending"
    stage: str = ""
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class RumourQuery:
    """Criteria of the rumour cases list (DS-11): `status` open, closed, or empty for all."""

    status: str = ""
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class Page:
    """One page of read-model documents."""

    items: list[dict[str, Any]]
    total: int


@dataclass(frozen=True)
class LibraryCounts:
    """The feature library on the dashboard."""

    by_status: dict[str, int]
    version: int


@dataclass(frozen=True)
class ReviewCounts:
    """The review queue and the review decisions on the dashboard."""

    pending: int
    oldest_pending_at: str | None
    resolved_7_days: int
    decisions_7_days: dict[str, int]  # by `stats_key` of the decision type
    human_7_days: int
    sanctions_7_days: dict[str, int]


@dataclass(frozen=True)
class TakeResult:
    """What happened when a reviewer took an item."""

    taken: bool
    holder: Take | None  # the holder afterwards (the rival, when the take lost a race)


class Users(Protocol):
    """Console users."""

    async def get(self, username: str) -> User | None:
        """One user by (normalised) username."""
        ...

    async def add(self, user: User) -> bool:
        """Store a new user; False when the username is taken."""
        ...

    async def replace(self, user: User) -> bool:
        """Store a changed user; False when it changed meanwhile (version mismatch)."""
        ...

    async def all(self) -> list[User]:
        """Every user, by username."""
        ...

    async def count(self) -> int:
        """How many users exist."""
        ...


class PendingActions(Protocol):
    """Requests waiting for a second person; one open request per key."""

    async def open(self, action: PendingAction) -> bool:
        """Store a request; False when one is already open for its key."""
        ...

    async def get(self, key: str) -> PendingAction | None:
        """The open request for `key`."""
        ...

    async def all(self) -> list[PendingAction]:
        """Every open request, oldest first."""
        ...

    async def close(self, action: PendingAction) -> bool:
        """Remove the request; True for exactly one caller (who may then act on it)."""
        ...


class Site(Protocol):
    """Facts about the running console that other tools read from its store."""

    async def record_url(self, url: str) -> None:
        """Remember where people reach the console (the CLI prints it after `create-user`)."""
        ...


class Sessions(Protocol):
    """Server-side sessions."""

    async def add(self, session: Session) -> None:
        """Store a new session."""
        ...

    async def get(self, id_digest: str, now_ms: int) -> Session | None:
        """A session that has not expired."""
        ...

    async def delete(self, id_digest: str) -> None:
        """End a session."""
        ...

    async def delete_for_user(self, username: str) -> None:
        """End every session of a user (disabled, role or password changed)."""
        ...


class AuditLog(Protocol):
    """The audit trail of every action, with its actor."""

    async def record(self, entry: AuditEntry) -> None:
        """Append one entry."""
        ...

    async def recent(self, limit: int, skip: int = 0) -> list[dict[str, Any]]:
        """The newest entries first."""
        ...

    async def search(self, query: AuditQuery, limit: int, skip: int = 0) -> list[dict[str, Any]]:
        """Entries matching `query`, newest first."""
        ...

    async def withdrawals_for(self, consent_id: str) -> list[dict[str, Any]]:
        """Withdrawal commands sent for one consent, newest first, with whether they went out."""
        ...

    async def submitted(self, action: str, target: str) -> list[dict[str, Any]]:
        """Commands of one kind (audit action) sent about one target, newest first, with `sent`."""
        ...


class ReadModel(Protocol):
    """The projections built from `dsgov.consent` and `dsgov.identity`."""

    async def search(self, query: ConsentQuery, now: datetime) -> ConsentPage:
        """Consents matching `query`, most recently changed first."""
        ...

    async def consent(self, consent_id: str) -> dict[str, Any] | None:
        """One consent's state."""
        ...

    async def counts(self, now: datetime) -> DashboardCounts:
        """The dashboard's numbers."""
        ...


class LibraryView(Protocol):
    """The feature library as built from `dsgov.library.updated` (DS-10.2)."""

    async def search(self, query: LibraryQuery) -> Page:
        """Entries matching `query`, most recently changed first (without their history)."""
        ...

    async def entry(self, entry_id: str) -> dict[str, Any] | None:
        """One entry with its history."""
        ...

    async def counts(self) -> LibraryCounts:
        """Entries by status and the library version."""
        ...


class ReviewView(Protocol):
    """The human review queue (DS-10.1) and the decision counters, as built from `dsgov.review`."""

    async def queue(self, query: ReviewQuery) -> Page:
        """Items matching `query`: pending first, oldest first (resolved alone: newest first)."""
        ...

    async def item(self, item_id: str) -> dict[str, Any] | None:
        """One item."""
        ...

    async def counts(self, now: datetime) -> ReviewCounts:
        """The dashboard's numbers."""
        ...


class ReviewDesk(Protocol):
    """The console's own bookkeeping of the review queue: who holds which item, what was sent."""

    async def takes(self, item_id: str) -> list[Take]:
        """Every take of the item, oldest first."""
        ...

    async def holders(self, item_ids: list[str]) -> dict[str, Take]:
        """The current holder of each of the items that has one."""
        ...

    async def take(
        self, item_id: str, *, actor: Actor, expected_seq: int, client: str | None, now: datetime
    ) -> TakeResult:
        """Record a take as the next one after `expected_seq`; refused if someone else took it first."""
        ...

    async def decisions(self, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The decision sent from the console for each of the items that has one."""
        ...


class RumourView(Protocol):
    """Rumour cases (DS-11) as built from `dsgov.rumour.recorded` and `dsgov.rumour.case-closed`."""

    async def cases(self, query: RumourQuery) -> Page:
        """Cases matching `query`: open first, then the latest change first (without their history)."""
        ...

    async def case(self, notice_id: str) -> dict[str, Any] | None:
        """One case with its history."""
        ...


class RumourCommands(Protocol):
    """Opening and closing rumour cases, sent as commands on `dsgov.console.commands` (DS-11)."""

    async def open_case(
        self,
        form: CaseForm,
        *,
        notice_id: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """Record and send `dsgov.rumour.case-submitted`; the same form again sends nothing."""
        ...

    async def close_case(
        self,
        case: Mapping[str, Any],
        *,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """Record and send `dsgov.rumour.case-close-submitted`; at most one close per case."""
        ...


class Commands(Protocol):
    """Actions sent to the services as commands on `dsgov.console.commands`."""

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
        """Record and send a withdrawal on the subject's behalf (DS-14.2, PI-15)."""
        ...

    async def library_change(
        self,
        *,
        change: Literal["propose", "approve", "disable"],
        entry_id: str,
        entry: Mapping[str, Any] | None,
        current: Mapping[str, Any] | None,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """Record and send a feature-library change (DS-10.2)."""
        ...

    async def review_decision(
        self,
        item: Mapping[str, Any],
        *,
        decision: Literal["approve", "reject"],
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """Record and send a reviewer's decision (DS-10.1); at most one per item."""
        ...
