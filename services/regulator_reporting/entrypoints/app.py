"""Composition root of `regulator_reporting`: builds real dependencies and runs the service."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from services.regulator_reporting.adapters.mongo import IncidentQueue, MongoKeyStore, MongoReportLedger
from services.regulator_reporting.chain import PublicKey
from services.regulator_reporting.config import ReportingSettings
from services.regulator_reporting.domain.reports import REPORT_TYPE, SOURCE
from services.regulator_reporting.handlers import (
    GENERATION_REJECTED,
    OUTPUT_BLOCKED,
    REFUTATION_NOTICE,
    REPORT_ACKNOWLEDGED,
    RUMOUR_RECORDED,
    TAKEDOWN_ORDERED,
    TAKEDOWN_REQUIRED,
    USER_SANCTIONED,
    ReportingHandlers,
    aggregate_id,
)
from services.regulator_reporting.ports import KeyConflict
from services.regulator_reporting.publisher import ReportPublisher
from services.regulator_reporting.sequencer import Sequencer
from shared.contracts import topics
from shared.messaging.engine import Handler
from shared.observability import get_logger
from shared.runtime.host import Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings
from shared.storage.mongo import ping

log = get_logger(__name__)

DEFINITION = ServiceDefinition(
    name="regulator_reporting",
    source=SOURCE,
    description=(
        "Reports illegal content, user sanctions, rumours and takedowns to the regulator as a signed, "
        "hash-chained, gap-free stream, re-sent until acknowledged (DS-10.3, DS-11, GA-14)."
    ),
    consumes={
        topics.REVIEW: (GENERATION_REJECTED, OUTPUT_BLOCKED, USER_SANCTIONED),
        topics.RUMOUR: (RUMOUR_RECORDED, TAKEDOWN_REQUIRED, REFUTATION_NOTICE),
        topics.REGULATOR_NOTICES: (TAKEDOWN_ORDERED,),
        topics.REGULATOR_ACKS: (REPORT_ACKNOWLEDGED,),
    },
    publishes=(REPORT_TYPE,),
    collection="incidents",
    indexes=(("state.due_ms",),),  # the sequencer's query: due incidents, earliest first
)


def routes(handlers: ReportingHandlers) -> Mapping[str, Handler]:
    """Event type -> handler."""
    incident_types = (
        GENERATION_REJECTED,
        OUTPUT_BLOCKED,
        USER_SANCTIONED,
        RUMOUR_RECORDED,
        TAKEDOWN_REQUIRED,
        REFUTATION_NOTICE,
        TAKEDOWN_ORDERED,
    )
    return {
        **dict.fromkeys(incident_types, handlers.on_incident_event),
        REPORT_ACKNOWLEDGED: handlers.on_acknowledged,
    }


async def _wait_for_store(runtime: Runtime, attempts: int = 60) -> None:
    # The ledger's indexes and the key registry are set up before anything is consumed.
    for _ in range(attempts):
        if await ping(runtime.client):
            return
        log.warning("mongo.unreachable_retrying")
        await asyncio.sleep(1.0)
    raise RuntimeError(f"MongoDB at {runtime.settings.mongo_uri} did not answer")


def _crash_hook(settings: ReportingSettings) -> Callable[[], None] | None:
    if settings.fault_inject != "crash_after_report_insert":
        return None

    def crash() -> None:
        log.warning("fault_injected.crash_after_report_insert")
        os._exit(86)

    return crash


def compose_with(
    settings: ReportingSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Mapping[str, Handler]]]:
    """The composition step `run_service` calls once the runtime's clients exist."""

    async def compose(runtime: Runtime) -> Mapping[str, Handler]:
        runtime.aggregate_id = aggregate_id
        await _wait_for_store(runtime)
        ledger = MongoReportLedger(runtime.db)
        await ledger.ensure_indexes()
        signer = settings.signer()
        try:
            await MongoKeyStore(runtime.db).register(PublicKey(signer.key_id, signer.public_key))
        except KeyConflict as exc:
            log.error("reporting.signing_key_refused", key_id=signer.key_id, error=str(exc))
            raise
        policy = settings.policy()
        publisher = ReportPublisher(
            ledger,
            runtime.broker,
            topic=runtime.publisher.topic(topics.REGULATOR_REPORTS),
            partition=settings.reports_partition,
            ack_timeout_s=settings.ack_timeout_s,
            clock=clock,
            batch=settings.batch,
            interval_s=settings.interval_s,
        )
        sequencer = Sequencer(
            IncidentQueue(runtime.store),
            ledger,
            signer,
            policy,
            clock,
            batch=settings.batch,
            interval_s=settings.interval_s,
            ack_timeout_s=settings.ack_timeout_s,
            on_numbered=publisher.numbered,
            after_insert=_crash_hook(settings),
        )
        runtime.workers += [sequencer.run, publisher.run]
        log.info("reporting.signing_with", key_id=signer.key_id, public_key=signer.public_key)
        return routes(ReportingHandlers(ledger, policy, clock))

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = ReportingSettings()  # read from the environment
    await run_service(DEFINITION, CommonSettings(), compose_with(settings))
