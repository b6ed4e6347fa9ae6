"""Composition root of `rumour_refutation`: builds real dependencies and runs the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.rumour_refutation.adapters.mongo import (
    INDEXES,
    LIST_COLLECTION,
    MongoCaseStore,
    MongoRecipientLists,
)
from services.rumour_refutation.config import RumourSettings
from services.rumour_refutation.domain.case import CASE, CaseState
from services.rumour_refutation.domain.content import CONTENT, ContentState
from services.rumour_refutation.fanout import FanoutWorker
from services.rumour_refutation.handlers import RumourHandlers, complaint_case_key, completed_key
from services.rumour_refutation.outbound import SOURCE
from services.rumour_refutation.search import SearchState, rebuild
from shared.contracts import types as T
from shared.messaging.routing import on, prefixed
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

DEFINITION = ServiceDefinition[RumourHandlers](
    name="rumour_refutation",
    source=SOURCE,
    description=(
        "Rumour refutation (DS-11): index every output, log every distribution, and on a rumour "
        "determination, takedown order or provider-opened case require takedowns and notify every "
        "recipient once, until the case is closed."
    ),
    routes=(
        # dsgov.generation.requested is not ours: ignored. Outputs and distributions fold into
        # their content, notices into their case.
        on(T.GENERATION_COMPLETED, RumourHandlers.on_completed, ContentState, key=completed_key),
        on(T.CONTENT_DISTRIBUTED, RumourHandlers.on_distributed, ContentState, key=prefixed(CONTENT)),
        on(T.RUMOUR_DETERMINED, RumourHandlers.on_determined, CaseState, key=prefixed(CASE)),
        on(T.TAKEDOWN_ORDERED, RumourHandlers.on_takedown_ordered, CaseState, key=prefixed(CASE)),
        on(T.RUMOUR_CLOSED, RumourHandlers.on_closed, CaseState, key=prefixed(CASE)),
        # Console commands (DS-11): the provider opens and closes cases itself.
        on(T.RUMOUR_CASE_SUBMITTED, RumourHandlers.on_case_submitted, CaseState, key=prefixed(CASE)),
        on(T.RUMOUR_CASE_CLOSE_SUBMITTED, RumourHandlers.on_close_submitted, CaseState, key=prefixed(CASE)),
        on(T.COMPLAINT_RESOLVED, RumourHandlers.on_complaint_resolved, CaseState, key=complaint_case_key),
    ),
    publishes=(T.RUMOUR_RECORDED, T.CONTENT_TAKEDOWN_REQUIRED, T.REFUTATION_NOTICE, T.RUMOUR_CASE_CLOSED),
    collection="rumour",
    indexes=INDEXES,
)


def compose_with(
    settings: RumourSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Composition[RumourHandlers]]]:
    """The composition step `run_service` calls once the store answers."""

    async def compose(runtime: Runtime) -> Composition[RumourHandlers]:
        lists = MongoRecipientLists(runtime.db[LIST_COLLECTION])
        await lists.ensure_indexes()
        case_store = MongoCaseStore(runtime.store.collection)
        search = SearchState()
        await rebuild(search, case_store)  # before consuming: the index is built from the store
        fanout = FanoutWorker(
            store=runtime.store,
            cases_store=case_store,
            lists=lists,
            operations=runtime.operations,
            search=search,
            thresholds=settings.thresholds(),
            clock=clock,
            settings=settings.fanout(),
        )
        handlers = RumourHandlers(
            search=search,
            lists=lists,
            store=runtime.store,
            thresholds=settings.thresholds(),
            shards=settings.reach_shards,
            clock=clock,
            work_due=fanout.wake,
        )
        return Composition(handlers, workers=[fanout.worker()])

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = RumourSettings()  # read from the environment
    await run_service(DEFINITION, CommonSettings(), compose_with(settings))
