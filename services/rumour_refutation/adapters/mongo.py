"""MongoDB adapters: recipient lists, the service's queries, and the case file for inspection.

Only whole-document writes and plain queries are used (no `$lookup`, no array indexes: the
embedded store answers array queries wrongly once the array field is indexed).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.rumour_refutation.domain.case import CASE, case_key
from services.rumour_refutation.domain.content import CONTENT
from services.rumour_refutation.domain.reach import REACH
from shared.storage.aggregates import Aggregate

Doc = dict[str, Any]
LIST_COLLECTION = "recipient_lists"
# The queries below, as indexes on the aggregate collection (declared in the ServiceDefinition).
INDEXES: tuple[tuple[str, ...], ...] = (
    ("state.apply_pending",),
    ("state.pending_count",),
    ("state.indexed_ms",),
    ("state.kind", "state.opened_ms"),
    ("state.kind", "state.notice_id"),
    ("state.closed_ms",),
)


class MongoRecipientLists:
    """One document per distribution event: `{_id: <provider>/<event id>, recipients: [...]}`."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        """Use `collection` (the service's `recipient_lists`)."""
        self.collection = collection

    async def ensure_indexes(self) -> None:
        """Lists are read by id, and by content for the case file."""
        await self.collection.create_index([("content_id", ASCENDING)])

    async def put(
        self,
        list_id: str,
        *,
        provider_id: str,
        content_id: str,
        distribution_id: str,
        recipients: Sequence[str],
    ) -> None:
        """Insert once; a redelivered distribution finds its list already there."""
        doc = {
            "_id": list_id,
            "provider_id": provider_id,
            "content_id": content_id,
            "distribution_id": distribution_id,
            "recipients": list(recipients),
            "count": len(recipients),
        }
        with contextlib.suppress(DuplicateKeyError):  # the same event id always carries the same recipients
            await self.collection.insert_one(doc)

    async def get_many(self, list_ids: Sequence[str]) -> dict[str, list[str]]:
        """The recipients of each list found."""
        if not list_ids:
            return {}
        cursor = self.collection.find({"_id": {"$in": list(dict.fromkeys(list_ids))}})
        return {d["_id"]: list(d.get("recipients", [])) async for d in cursor}


class MongoCaseStore:
    """The service's queries over its aggregate collection."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        """Use the aggregate collection."""
        self.collection = collection

    async def _aggregates(self, query: Doc, limit: int = 0) -> list[Aggregate]:
        cursor = self.collection.find(query).limit(limit)
        return [Aggregate.from_doc(d) async for d in cursor]

    async def cases_to_apply(self, limit: int) -> list[Aggregate]:
        """Cases whose matches are not yet recorded on every content."""
        return await self._aggregates({"state.apply_pending": {"$gt": 0}}, limit)

    async def contents_with_fanout_due(self, limit: int) -> list[Aggregate]:
        """Contents with (notice, distribution) fan-out still due."""
        return await self._aggregates({"state.pending_count": {"$gt": 0}}, limit)

    async def indexed_content_ids(self, since_ms: int) -> list[str]:
        """Aggregate ids of contents indexed at or after `since_ms` (ids only: cheap to compare)."""
        cursor = self.collection.find({"state.indexed_ms": {"$gte": max(since_ms, 1)}}, {"_id": 1})
        return [d["_id"] async for d in cursor]

    async def iter_indexed_contents(self) -> AsyncIterator[Aggregate]:
        """Every content with an indexed output, streamed in batches."""
        cursor = self.collection.find({"state.indexed_ms": {"$gte": 1}}).batch_size(2000)
        async for doc in cursor:
            yield Aggregate.from_doc(doc)

    async def rumour_cases(self, since_ms: int) -> list[Aggregate]:
        """Rumour cases opened at or after `since_ms`."""
        return await self._aggregates({"state.kind": "rumour", "state.opened_ms": {"$gte": since_ms}})

    async def closed_cases(self, since_ms: int) -> list[Aggregate]:
        """Cases closed at or after `since_ms`."""
        return await self._aggregates({"state.closed_ms": {"$gte": max(since_ms, 1)}})


async def case_file(
    aggregates: AsyncCollection[Doc], lists: AsyncCollection[Doc], provider_id: str, notice_id: str
) -> Doc | None:
    """Everything recorded about one case, for inspection (DS-11 "keep records").

    The notice and the claim, every match with its score and takedown, every distribution fanned
    out, and every recipient notified with the time and the contents that reached them.
    """
    case = await aggregates.find_one({"_id": case_key(provider_id, notice_id)})
    if case is None:
        return None
    contents = [
        d
        async for d in aggregates.find(
            {"_id": {"$regex": f"^{_escape(CONTENT + provider_id)}/"}, "state.matched_notices": notice_id}
        )
    ]
    shards = [
        d
        async for d in aggregates.find(
            {
                "state.kind": "reach",
                "state.notice_id": notice_id,
                "_id": {"$regex": f"^{_escape(REACH + provider_id)}/"},
            }
        )
    ]
    return _assemble(case, contents, shards, notice_id)


def _escape(text: str) -> str:
    return re.escape(text)


def _assemble(case: Doc, contents: list[Doc], shards: list[Doc], notice_id: str) -> Doc:
    state = dict(case["state"])
    matches = []
    for doc in sorted(contents, key=lambda d: str(d["_id"])):
        c = doc["state"]
        match = next(m for m in c["matches"] if m["notice_id"] == notice_id)
        fanned = [f for f in c.get("fanned", []) if f["notice_id"] == notice_id]
        due = [d for n, d in c.get("pending", []) if n == notice_id]
        matches.append(
            {
                "content_id": c["content_id"],
                "score": match["score"],
                "via": match["via"],
                "matched_ms": match["matched_ms"],
                "takedown_required": True,
                "cause_event_id": match["cause_id"],
                "output_indexed": bool(c.get("output")),
                "distributions": [
                    {k: v for k, v in dist.items() if k != "lists"} for dist in c.get("distributions", [])
                ],
                "fanned_out": fanned,
                "fanout_due": due,
            }
        )
    notified = sorted((r for s in shards for r in s["state"]["notified"]), key=lambda r: (r["at"], r["r"]))
    claim = state.pop("claim", None)
    return {
        "case": {k: v for k, v in state.items() if k not in ("to_apply",)},
        "claim_fingerprint_scheme": claim["scheme"] if claim else None,
        "still_to_apply": state.get("to_apply", []),
        "matches": matches,
        "takedowns_required": len(matches),
        "notices": [{"recipient_user_id": r["r"], "at_ms": r["at"], "content_ids": r["c"]} for r in notified],
        "notices_sent": len(notified),
        "case_document": case["_id"],
        "version": case["version"],
    }


__all__ = ["CASE", "INDEXES", "LIST_COLLECTION", "MongoCaseStore", "MongoRecipientLists", "case_file"]
