"""Composition root of `console`: the read-model consumer (foundation engine) and the web app, one process.

`run_service` hosts the Kafka consumer, the outbox relay and `/health/{live,ready}` on
DSGOV_HEALTH_PORT; the FastAPI app runs beside them as a runtime worker, on its own uvicorn server
(DSGOV_HTTP_PORT), until the host's stop event is set. Signals stay with the host's server.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
from collections.abc import Callable, Coroutine, Generator
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI

from services.console.adapters.commands import CommandSender
from services.console.adapters.complaints import COMPLAINT_INDEXES, MongoComplaintDesk
from services.console.adapters.incident_reports import INCIDENT_REPORT_INDEXES, MongoIncidentBoard
from services.console.adapters.mongo import (
    AUDIT,
    LOGIN_FAILURES,
    PENDING,
    PROJECTION_INDEXES,
    PROJECTIONS,
    SESSIONS,
    SITE,
    USERS,
    MongoAuditLog,
    MongoFailureLog,
    MongoLibraryView,
    MongoPendingActions,
    MongoReadModel,
    MongoReviewDesk,
    MongoReviewView,
    MongoSessions,
    MongoSite,
    MongoUsers,
)
from services.console.adapters.rumours import RUMOUR_INDEXES, MongoRumourView, RumourCommandSender
from services.console.config import ConsoleSettings, login_limiter, web_config
from services.console.config import create_admin_command as first_admin_command
from services.console.domain.commands import LIBRARY_CHANGE, REVIEW_DECISION, SOURCE, WITHDRAWAL
from services.console.domain.complaint_resolution import RESOLUTION
from services.console.domain.complaints_view import (
    SANCTION_TYPES,
    TICKET_TYPES,
    TicketView,
    UserSanctionsView,
)
from services.console.domain.incident_reports import IncidentReportView
from services.console.domain.library_view import LibraryEntryView
from services.console.domain.passwords import Passwords
from services.console.domain.projection import CONSENT_STATUS, IDENTITY_STATUS, ConsentView, IdentityView
from services.console.domain.review_view import ITEM_TYPES, STATS_TYPES, ReviewItemView, ReviewStats
from services.console.domain.rumour_commands import CASE_CLOSE_SUBMITTED, CASE_SUBMITTED
from services.console.domain.rumour_view import CASE_TYPES, RumourCaseView
from services.console.incident_projection import incident_report_key, on_incident_report
from services.console.projections import (
    Projections,
    consent_key,
    identity_key,
    library_key,
    review_item_key,
    review_stats_key,
)
from services.console.projections_complaints import ticket_key, user_sanctions_key
from services.console.rumour_projection import on_rumour_case, rumour_case_key
from services.console.web.app import create_app, prepare_store
from services.console.web.base import ConsoleDeps
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.relay import OutboxRelay
from shared.messaging.routing import Worker, on
from shared.observability import get_logger
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings
from shared.storage.aggregates import AggregateStore

log = get_logger(__name__)

COMMANDS = (
    WITHDRAWAL,
    LIBRARY_CHANGE,
    REVIEW_DECISION,
    CASE_SUBMITTED,
    CASE_CLOSE_SUBMITTED,
    RESOLUTION,
)

DEFINITION = ServiceDefinition[Projections](
    name="console",
    source=SOURCE,
    description=(
        "The admins' web console: read models from dsgov.consent, dsgov.identity and dsgov.review; "
        "withdrawal of a biometric consent on the subject's behalf (DS-14.2, PI-15), feature-library "
        "changes (DS-10.2) and human review decisions (DS-10.1) sent as commands. "
        "Rumour cases (DS-11) read from dsgov.rumour, opened and closed by commands. "
        "The complaints inbox from dsgov.complaint, resolutions sent as commands (DS-12, GA-15, PI-50)."
    ),
    routes=(
        *(
            on(t, Projections.on_consent, ConsentView, key=consent_key, topic=topics.CONSENT)
            for t in CONSENT_STATUS
        ),
        *(
            on(t, Projections.on_identity, IdentityView, key=identity_key, topic=topics.IDENTITY)
            for t in IDENTITY_STATUS
        ),
        on(T.LIBRARY_UPDATED, Projections.on_library, LibraryEntryView, key=library_key, topic=topics.REVIEW),
        *(
            on(t, Projections.on_review_item, ReviewItemView, key=review_item_key, topic=topics.REVIEW)
            for t in ITEM_TYPES
        ),
        *(
            on(t, Projections.on_review_stats, ReviewStats, key=review_stats_key, topic=topics.REVIEW)
            for t in STATS_TYPES
        ),
        # Rumour cases (DS-11): opened (recorded) and closed, by notice id.
        *(
            on(t, on_rumour_case, RumourCaseView, key=rumour_case_key, topic=topics.RUMOUR)
            for t in CASE_TYPES
        ),
        on(T.REPORT_SUBMITTED, on_incident_report, IncidentReportView, key=incident_report_key),
        # The complaints inbox; the sanction events also feed the day counters above (two routes).
        *(
            on(t, Projections.on_ticket, TicketView, key=ticket_key, topic=topics.COMPLAINT)
            for t in TICKET_TYPES
        ),
        *(
            on(t, Projections.on_sanction, UserSanctionsView, key=user_sanctions_key, topic=topics.REVIEW)
            for t in SANCTION_TYPES
        ),
    ),
    publishes=COMMANDS,
    publishes_on=dict.fromkeys(COMMANDS, topics.CONSOLE_COMMANDS),
    collection=PROJECTIONS,
    indexes=(*PROJECTION_INDEXES, *RUMOUR_INDEXES, *INCIDENT_REPORT_INDEXES, *COMPLAINT_INDEXES),
)


class WebFailed(Exception):
    """The web server stopped without being asked to (port taken, say)."""


class _WebServer(uvicorn.Server):
    """A uvicorn server that leaves SIGINT/SIGTERM to the host's server and stops on the stop event."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def build_deps(
    runtime: Runtime, settings: ConsoleSettings, clock: Callable[[], datetime]
) -> tuple[ConsoleDeps, AggregateStore]:
    """The web app's dependencies over the runtime's clients; also the audit store (it has an outbox)."""
    db = runtime.db
    provider = runtime.settings.provider_id
    projections = runtime.store.collection
    audit_store = AggregateStore(db[AUDIT])
    commands = CommandSender(
        audit_store, runtime.publisher, publish_timeout_s=settings.publish_timeout_s, provider_id=provider
    )
    deps = ConsoleDeps(
        users=MongoUsers(db[USERS]),
        sessions=MongoSessions(db[SESSIONS]),
        audit=MongoAuditLog(audit_store),
        read_model=MongoReadModel(projections, provider),
        commands=commands,
        limiter=login_limiter(MongoFailureLog(db[LOGIN_FAILURES], settings.login_window_s), settings),
        passwords=Passwords(),
        config=web_config(settings, runtime.settings),
        library=MongoLibraryView(projections, provider),
        reviews=MongoReviewView(projections, provider),
        rumours=MongoRumourView(projections, provider),
        rumour_commands=RumourCommandSender(
            audit_store, runtime.publisher, publish_timeout_s=settings.publish_timeout_s, provider_id=provider
        ),
        desk=MongoReviewDesk(audit_store),
        pending=MongoPendingActions(db[PENDING]),
        site=MongoSite(db[SITE]),
        incidents=MongoIncidentBoard(projections, provider),
        clock=clock,
        complaints=MongoComplaintDesk(projections, audit_store, commands, provider),
    )
    return deps, audit_store


