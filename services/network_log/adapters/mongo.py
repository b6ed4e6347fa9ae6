"""The log in MongoDB: `entries` (append-only), `checkpoints` (signed tree heads), `exports`.

Entries are only ever inserted and, past retention, deleted by whole segments; nothing updates
them. `pos` (`<segment, 10 digits>/<id>`) orders the log, and its index serves the segment scans.
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
        self.entries_coll = db["entries"]
        self.checkpoints_coll = db["checkpoints"]
        self.exports_coll = db["exports"]

    async def ensure_indexes(self) -> None:
        """The indexes the scans and export filters use."""
        await self.entries_coll.create_index([("pos", ASCENDING)], unique=True)
        await self.entries_coll.create_index([("seg", ASCENDING)])
        await self.entries_coll.create_index([("user_id", ASCENDING)])
        await self.entries_coll.create_index([("content_id", ASCENDING)])
        await self.entries_coll.create_index([("ip", ASCENDING)])

    async def append(self, docs: Sequence[dict[str, Any]]) -> int:
        """Insert, unordered; duplicates of an earlier delivery are skipped (idempotent)."""
        if not docs:
            return 0
        try:
            result = await self.entries_coll.insert_many(list(docs), ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            other = [e for e in errors if e.get("code") != DUPLICATE_KEY]
            if other:
                raise
            return int(exc.details.get("nInserted", len(docs) - len(errors)))
        return len(result.inserted_ids)

    async def next_segment_after(self, segment: int) -> int | None:
        """Lowest segment above `segment` that has entries."""
        doc = await self.entries_coll.find_one(
            {"pos": {"$gte": segment_prefix(segment + 1)}}, {"seg": 1}, sort=[("pos", ASCENDING)]
        )
        return int(doc["seg"]) if doc else None

    async def segment_leaves(self, segment: int) -> list[bytes]:
        """Leaf hashes of one segment, in `pos` order."""
        query = {"pos": {"$gte": segment_prefix(segment), "$lt": segment_prefix(segment + 1)}}
        cursor = self.entries_coll.find(query, {"leaf": 1, "_id": 0}, sort=[("pos", ASCENDING)])
        return [bytes.fromhex(d["leaf"]) async for d in cursor]

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
        """Delete the entries of every segment below `segment`."""
        result = await self.entries_coll.delete_many({"pos": {"$lt": segment_prefix(segment)}})
        return int(result.deleted_count)

    async def entries(self, query: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Matching entries in log order, fetched in batches."""
        cursor = self.entries_coll.find(query, sort=[("pos", ASCENDING)], batch_size=2000)
        async for doc in cursor:
            yield doc

    async def count(self, query: dict[str, Any]) -> int:
        """How many entries match (aggregate `$count`: faster than count_documents on nx-27017)."""
        rows = [r async for r in await self.entries_coll.aggregate([{"$match": query}, {"$count": "n"}])]
        return int(rows[0]["n"]) if rows else 0

    async def record_export(self, doc: dict[str, Any]) -> None:
        """Append the export's who/when/why."""
        await self.exports_coll.insert_one(doc)
