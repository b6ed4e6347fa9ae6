"""The label ledger in MongoDB: the service's own aggregate documents, queried by nested paths.

Checked against the embedded store (nx-27017): equality on a nested scalar (`state.content_id`)
works; a path through an array of documents (`state.labels.sha256`) matches nothing, hence the
flat arrays of strings; and plain equality on an INDEXED array path (`{"state.hashes": h}`)
compares the whole array there (no multikey semantics), so membership is asked with `$in`,
which both nx-27017 and MongoDB answer from the index.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final, TypeVar

from pymongo.asynchronous.collection import AsyncCollection

from services.labeling.domain.ledger import ContentLedger, UnlabeledCopy
from shared.messaging.routing import Worker
from shared.observability import get_logger
from shared.storage.aggregates import AggregateState

log = get_logger(__name__)

# Declared in ServiceDefinition.indexes so the store indexes exactly what is queried here.
INDEXED_PATHS: Final = ("state.produce_ids", "state.hashes", "state.content_id")
RETENTION_PATH: Final = "state.lb9_expires_at"

S = TypeVar("S", bound=AggregateState)
Query = dict[str, Any]


class MongoLabelLedger:
    """Reads the `labels` collection."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Use the service's collection."""
        self.collection = collection

    async def _states(self, model: type[S], query: Query) -> list[S]:
        cursor = self.collection.find(query, {"state": 1}).limit(100)
        return [model.model_validate(doc["state"]) async for doc in cursor]

    async def by_produce_id(self, produce_id: str) -> list[ContentLedger]:
        """Content records holding a label with this ProduceID."""
        query = {"state.produce_ids": {"$in": [produce_id]}, "state.kind": "content"}
        return await self._states(ContentLedger, query)

    async def by_sha256(self, sha256: str) -> list[ContentLedger]:
        """Content records holding a label bound to this hash."""
        query = {"state.hashes": {"$in": [sha256.lower()]}, "state.kind": "content"}
        return await self._states(ContentLedger, query)

    async def unlabeled_copies(self, content_id: str) -> list[UnlabeledCopy]:
        """LB-9 records for this content."""
        query = {"state.content_id": content_id, "state.kind": "unlabeled_copy"}
        return await self._states(UnlabeledCopy, query)


async def ensure_retention_index(collection: AsyncCollection[dict[str, Any]]) -> None:
    """TTL on `state.lb9_expires_at` (expireAfterSeconds=0: each record expires at its own date).

    Only LB-9 records carry the field, so the label ledger itself never expires. Verified on the
    embedded store: a nested date path with expireAfterSeconds=0 is honoured (documents removed
    within seconds of their date), as on MongoDB.
    """
    await collection.create_index(RETENTION_PATH, expireAfterSeconds=0)


def retention_index_worker(collection: AsyncCollection[dict[str, Any]], retention_days: int) -> Worker:
    """A worker that creates the LB-9 TTL index once after start (the host creates ascending ones only)."""

    async def run(stop: asyncio.Event) -> None:
        await ensure_retention_index(collection)
        log.info("lb9.retention_index_ready", days=retention_days)

    return Worker("lb9-retention-index", run)
