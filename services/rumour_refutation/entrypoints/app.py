"""Composition root of `rumour_refutation`: builds real dependencies and runs the service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from services.rumour_refutation.adapters.mongo import (
    INDEXES,
    LIST_COLLECTION,
    MongoCaseStore,
    MongoRecipientLists,
)
from services.rumour_refutation.batch import BatchExecutor
from services.rumour_refutation.config import RumourSettings
from services.rumour_refutation.fanout import FanoutWorker
from services.rumour_refutation.handlers import RumourHandlers
from services.rumour_refutation.keys import aggregate_id
from services.rumour_refutation.outbound import REFUTATION_NOTICE, RUMOUR_RECORDED, SOURCE, TAKEDOWN_REQUIRED
from services.rumour_refutation.search import SearchState, rebuild
from shared.contracts import topics
from shared.messaging.engine import Handler
from shared.observability import get_logger
from shared.runtime.host import Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings
from shared.storage.mongo import ping

log = get_logger(__name__)

COMPLETED = "dsgov.generation.completed"
DISTRIBUTED = "dsgov.content.distributed"
DETERMINED = "dsgov.rumour.determined"
TAKEDOWN_ORDERED = "dsgov.takedown.ordered"

DEFINITION = ServiceDefinition(
    name="rumour_refutation",
    source=SOURCE,
    description=(
        "Rumour refutation (DS-11): index every output, log every distribution, and on a rumour "
        "determination or takedown order require takedowns and notify every recipient once."
    ),
    consumes={
        topics.PLATFORM_GENERATION: (COMPLETED,),  # dsgov.generation.requested is not ours: ignored
        topics.PLATFORM_DISTRIBUTION: (DISTRIBUTED,),
        topics.REGULATOR_NOTICES: (DETERMINED, TAKEDOWN_ORDERED),
    },
    publishes=(RUMOUR_RECORDED, TAKEDOWN_REQUIRED, REFUTATION_NOTICE),
    collection="rumour",
    indexes=INDEXES,
)


def routes(handlers: RumourHandlers) -> Mapping[str, Handler]:
    """Event type -> handler."""
    return {
        COMPLETED: handlers.on_completed,
        DISTRIBUTED: handlers.on_distributed,
        DETERMINED: handlers.on_determined,
        TAKEDOWN_ORDERED: handlers.on_takedown_ordered,
    }


async def _wait_for_store(runtime: Runtime, attempts: int = 60) -> None:
    # The index is rebuilt before consuming starts, so the store must answer first.
    for attempt in range(attempts):
        if await ping(runtime.client):
            return
        log.warning("mongo.unreachable_retrying", attempt=attempt + 1)
        await asyncio.sleep(1.0)
    raise RuntimeError(f"MongoDB at {runtime.settings.mongo_uri} did not answer")


def compose_with(
    settings: RumourSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Mapping[str, Handler]]]:
    """The composition step `run_service` calls once the runtime's clients exist."""

    async def compose(runtime: Runtime) -> Mapping[str, Handler]:
        runtime.aggregate_id = aggregate_id
        await _wait_for_store(runtime)
        lists = MongoRecipientLists(runtime.db[LIST_COLLECTION])
        await lists.ensure_indexes()
        await runtime.store.ensure_indexes(DEFINITION.indexes)
        case_store = MongoCaseStore(runtime.store.collection)
        search = SearchState()
        await rebuild(search, case_store)
        worker = FanoutWorker(
            store=runtime.store,
            cases_store=case_store,
            lists=lists,
            executor=BatchExecutor(runtime.store, runtime.publisher),
            search=search,
            thresholds=settings.thresholds(),
            clock=clock,
            settings=settings.fanout(),
        )
        runtime.workers.append(worker.run)
        handlers = RumourHandlers(
            search=search,
            lists=lists,
            store=runtime.store,
            thresholds=settings.thresholds(),
            shards=settings.reach_shards,
            clock=clock,
            work_due=worker.wake,
        )
        return routes(handlers)

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = RumourSettings()  # read from the environment
    await run_service(DEFINITION, CommonSettings(), compose_with(settings))
