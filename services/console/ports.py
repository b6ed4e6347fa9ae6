"""What the console's web layer needs from the outside world, and the records it passes around."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from services.console.domain.roles import Role


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
class WithdrawalResult:
    """What happened to a withdrawal request."""

    command_id: str
    duplicate: bool  # the same form was submitted before: no second command
    published: bool  # False: stored and left to the outbox relay (the broker did not confirm in time)


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

    async def withdrawals_for(self, consent_id: str) -> list[dict[str, Any]]:
        """Withdrawal commands sent for one consent, newest first, with whether they went out."""
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
