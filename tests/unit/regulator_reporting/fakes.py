"""In-memory ledger and incident source with the same unique-key behaviour as the MongoDB adapters."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from services.regulator_reporting.chain import GENESIS_HASH
from services.regulator_reporting.domain import complaints
from services.regulator_reporting.domain.incidents import NEVER, Incident
from services.regulator_reporting.domain.reports import Head
from services.regulator_reporting.ports import Ack, NewReport, Outgoing, StoredReport
from shared.storage.aggregates import Aggregate, encode_state
from shared.storage.memory import InMemoryAggregateStore


class MemoryLedger:
    """Unique (provider, sequence) and (provider, incident_key); ordered appends stop at a clash."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, int], dict[str, Any]] = {}
        self.marks: dict[str, int] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def head(self, provider: str) -> Head:
        mine = [d for (p, _), d in self.docs.items() if p == provider]
        if not mine:
            return Head(0, GENESIS_HASH)
        last = max(mine, key=lambda d: d["sequence"])
        return Head(last["sequence"], last["hash"])

    async def by_incident_keys(self, provider: str, keys: Sequence[str]) -> dict[str, StoredReport]:
        return {
            d["incident_key"]: self._stored(d)
            for (p, _), d in self.docs.items()
            if p == provider and d["incident_key"] in keys
        }

    async def append(self, reports: Sequence[NewReport], now_ms: int, resend_at_ms: int) -> int:
        for n, r in enumerate(reports):
            clash = (r.provider, r.sequence) in self.docs or any(
                p == r.provider and d["incident_key"] == r.incident_key for (p, _), d in self.docs.items()
            )
            if clash:
                return n
            self.docs[(r.provider, r.sequence)] = {
                **r.__dict__,
                "next_send_ms": resend_at_ms,
                "resend_count": 0,
                "ack_status": "pending",
            }
        return len(reports)

    async def providers(self) -> list[str]:
        return sorted({p for p, _ in self.docs})

    async def after(self, provider: str, sequence: int, limit: int) -> list[Outgoing]:
        mine = sorted((s, d) for (p, s), d in self.docs.items() if p == provider and s > sequence)
        return [self._outgoing(d) for _, d in mine[:limit]]

    async def published_upto(self, provider: str) -> int:
        return self.marks.get(provider, 0)

    async def set_published_upto(self, provider: str, sequence: int) -> None:
        self.marks[provider] = max(self.marks.get(provider, 0), sequence)

    async def due(self, now_ms: int, limit: int) -> list[Outgoing]:
        due = sorted(
            (d for d in self.docs.values() if d["next_send_ms"] <= now_ms),
            key=lambda d: (d["provider"], d["sequence"]),
        )
        return [self._outgoing(d) for d in due[:limit]]

    async def mark_resent(self, doc_ids: Sequence[str], now_ms: int, resend_at_ms: int) -> None:
        for d in self.docs.values():
            if f"{d['provider']}/{d['sequence']}" in doc_ids and d["ack_status"] == "pending":
                d.update(next_send_ms=resend_at_ms, resend_count=d["resend_count"] + 1)

    @staticmethod
    def _outgoing(d: dict[str, Any]) -> Outgoing:
        return Outgoing(
            f"{d['provider']}/{d['sequence']}",
            d["provider"],
            d["sequence"],
            d["report_id"],
            d["event_id"],
            d["correlation_id"],
            d["value"],
            d["resend_count"],
        )

    async def find(self, provider: str, sequence: int) -> StoredReport | None:
        d = self.docs.get((provider, sequence))
        return self._stored(d) if d else None

    async def record_ack(self, provider: str, sequence: int, ack: Ack) -> None:
        for (p, s), d in self.docs.items():
            if p == provider and s == sequence:
                d.update(ack_status=ack.status, ack_errors=list(ack.errors), next_send_ms=NEVER)

    async def listing(self, provider: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [
            d
            for (p, _), d in sorted(self.docs.items())
            if p == provider and status in (None, d["ack_status"])
        ][-limit:]

    @staticmethod
    def _stored(d: dict[str, Any]) -> StoredReport:
        return StoredReport(
            d["provider"],
            d["sequence"],
            d["report_id"],
            d["incident_key"],
            d["draft_digest"],
            d["ack_status"],
        )


class MemoryIncidents:
    """Aggregates with optimistic versions, like AggregateStore: states kept in their stored form."""

    def __init__(self) -> None:
        self.docs: dict[str, Aggregate] = {}
        self.race: dict[str, Incident] = {}  # an engine write that lands just before the next save

    def put(self, agg_id: str, state: Incident) -> None:
        version = self.docs[agg_id].version + 1 if agg_id in self.docs else 1
        self.docs[agg_id] = Aggregate(id=agg_id, version=version, state=encode_state(state))

    async def due(self, now_ms: int, limit: int) -> list[Aggregate]:
        stored = [(s, a) for a in self.docs.values() if (s := _incident(a)) is not None]
        due = sorted(((s.due_ms, a.id, a) for s, a in stored if s.due_ms <= now_ms), key=lambda t: t[:2])
        return [self._copy(a) for _, _, a in due[:limit]]

    async def save(self, aggregates: Sequence[Aggregate]) -> list[str]:
        lost = []
        for a in aggregates:
            if a.id in self.race:
                self.put(a.id, self.race.pop(a.id))
            if self.docs[a.id].version != a.version:
                lost.append(a.id)
                continue
            a.version += 1
            self.docs[a.id] = self._copy(a)
        return lost

    async def load(self, ids: Sequence[str]) -> dict[str, Aggregate]:
        return {i: self._copy(self.docs[i]) for i in ids}

    @staticmethod
    def _copy(a: Aggregate) -> Aggregate:
        return Aggregate(id=a.id, version=a.version, state=copy.deepcopy(encode_state(a.state)))


def _incident(a: Aggregate) -> Incident | None:
    return Incident.model_validate(a.state) if a.state else None


class StoreQueue:
    """The sequencer's and the timers' queries over the in-memory twin of the engine's store."""

    def __init__(self, store: InMemoryAggregateStore, since: dict[str, int] | None = None) -> None:
        self.store = store
        self.since = {} if since is None else since  # pass the same dict to survive a "restart"

    def _states(self) -> list[tuple[str, dict[str, Any]]]:
        return [(i, d["state"]) for i, d in self.store.docs.items() if d.get("state")]

    async def due(self, now_ms: int, limit: int) -> list[Aggregate]:
        due = sorted((s["due_ms"], i) for i, s in self._states() if s.get("due_ms", NEVER) <= now_ms)
        return [Aggregate.from_doc(copy.deepcopy(self.store.docs[i])) for _, i in due[:limit]]

    async def due_timers(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        due = sorted((s["timer_ms"], i) for i, s in self._states() if s.get("timer_ms", NEVER) <= now_ms)
        return [(i, t) for t, i in due[:limit]]

    async def statistics_since(self, provider: str, now_ms: int) -> int:
        return self.since.setdefault(provider, now_ms)

    async def complaint_counts(self, provider: str, period: complaints.Period) -> complaints.Statistics:
        tickets = [
            Incident.model_validate(s).acc.complaint
            for _, s in self._states()
            if s.get("provider") == provider and s.get("category") == "complaint_overdue"
        ]
        return complaints.count((t for t in tickets if t is not None), period)

    async def save(self, aggregates: Sequence[Aggregate]) -> list[str]:
        return await self.store.save_many(aggregates)

    async def load(self, ids: Sequence[str]) -> dict[str, Aggregate]:
        return await self.store.load_many(ids)
