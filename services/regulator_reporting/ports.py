"""What regulator reporting needs from the outside world: the report ledger and the key store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from services.regulator_reporting.chain import PublicKey
from services.regulator_reporting.domain.complaints import Period, Statistics
from services.regulator_reporting.domain.reports import Head
from shared.storage.aggregates import Aggregate


class KeyConflict(Exception):
    """A key id is already registered with a different public key: verification would break."""


@dataclass(frozen=True)
class StoredReport:
    """A numbered report as the ledger knows it."""

    provider: str
    sequence: int
    report_id: str
    incident_key: str
    draft_digest: str
    ack_status: str = "pending"


@dataclass(frozen=True)
class NewReport:
    """A signed report to append: the exact bytes that will be published (and re-sent)."""

    provider: str
    sequence: int
    report_id: str
    incident_key: str
    hash: str
    prev_hash: str
    key_id: str
    category: str
    draft_digest: str  # of the incident draft this report was made from (crash repair needs it)
    event_id: str
    correlation_id: str
    value: str  # the CloudEvent JSON text, stored as a string so it is re-sent byte for byte


@dataclass(frozen=True)
class Outgoing:
    """A report due to be (re-)published."""

    doc_id: str
    provider: str
    sequence: int
    report_id: str
    event_id: str
    correlation_id: str
    value: str
    resend_count: int


@dataclass(frozen=True)
class Ack:
    """The regulator's effective answer on one report."""

    status: str  # accepted | rejected
    errors: tuple[str, ...]
    at_ms: int
    event_id: str


class ReportLedger(Protocol):
    """The append-only ledger of numbered reports, with their send and acknowledgement state."""

    async def ensure_indexes(self) -> None:
        """Create the unique indexes that make a gap or a duplicate impossible."""
        ...

    async def head(self, provider: str) -> Head:
        """The provider's last report (sequence 0 and 64 zeros when there is none)."""
        ...

    async def by_incident_keys(self, provider: str, keys: Sequence[str]) -> dict[str, StoredReport]:
        """The reports already numbered for some incident keys."""
        ...

    async def append(self, reports: Sequence[NewReport], now_ms: int, resend_at_ms: int) -> int:
        """Insert in order, stopping at the first clash; return how many were inserted.

        Each report is re-sent at `resend_at_ms` unless acknowledged by then.
        """
        ...

    async def providers(self) -> list[str]:
        """Every provider with reports."""
        ...

    async def after(self, provider: str, sequence: int, limit: int) -> list[Outgoing]:
        """The provider's reports after `sequence`, in order (the ones not yet published)."""
        ...

    async def published_upto(self, provider: str) -> int:
        """Every report up to this sequence number was published at least once."""
        ...

    async def set_published_upto(self, provider: str, sequence: int) -> None:
        """Advance the published mark (never backwards)."""
        ...

    async def due(self, now_ms: int, limit: int) -> list[Outgoing]:
        """Reports unacknowledged past their resend time, in sequence order."""
        ...

    async def mark_resent(self, doc_ids: Sequence[str], now_ms: int, resend_at_ms: int) -> None:
        """Record a re-send; still unacknowledged reports become due again at `resend_at_ms`."""
        ...

    async def find(self, provider: str, sequence: int) -> StoredReport | None:
        """One report by its sequence number."""
        ...

    async def record_ack(self, provider: str, sequence: int, ack: Ack) -> None:
        """Keep the regulator's answer; an answered report is not re-sent."""
        ...

    async def listing(self, provider: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Reports for people (newest last), optionally only those with one acknowledgement status."""
        ...


class KeyStore(Protocol):
    """Every public key reports were ever signed with, kept so old reports stay verifiable."""

    async def register(self, key: PublicKey) -> None:
        """Remember a key; KeyConflict when its id is taken by another key."""
        ...

    async def all(self) -> list[PublicKey]:
        """Every registered key, oldest first."""
        ...


class TimerSource(Protocol):
    """Cybersecurity incidents whose reminder or summary timer is due (kept in the store)."""

    async def due_timers(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        """(aggregate id, timer time) of the timers due by `now_ms`, earliest first."""
        ...


class TicketCounts(Protocol):
    """Complaint handling figures of one provider and period, counted over the stored tickets."""

    async def complaint_counts(self, provider: str, period: Period) -> Statistics:
        """Received, resolved in time, resolved late and overdue in `period`, by kind."""
        ...

    async def statistics_since(self, provider: str, now_ms: int) -> int:
        """When statistics of `provider` were first counted: stored at the first call (`now_ms`)."""
        ...


class IncidentSource(Protocol):
    """The incidents the engine stores, as the sequencer reads and marks them."""

    async def due(self, now_ms: int, limit: int) -> list[Aggregate]:
        """Incidents due by `now_ms`, earliest first."""
        ...

    async def save(self, aggregates: Sequence[Aggregate]) -> list[str]:
        """Version-guarded whole-document writes; return the ids that lost a race."""
        ...

    async def load(self, ids: Sequence[str]) -> dict[str, Aggregate]:
        """Fresh copies."""
        ...
