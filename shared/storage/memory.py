"""The in-memory twin of `AggregateStore`: same contract, no server (unit tests of the engine and flows).

It keeps what Mongo would keep — the encoded document, not the live objects — so a test sees exactly
what a reload would see. Versions, write ids, conditional `mark_sent` and the relay's query behave
as in `AggregateStore`. `outage` makes every call fail the way an unreachable server does.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterable, Sequence
from typing import Any

import bson
from bson.codec_options import CodecOptions
from pymongo.errors import ConnectionFailure

from shared.storage.aggregates import STATE_TYPES, Aggregate

_BSON: CodecOptions[dict[str, Any]] = CodecOptions(type_registry=STATE_TYPES)


class InMemoryAggregateStore:
    """Aggregates in a dict of documents, keyed by `_id`."""

    def __init__(self) -> None:
        """An empty store."""
        self.docs: dict[str, dict[str, Any]] = {}
        self.outage = False
        self.writes = 0  # save_many calls that wrote something (tests count round trips)

    def _check(self) -> None:
        if self.outage:
            raise ConnectionFailure("in-memory store: simulated outage")

    async def ensure_indexes(self, extra: Sequence[Sequence[str]] = ()) -> None:
        """Nothing to index in memory."""
        self._check()

    async def load_many(self, ids: Iterable[str]) -> dict[str, Aggregate]:
        """Every requested aggregate; missing ones come back new (version 0)."""
        self._check()
        wanted = list(dict.fromkeys(ids))
        return {
            i: Aggregate.from_doc(copy.deepcopy(self.docs[i])) if i in self.docs else Aggregate(id=i)
            for i in wanted
        }

    async def load(self, aggregate_id: str) -> Aggregate:
        """One aggregate."""
        return (await self.load_many([aggregate_id]))[aggregate_id]

    async def save_many(self, aggregates: Sequence[Aggregate]) -> list[str]:
        """Insert new aggregates, replace stored ones at their version; return the losers of a race."""
        self._check()
        dirty = [a for a in aggregates if a.dirty]
        if dirty:
            self.writes += 1
        conflicts: list[str] = []
        for a in dirty:
            stored = self.docs.get(a.id)
            expected = stored["version"] if stored else 0
            if expected != a.version:
                conflicts.append(a.id)
                continue
            doc = a.to_doc(a.version + 1)
            bson.encode(doc, codec_options=_BSON)  # what MongoDB could not store, the twin refuses too
            self.docs[a.id] = copy.deepcopy(doc)
            a.version += 1
            a.dirty = False
        return sorted(conflicts)

    async def mark_sent(self, aggregates: Sequence[Aggregate]) -> None:
        """Clear the outbox of aggregates not written again since they were loaded."""
        self._check()
        for a in aggregates:
            stored = self.docs.get(a.id)
            if a.outbox and stored is not None and stored["version"] == a.version:
                stored["outbox"], stored["outbox_pending"] = [], 0
            a.outbox = []

    async def with_pending_outbox(self, older_than_ms: int, limit: int = 500) -> list[Aggregate]:
        """Aggregates whose outbox was not published and not written since `older_than_ms`."""
        self._check()
        due = [d for d in self.docs.values() if d["outbox_pending"] > 0 and d["updated_ms"] <= older_than_ms]
        return [Aggregate.from_doc(copy.deepcopy(d)) for d in due[:limit]]

    def age(self, ms: int) -> None:
        """Make every document look `ms` older (the relay's grace period, without waiting)."""
        for d in self.docs.values():
            d["updated_ms"] -= ms

    @staticmethod
    def now_ms() -> int:
        """The clock `to_doc` stamps documents with."""
        return int(time.time() * 1000)