def create_admin_command(common: CommonSettings) -> str:
    """The exact command that creates the first admin in this console's store (credentials masked)."""
    return first_admin_command(common)


async def prepare(deps: ConsoleDeps, settings: ConsoleSettings, common: CommonSettings) -> None:
    """Indexes of the console's own collections; say how to create the first admin when there is none."""
    await prepare_store(deps)
    if await deps.users.count() == 0:
        log.warning(
            "console.no_users",
            create_first_admin=create_admin_command(common),
            see="services/console/README.md",
        )
    if settings.insecure_cookies and not _loopback(settings.http_host):
        log.warning("console.insecure_cookies_on_public_address", host=settings.http_host)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def web_worker(
    app: FastAPI, deps: ConsoleDeps, settings: ConsoleSettings, common: CommonSettings, failures: list[str]
) -> Callable[[asyncio.Event], Coroutine[Any, Any, None]]:
    """A runtime worker serving `app` until the stop event; a failed server stops the whole process."""

    async def serve(stop: asyncio.Event) -> None:
        await prepare(deps, settings, common)
        server = _WebServer(
            uvicorn.Config(
                app,
                host=settings.http_host,
                port=settings.http_port,
                lifespan="off",
                log_config=None,
                access_log=False,
                server_header=False,
                proxy_headers=settings.forwarded_allow_ips is not None,
                forwarded_allow_ips=settings.forwarded_allow_ips,
                timeout_graceful_shutdown=10,
            )
        )
        serving = asyncio.create_task(_serve(server))
        stopping = asyncio.create_task(stop.wait())
        log.info("console.web_starting", url=f"http://{settings.http_host}:{settings.http_port}/")
        done, _ = await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if serving in done:
            stopping.cancel()
            failures.append(repr(serving.exception()) if serving.exception() else "stopped")
            log.error("console.web_failed", error=failures[-1])
            # Stop the whole process the way the supervisor would: the host shuts down gracefully and
            # its uvicorn server re-raises the signal, so the exit status is "terminated by SIGTERM".
            os.kill(os.getpid(), signal.SIGTERM)
            return
        server.should_exit = True
        await serving

    return serve


async def _serve(server: uvicorn.Server) -> None:
    try:
        await server.serve()
    except SystemExit as exc:  # uvicorn exits this way when it cannot bind
        raise WebFailed(f"web server could not start (exit {exc.code})") from None
    if not server.should_exit:
        raise WebFailed("web server stopped by itself")


async def main() -> int:
    """Run the console until it is told to stop; non-zero when the web server failed."""
    settings = ConsoleSettings()  # read from the environment
    common = CommonSettings()
    failures: list[str] = []

    def clock() -> datetime:
        return datetime.now(UTC)

    async def compose(runtime: Runtime) -> Composition[Projections]:
        deps, audit_store = build_deps(runtime, settings, clock)
        audit_relay = OutboxRelay(audit_store, runtime.publisher, interval_s=common.relay_interval_s)

        async def first_sweep(stop: asyncio.Event) -> None:
            # Commands a crash left unsent go out before anything new (the relay then keeps sweeping).
            sent = await audit_relay.sweep(include_recent=True)
            if sent:
                log.info("console.commands_relayed_at_start", messages=sent)

        workers = [
            Worker("console-web", web_worker(create_app(deps), deps, settings, common, failures)),
            Worker("audit-outbox-relay", audit_relay.run),
            Worker("audit-first-sweep", first_sweep),
        ]
        return Composition(Projections(clock), workers=workers)

    await run_service(DEFINITION, common, compose)
    return 1 if failures else 0
