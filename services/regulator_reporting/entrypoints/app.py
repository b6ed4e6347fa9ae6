"""Composition root of `regulator_reporting`: builds real dependencies and runs the service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from services.regulator_reporting.adapters.mongo import IncidentQueue, MongoKeyStore, MongoReportLedger
from services.regulator_reporting.chain import PublicKey
from services.regulator_reporting.config import ReportingSettings
from services.regulator_reporting.domain.acks import AckLog
from services.regulator_reporting.domain.incidents import Incident
from services.regulator_reporting.handlers import INCIDENT_TYPES, ReportingHandlers, by_incident, by_report
from services.regulator_reporting.outbound import SOURCE
from services.regulator_reporting.ports import KeyConflict
from services.regulator_reporting.publisher import ReportPublisher
from services.regulator_reporting.sequencer import Sequencer
from services.regulator_reporting.timers import ComplaintStatisticsTimer, IncidentTimers
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.routing import Worker, every, on
from shared.observability import get_logger
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

log = get_logger(__name__)

DEFINITION = ServiceDefinition[ReportingHandlers](
    name="regulator_reporting",
    source=SOURCE,
    description=(
        "Reports illegal content, user sanctions, rumours, takedowns, cybersecurity incidents, overdue "
        "complaints and complaint handling statistics to the regulator as a signed, hash-chained, "
        "gap-free stream, re-sent until acknowledged (DS-10.3, DS-11, DS-12, GA-14, GA-15, CIR-4)."
    ),
    routes=(
        *(on(t, ReportingHandlers.on_incident_event, Incident, key=by_incident) for t in INCIDENT_TYPES),
        on(T.REPORT_ACKNOWLEDGED, ReportingHandlers.on_acknowledged, AckLog, key=by_report),
    ),
    publishes=(T.REPORT_SUBMITTED,),
    collection="incidents",
    # The sequencer's query (due incidents, earliest first), the incident timers' query and the
    # complaint statistics' counts (one per figure, each over a time window).
    indexes=(
        ("state.due_ms",),
        ("state.timer_ms",),
        ("state.acc.complaint.received_ms",),
        ("state.acc.complaint.resolved_ms",),
        ("state.acc.complaint.overdue_ms",),
    ),
)


async def _register_key(runtime: Runtime, settings: ReportingSettings) -> None:
    # Every key ever used stays verifiable; a reused key id with another key is refused at start.
    signer = settings.signer()
    try:
        await MongoKeyStore(runtime.db).register(PublicKey(signer.key_id, signer.public_key))
    except KeyConflict as exc:
        log.error("reporting.signing_key_refused", key_id=signer.key_id, error=str(exc))
        raise
    log.info("reporting.signing_with", key_id=signer.key_id, public_key=signer.public_key)


def compose_with(
    settings: ReportingSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Composition[ReportingHandlers]]]:
    """The composition step `run_service` calls once the store answers."""

    async def compose(runtime: Runtime) -> Composition[ReportingHandlers]:
        ledger = MongoReportLedger(runtime.db)
        await ledger.ensure_indexes()
        await _register_key(runtime, settings)
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
            settings.signer(),
            policy,
            clock,
            batch=settings.batch,
            ack_timeout_s=settings.ack_timeout_s,
            on_numbered=publisher.numbered,
        )
        handlers = ReportingHandlers(ledger, policy, clock)
        timers = IncidentTimers(IncidentQueue(runtime.store), runtime.operations.apply, handlers, clock)
        statistics = ComplaintStatisticsTimer(
            IncidentQueue(runtime.store),
            runtime.operations.apply,
            handlers,
            clock,
            sorted(runtime.settings.served_providers),
            policy.statistics,
        )
        return Composition(
            handlers,
            workers=[
                every("report-sequencer", settings.interval_s, sequencer.drain),
                Worker("report-publisher", publisher.run),
                every("incident-timers", settings.timer_interval_s, timers.tick),
                every("complaint-statistics", settings.complaint_statistics_interval_s, statistics.tick),
            ],
        )

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = ReportingSettings()  # read from the environment
    await run_service(DEFINITION, CommonSettings(), compose_with(settings))
