"""Aggregate documents: state, pending outbox and processed event ids in ONE document.

ARCHITECTURE rule 3: no multi-document transactions (the embedded store does not isolate them).
A state change, the events it causes and the ids of the events that caused it are written in a
single document write, guarded by an optimistic `version`. Whole-document writes (insert or
replace) are used rather than update operators because the embedded store mangles types in
some operator updates (stack-notes §8); both stores keep a replaced document exactly.

Document shape::

    {_id, version, state: {...}, processed: [event ids, newest last],
     outbox: [pending OutboxMessage docs], outbox_pending: <len(outbox)>, updated_ms}
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, TypeVar

from bson.codec_options import TypeEncoder, TypeRegistry
from pydantic import BaseModel
from pymongo import ASCENDING, InsertOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from shared.storage.outbox import OutboxMessage
from shared.storage.state import AggregateState

__all__ = ["Aggregate", "AggregateRepository", "AggregateState", "AggregateStore", "encode_state"]

PROCESSED_LIMIT = 500  # event ids remembered per aggregate for de-duplication
DUPLICATE_KEY = 11000


S = TypeVar("S", bound=AggregateState)


def encode_state(state: AggregateState | dict[str, Any] | None) -> dict[str, Any]:
    """The stored form of a state (the one place a state model becomes a document)."""
    if state is None:
        return {}
    if isinstance(state, BaseModel):
        return state.model_dump(mode="python")
    return state


class _DateAsText(TypeEncoder):
    """BSON has datetimes but no bare dates: a `date` is stored as its ISO text.

    The state model parses it back (an ID card's turns_18, say). Datetimes are BSON's own type and
    never reach this encoder; it runs in the driver's encoder only for actual dates (no walk over
    every document in Python).
    """

    @property
    def python_type(self) -> type[date]:
        """The type encoded here."""
        return date

    def transform_python(self, value: Any) -> str:
        """The ISO text of the date."""
        text: str = value.isoformat()
        return text


STATE_TYPES = TypeRegistry([_DateAsText()])
"""How aggregate documents are encoded, by the Mongo store and checked by its in-memory twin."""


def _with_date_encoder(collection: AsyncCollection[dict[str, Any]]) -> AsyncCollection[dict[str, Any]]:
    options = collection.codec_options.with_options(type_registry=STATE_TYPES)
    return collection.with_options(codec_options=options)


@dataclass
class Aggregate:
    """One aggregate as loaded; handlers change `state`, the engine the rest."""

    id: str
    version: int = 0  # 0: not stored yet
    # As loaded: the stored document (a dict); once a route has read it, the typed state model.
    state: AggregateState | dict[str, Any] | None = None
    processed: list[str] = field(default_factory=list)
    outbox: list[OutboxMessage] = field(default_factory=list)
    dirty: bool = False
    write_id: str = ""  # the write that stored this version (empty: not stored, or an older document)

    def has_processed(self, event_id: str) -> bool:
        """True when this event id already changed the aggregate."""
        return event_id in self.processed

    def typed(self, model: type[S]) -> S | None:
        """The state as `model` (decoded once from the stored document, then kept)."""
        if self.state is None:
            return None
        if isinstance(self.state, model):
            return self.state
        if isinstance(self.state, BaseModel):
            raise TypeError(f"aggregate {self.id} holds {type(self.state).__name__}, not {model.__name__}")
        decoded = model.model_validate(self.state)
        self.state = decoded
        return decoded

    def record(self, event_id: str, state: AggregateState | None, outbox: Iterable[OutboxMessage]) -> None:
        """Apply one handled event: new state, new outbox entries, the event id remembered."""
        if state is not None:
            self.state = state
        self.outbox.extend(outbox)
        self.processed = [*self.processed, event_id][-PROCESSED_LIMIT:]
        self.dirty = True

    def to_doc(self, version: int, write_id: str = "") -> dict[str, Any]:
        """The stored form at `version`; `write_id` identifies this particular write."""
        return {
            "_id": self.id,
            "version": version,
            "write_id": write_id,
            "state": encode_state(self.state),
            "processed": self.processed,
            "outbox": [m.to_doc() for m in self.outbox],
            "outbox_pending": len(self.outbox),
            "updated_ms": int(time.time() * 1000),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Aggregate:
        """Read a stored document."""
        return cls(
            id=doc["_id"],
            version=int(doc["version"]),
            state=doc.get("state") or None,
            processed=list(doc.get("processed", [])),
            outbox=[OutboxMessage.from_doc(m) for m in doc.get("outbox", [])],
            write_id=str(doc.get("write_id") or ""),
        )


class AggregateRepository(Protocol):
    """What the engine, the relay and the shared save step need of a store (Mongo or in memory)."""

    async def ensure_indexes(self, extra: Sequence[Sequence[str]] = ()) -> None:
        """Create the indexes the repository needs."""

    async def load_many(self, ids: Iterable[str]) -> dict[str, Aggregate]:
        """Every requested aggregate; missing ones come back new (version 0)."""
        ...

    async def load(self, aggregate_id: str) -> Aggregate:
        """One aggregate."""
        ...

    async def save_many(self, aggregates: Sequence[Aggregate]) -> list[str]:
        """Write every dirty aggregate; return the ids that lost a version race."""
        ...

    async def mark_sent(self, aggregates: Sequence[Aggregate]) -> None:
        """Clear the published outbox of aggregates not written again since."""

    async def with_pending_outbox(self, older_than_ms: int, limit: int = 500) -> list[Aggregate]:
        """Aggregates whose outbox was not published."""
        ...


class AggregateStore:
    """Loads and saves aggregates of one MongoDB collection."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Use `collection`; call `ensure_indexes` once at start-up."""
        self.collection = _with_date_encoder(collection)

    async def ensure_indexes(self, extra: Sequence[Sequence[str]] = ()) -> None:
        """The relay's index plus the service's own (declared in code, created idempotently)."""
        await self.collection.create_index([("outbox_pending", ASCENDING), ("updated_ms", ASCENDING)])
        for fields in extra:
            await self.collection.create_index([(f, ASCENDING) for f in fields])

    async def load_many(self, ids: Iterable[str]) -> dict[str, Aggregate]:
        """Every requested aggregate; missing ones come back new (version 0)."""
        wanted = list(dict.fromkeys(ids))
        found = {
            doc["_id"]: Aggregate.from_doc(doc)
            async for doc in self.collection.find({"_id": {"$in": wanted}})
        }
        return {i: found.get(i) or Aggregate(id=i) for i in wanted}

    async def load(self, aggregate_id: str) -> Aggregate:
        """One aggregate."""
        return (await self.load_many([aggregate_id]))[aggregate_id]

    async def save_many(self, aggregates: Sequence[Aggregate]) -> list[str]:
        """Write every dirty aggregate in one round trip; return the ids that lost a version race."""
        dirty = [a for a in aggregates if a.dirty]
        if not dirty:
            return []
        write_id = uuid.uuid4().hex
        ops: list[InsertOne[dict[str, Any]] | ReplaceOne[dict[str, Any]]] = [
            InsertOne(a.to_doc(1, write_id))
            if a.version == 0
            else ReplaceOne({"_id": a.id, "version": a.version}, a.to_doc(a.version + 1, write_id))
            for a in dirty
        ]
        conflicts: set[str] = set()
        try:
            result = await self.collection.bulk_write(ops, ordered=False)
            matched = result.matched_count
        except BulkWriteError as exc:
            for err in exc.details.get("writeErrors", []):
                if err.get("code") != DUPLICATE_KEY:
                    raise
                conflicts.add(dirty[err["index"]].id)
            matched = int(exc.details.get("nMatched", 0))
        replaced = [a for a in dirty if a.version > 0]
        if matched < len(replaced):
            conflicts |= await self._not_written(replaced, write_id)
        for a in dirty:
            if a.id not in conflicts:
                a.version = 1 if a.version == 0 else a.version + 1
                a.dirty = False
                a.write_id = write_id
        return sorted(conflicts)

    async def _not_written(self, replaced: Sequence[Aggregate], write_id: str) -> set[str]:
        # A bulk result counts matches but does not say which. Versions alone cannot tell (a rival
        # may have written the very version we meant to), so look for this write's own id.
        ids = [a.id for a in replaced]
        ours = {
            d["_id"]
            async for d in self.collection.find({"_id": {"$in": ids}, "write_id": write_id}, {"_id": 1})
        }
        return set(ids) - ours

    async def mark_sent(self, aggregates: Sequence[Aggregate]) -> None:
        """Clear the outbox of aggregates whose pending messages were all published.

        Conditional on the write: if the aggregate was written again meanwhile (another write id),
        its outbox stays and is published again with the newer entries (consumers de-duplicate by
        id). The aggregates of one write are cleared in one statement (issue 15: the embedded store
        spends about half the CPU on it that it spends on one update per aggregate).
        """
        pending = [a for a in aggregates if a.outbox]
        by_write: dict[str, list[str]] = {}
        for a in pending:
            if a.write_id:
                by_write.setdefault(a.write_id, []).append(a.id)
        cleared = {"$set": {"outbox": [], "outbox_pending": 0}}
        for write_id, ids in by_write.items():
            await self.collection.update_many({"_id": {"$in": ids}, "write_id": write_id}, cleared)
        # A document written before write ids existed: its version is the condition.
        legacy = [UpdateOne({"_id": a.id, "version": a.version}, cleared) for a in pending if not a.write_id]
        if legacy:
            await self.collection.bulk_write(legacy, ordered=False)
        for a in aggregates:
            a.outbox = []

    async def with_pending_outbox(self, older_than_ms: int, limit: int = 500) -> list[Aggregate]:
        """Aggregates whose outbox was not published (a crash, or the broker was down)."""
        cursor = self.collection.find(
            {"outbox_pending": {"$gt": 0}, "updated_ms": {"$lte": older_than_ms}}
        ).limit(limit)
        return [Aggregate.from_doc(d) async for d in cursor]
