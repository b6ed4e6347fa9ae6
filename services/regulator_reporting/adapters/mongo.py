"""The report ledger, the key store and the queue of due incidents on MongoDB.

The ledger's guarantees rest on two unique indexes, not on transactions (ARCHITECTURE rule 3):
`_id = "<provider>/<sequence:012d>"` (never two reports with one sequence number) and
`(provider, incident_key)` (never two reports for one incident part). Reports are inserted in
sequence order with an ordered insert, which stops at the first clash, so what is stored is
always a gap-free prefix. The report body (`value`) is never changed after the insert; only the
send and acknowledgement fields are, with `$set` on scalars and lists of strings, which the
embedded store keeps exactly (checked against nx-27017).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.regulator_reporting.chain import GENESIS_HASH, PublicKey
from services.regulator_reporting.domain.complaints import KindCounts, Period, Statistics, statistics
from services.regulator_reporting.domain.incidents import NEVER
from services.regulator_reporting.domain.reports import Head
from services.regulator_reporting.ports import Ack, KeyConflict, NewReport, Outgoing, StoredReport
from shared.storage.aggregates import DUPLICATE_KEY, Aggregate, AggregateStore

REPORTS = "reports"
KEYS = "signing_keys"
MARKS = "published_marks"

_BY_SEQUENCE = [("provider", ASCENDING), ("sequence", ASCENDING)]
_LISTED = {
    "_id": 0,
    "sequence": 1,
    "report_id": 1,
    "category": 1,
    "incident_key": 1,
    "key_id": 1,
    "created_ms": 1,
    "resend_count": 1,
    "last_resent_ms": 1,
    "ack_status": 1,
    "ack_errors": 1,
    "acked_ms": 1,
}


STATISTICS_SINCE = "statistics_since"  # per provider: when complaint statistics were first counted


def report_doc_id(provider: str, sequence: int) -> str:
    """The `_id` of a report: unique per provider and sequence number."""
    return f"{provider}/{sequence:012d}"


def _stored(doc: dict[str, Any]) -> StoredReport:
    return StoredReport(
        provider=doc["provider"],
        sequence=int(doc["sequence"]),
        report_id=doc["report_id"],
        incident_key=doc["incident_key"],
        draft_digest=doc.get("draft_digest", ""),
        ack_status=doc.get("ack_status", "pending"),
    )


class MongoReportLedger:
    """`ReportLedger` on the `reports` collection."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        """Use the service's own database."""
        self.collection: AsyncCollection[dict[str, Any]] = db[REPORTS]
        self.marks: AsyncCollection[dict[str, Any]] = db[MARKS]

    async def ensure_indexes(self) -> None:
        """Unique (provider, incident_key) and (provider, sequence); due time for re-sends.

        Queries sort exactly by an index's fields: the embedded store uses an index for a sort
        only then (and is slow on `_id` ranges), checked against nx-27017.
        """
        c = self.collection
        await c.create_index([("provider", ASCENDING), ("incident_key", ASCENDING)], unique=True)
        await c.create_index([("provider", ASCENDING), ("sequence", ASCENDING)], unique=True)
        await c.create_index([("next_send_ms", ASCENDING)])

    async def head(self, provider: str) -> Head:
        """The provider's last report."""
        cursor = self.collection.find({"provider": provider}, {"sequence": 1, "hash": 1})
        docs = await cursor.sort([("provider", DESCENDING), ("sequence", DESCENDING)]).limit(1).to_list(None)
        return Head(int(docs[0]["sequence"]), docs[0]["hash"]) if docs else Head(0, GENESIS_HASH)

    async def by_incident_keys(self, provider: str, keys: Sequence[str]) -> dict[str, StoredReport]:
        """Reports already numbered for these keys (after a crash between insert and marking)."""
        if not keys:
            return {}
        query = {"provider": provider, "incident_key": {"$in": list(keys)}}
        return {d["incident_key"]: _stored(d) async for d in self.collection.find(query)}

    async def append(self, reports: Sequence[NewReport], now_ms: int, resend_at_ms: int) -> int:
        """Ordered insert: the commit point of each report. Stops at the first duplicate key."""
        if not reports:
            return 0
        docs = [_new_doc(r, now_ms, resend_at_ms) for r in reports]
        try:
            await self.collection.insert_many(docs, ordered=True)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return int(exc.details.get("nInserted", 0))
        return len(docs)

    async def providers(self) -> list[str]:
        """Every provider with reports (read once at start)."""
        return sorted(await self.collection.distinct("provider"))

    async def after(self, provider: str, sequence: int, limit: int) -> list[Outgoing]:
        """The reports after `sequence`, in order, from the (provider, sequence) index.

        Not an `_id` range: the embedded store answers those slowly (190 ms vs 9 ms for 500 of 20,000).
        """
        query = {"provider": provider, "sequence": {"$gt": sequence}}
        docs = await self.collection.find(query).sort(_BY_SEQUENCE).limit(limit).to_list(None)
        return [_outgoing(d) for d in docs]

    async def published_upto(self, provider: str) -> int:
        """The published mark (0 when nothing was published)."""
        doc = await self.marks.find_one({"_id": provider})
        return int(doc["sequence"]) if doc else 0

    async def set_published_upto(self, provider: str, sequence: int) -> None:
        """One small write per published batch; `$max` keeps it from going back (two publishers)."""
        await self.marks.update_one({"_id": provider}, {"$max": {"sequence": sequence}}, upsert=True)

    async def due(self, now_ms: int, limit: int) -> list[Outgoing]:
        """Reports due for a re-send (longest overdue first), returned lowest sequence first.

        Sorted by the indexed due time in the store, by sequence here: the embedded store scans
        the collection for a sort its filter's index does not serve (28 ms vs 1 ms at 20,000).
        """
        cursor = self.collection.find({"next_send_ms": {"$lte": now_ms}})
        docs = await cursor.sort("next_send_ms", ASCENDING).limit(limit).to_list(None)
        return [_outgoing(d) for d in sorted(docs, key=lambda d: (d["provider"], d["sequence"]))]

    async def mark_resent(self, doc_ids: Sequence[str], now_ms: int, resend_at_ms: int) -> None:
        """Only still-unanswered reports get a new resend time: an acknowledgement is never undone."""
        await self.collection.update_many(
            {"_id": {"$in": list(doc_ids)}, "ack_status": "pending"},
            {"$set": {"next_send_ms": resend_at_ms, "last_resent_ms": now_ms}, "$inc": {"resend_count": 1}},
        )

    async def find(self, provider: str, sequence: int) -> StoredReport | None:
        """One report by its sequence number (the `_id`)."""
        doc = await self.collection.find_one({"_id": report_doc_id(provider, sequence)})
        return _stored(doc) if doc else None

    async def record_ack(self, provider: str, sequence: int, ack: Ack) -> None:
        """Keep the answer and stop re-sending (a rejected report stays, visible, with its errors)."""
        await self.collection.update_one(
            {"_id": report_doc_id(provider, sequence)},
            {
                "$set": {
                    "ack_status": ack.status,
                    "ack_errors": list(ack.errors),
                    "acked_ms": ack.at_ms,
                    "ack_event_id": ack.event_id,
                    "next_send_ms": NEVER,
                }
            },
        )

    async def listing(self, provider: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` reports (optionally of one ack status), in sequence order."""
        query: dict[str, Any] = {"provider": provider}
        if status:
            query["ack_status"] = status
        cursor = self.collection.find(query, _LISTED).sort(
            [("provider", DESCENDING), ("sequence", DESCENDING)]
        )
        cursor = cursor.limit(limit)
        return list(reversed(await cursor.to_list(None)))


def _outgoing(d: dict[str, Any]) -> Outgoing:
    return Outgoing(
        doc_id=d["_id"],
        provider=d["provider"],
        sequence=int(d["sequence"]),
        report_id=d["report_id"],
        event_id=d["event_id"],
        correlation_id=d["correlation_id"],
        value=d["value"],
        resend_count=int(d.get("resend_count", 0)),
    )


def _new_doc(r: NewReport, now_ms: int, resend_at_ms: int) -> dict[str, Any]:
    return {
        "_id": report_doc_id(r.provider, r.sequence),
        "provider": r.provider,
        "sequence": r.sequence,
        "report_id": r.report_id,
        "incident_key": r.incident_key,
        "hash": r.hash,
        "prev_hash": r.prev_hash,
        "key_id": r.key_id,
        "category": r.category,
        "draft_digest": r.draft_digest,
        "event_id": r.event_id,
        "correlation_id": r.correlation_id,
        "value": r.value,
        "created_ms": now_ms,
        "next_send_ms": resend_at_ms,  # the first send follows the published mark, this is the re-send
        "resend_count": 0,
        "last_resent_ms": None,
        "ack_status": "pending",
        "ack_errors": [],
        "acked_ms": None,
        "ack_event_id": None,
    }


class MongoKeyStore:
    """`KeyStore` on the `signing_keys` collection (`_id` = key id)."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        """Use the service's own database."""
        self.collection: AsyncCollection[dict[str, Any]] = db[KEYS]

    async def register(self, key: PublicKey) -> None:
        """Insert once; a key id already bound to another public key is refused."""
        first_used = key.first_used_at or datetime.now(UTC).isoformat(timespec="seconds")
        doc = {"_id": key.key_id, "public_key": key.public_key, "first_used_at": first_used}
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.collection.find_one({"_id": key.key_id})
            if existing is None or existing["public_key"] != key.public_key:
                raise KeyConflict(
                    f"key id {key.key_id!r} is already registered with another public key; "
                    "choose a new DSGOV_REPORTING_KEY_ID when rotating the signing key"
                ) from None

    async def all(self) -> list[PublicKey]:
        """Every key ever used, oldest first."""
        docs = await self.collection.find({}).sort("first_used_at", ASCENDING).to_list(None)
        return [PublicKey(d["_id"], d["public_key"], first_used_at=d.get("first_used_at")) for d in docs]


class IncidentQueue:
    """Due incidents, read from the engine's aggregate collection (index `state.due_ms`)."""

    def __init__(self, store: AggregateStore) -> None:
        """Read and write through the engine's store, with its optimistic versions."""
        self.store = store

    async def due(self, now_ms: int, limit: int) -> list[Aggregate]:
        """Incidents due by `now_ms`, earliest first (arrival order for immediate ones)."""
        cursor = self.store.collection.find({"state.due_ms": {"$lte": now_ms}})
        docs = await cursor.sort("state.due_ms", ASCENDING).limit(limit).to_list(None)
        return [Aggregate.from_doc(d) for d in docs]

    async def due_timers(self, now_ms: int, limit: int) -> list[tuple[str, int]]:
        """Cybersecurity incidents whose timer is due (index `state.timer_ms`), earliest first."""
        # No dotted projection: the embedded store drops the nested document for `{"state.timer_ms": 1}`.
        cursor = self.store.collection.find({"state.timer_ms": {"$lte": now_ms}}, {"state": 1})
        docs = await cursor.sort("state.timer_ms", ASCENDING).limit(limit).to_list(None)
        return [(d["_id"], int(d["state"]["timer_ms"])) for d in docs]

    async def complaint_counts(self, provider: str, period: Period) -> Statistics:
        """One `$group` by kind per figure over the provider's tickets (indexed by each time field)."""
        ticket = "state.acc.complaint"
        base: dict[str, Any] = {"state.provider": provider, "state.category": "complaint_overdue"}
        window = {"$gte": period.start_ms, "$lt": period.end_ms}
        filters: dict[str, dict[str, Any]] = {
            "received": {f"{ticket}.received_ms": window},
            "resolved_in_time": {f"{ticket}.resolved_ms": window, f"{ticket}.in_time": True},
            "resolved_late": {f"{ticket}.resolved_ms": window, f"{ticket}.in_time": False},
            "overdue": {f"{ticket}.overdue_ms": window},
        }
        figures: dict[str, dict[str, int]] = {}
        for name, flt in filters.items():
            pipeline = [{"$match": {**base, **flt}}, {"$group": {"_id": f"${ticket}.kind", "n": {"$sum": 1}}}]
            async for d in await self.store.collection.aggregate(pipeline):
                figures.setdefault(str(d["_id"]), {})[name] = int(d["n"])
        return statistics(period, (KindCounts(kind=k, **f) for k, f in figures.items()))

    async def statistics_since(self, provider: str, now_ms: int) -> int:
        """The first start's time, kept in `statistics_since` (the first writer wins, later ones read)."""
        since = self.store.collection.database[STATISTICS_SINCE]
        with contextlib.suppress(DuplicateKeyError):
            await since.insert_one({"_id": provider, "since_ms": now_ms})
        doc = await since.find_one({"_id": provider})
        if doc is None:  # just inserted or found: a missing one means the store lost a write
            raise RuntimeError(f"statistics_since of {provider} was not stored")
        return int(doc["since_ms"])

    async def save(self, aggregates: Sequence[Aggregate]) -> list[str]:
        """Whole-document writes guarded by version; return the ids that lost a race."""
        return await self.store.save_many(aggregates)

    async def load(self, ids: Sequence[str]) -> dict[str, Aggregate]:
        """Fresh copies after a lost race."""
        return await self.store.load_many(ids)
