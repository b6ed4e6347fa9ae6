"""The log in MongoDB: `runs` (append-only), `checkpoints` (signed tree heads), `exports`.

Entries are stored in runs: the records of one consumed batch from one topic partition, in offset
order, as one compact document (see `handlers.run_doc`). The embedded store costs about 0.2 ms a
document and takes a few MB of documents a second, so one document per entry would cap ingestion
near 5,000/s; compact runs of hundreds of entries do not. Runs are
only ever inserted and, past retention, deleted by whole segments; nothing updates them. `pos`
(`<segment, 10 digits>/<run id>`) orders the log and serves the segment scans.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


def segment_prefix(segment: int) -> str:
    """The `pos` prefix of a segment."""
    return f"{segment:010d}/"


class MongoLogStore:
    """Implements `LogStore`."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        """Collections of `db`; call `ensure_indexes` once before use."""
        self.runs_coll = db["runs"]
        self.checkpoints_coll = db["checkpoints"]
        self.exports_coll = db["exports"]

    async def ensure_indexes(self) -> None:
        """`pos` orders the log; (topic, partition, last) finds the runs a redelivery overlaps."""
        await self.runs_coll.create_index([("pos", ASCENDING)], unique=True)
        await self.runs_coll.create_index(
            [("topic", ASCENDING), ("partition", ASCENDING), ("last", ASCENDING)]
        )

    async def append_runs(self, runs: Sequence[dict[str, Any]]) -> int:
        """Insert runs, unordered; a run already stored (same id) is skipped. Returns entries added."""
        if not runs:
            return 0
        try:
            await self.runs_coll.insert_many(list(runs), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            skipped = {e.get("index") for e in errors}
            return sum(int(r["n"]) for i, r in enumerate(runs) if i not in skipped)
        return sum(int(r["n"]) for r in runs)

    async def stored_pairs(self, topic: str, partition: int, first: int, last: int) -> set[tuple[int, str]]:
        """(offset, event id) of every stored entry of this partition with an offset in [first, last]."""
        query = {"topic": topic, "partition": partition, "last": {"$gte": first}, "first": {"$lte": last}}
        cursor = self.runs_coll.find(query, {"o": 1, "ev": 1})
        return {(int(o), str(ev)) async for run in cursor for o, ev in zip(run["o"], run["ev"], strict=True)}

    async def next_segment_after(self, segment: int) -> int | None:
        """Lowest segment above `segment` that has entries."""
        doc = await self.runs_coll.find_one(
            {"pos": {"$gte": segment_prefix(segment + 1)}}, {"seg": 1}, sort=[("pos", ASCENDING)]
        )
        return int(doc["seg"]) if doc else None

    async def segment_leaves(self, segment: int) -> list[bytes]:
        """Leaf hashes of one segment, in log order (runs by `pos`, entries in run order)."""
        query = {"pos": {"$gte": segment_prefix(segment), "$lt": segment_prefix(segment + 1)}}
        cursor = self.runs_coll.find(query, {"leaves": 1}, sort=[("pos", ASCENDING)])
        raw = b"".join([bytes.fromhex(run["leaves"]) async for run in cursor])
        return [raw[i : i + 32] for i in range(0, len(raw), 32)]

    async def runs(self, first_segment: int, last_segment: int) -> AsyncIterator[dict[str, Any]]:
        """The runs of segments [first, last] in log order, streamed."""
        query = {"pos": {"$gte": segment_prefix(first_segment), "$lt": segment_prefix(last_segment + 1)}}
        async for run in self.runs_coll.find(query, sort=[("pos", ASCENDING)], batch_size=4):
            yield run

    async def entry_count(self, first_segment: int, last_segment: int) -> int:
        """How many entries segments [first, last] hold."""
        query = {"pos": {"$gte": segment_prefix(first_segment), "$lt": segment_prefix(last_segment + 1)}}
        return await self._entries_in(query)

    async def _entries_in(self, query: dict[str, Any]) -> int:
        pipeline: list[dict[str, Any]] = [{"$match": query}, {"$group": {"_id": None, "n": {"$sum": "$n"}}}]
        rows = [r async for r in await self.runs_coll.aggregate(pipeline)]
        return int(rows[0]["n"]) if rows else 0

    async def checkpoints(self) -> list[dict[str, Any]]:
        """Every checkpoint, by size (sorted here: nx-27017 does not order integer `_id`s numerically)."""
        docs = [d async for d in self.checkpoints_coll.find({})]
        return sorted(docs, key=lambda d: int(d["_id"]))

    async def add_checkpoint(self, doc: dict[str, Any]) -> bool:
        """Insert; False when a checkpoint of that size exists (a crashed seal redone)."""
        try:
            await self.checkpoints_coll.insert_one(doc)
        except Exception as exc:
            if getattr(exc, "code", None) == DUPLICATE_KEY:
                return False
            raise
        return True

    async def delete_segments_before(self, segment: int) -> int:
        """Delete the runs of every segment below `segment`; returns how many entries went."""
        query = {"pos": {"$lt": segment_prefix(segment)}}
        entries = await self._entries_in(query)
        await self.runs_coll.delete_many(query)
        return entries

    async def record_export(self, doc: dict[str, Any]) -> None:
        """Append the export's who/when/why."""
        await self.exports_coll.insert_one(doc)
