"""Composition root of `generation_review`: builds real dependencies and runs the service."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.generation_review.adapters.coalescing import CoalescingDirectory
from services.generation_review.adapters.mongo import MongoCatalogueSource, MongoDirectory
from services.generation_review.catalogue import Catalogues
from services.generation_review.config import ReviewSettings
from services.generation_review.domain.library import seed
from services.generation_review.handlers import SOURCE, ReviewHandlers, library_event, seed_cause
from services.generation_review.keys import LIBRARY_CHANGE, aggregate_id, library_key
from services.generation_review.ports import Directory
from shared.contracts import topics
from shared.messaging.engine import Handler
from shared.observability import get_logger
from shared.runtime.host import Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings
from shared.storage.aggregates import AggregateStore
from shared.storage.mongo import ping
from shared.storage.outbox import OutboxMessage

log = get_logger(__name__)

REQUESTED = "dsgov.generation.requested"
COMPLETED = "dsgov.generation.completed"
REVIEW_DECISION = "dsgov.review.decision-submitted"
IDENTITY = ("dsgov.identity.verified", "dsgov.identity.rejected")
CONSENT = (
    "dsgov.consent.granted",
    "dsgov.consent.rejected",
    "dsgov.consent.withdrawn",
    "dsgov.consent.expired",
)
RUMOUR_RECORDED = "dsgov.rumour.recorded"
STRIKE_SOURCES = ("dsgov.generation.rejected", "dsgov.output.blocked")

DEFINITION = ServiceDefinition(
    name="generation_review",
    source=SOURCE,
    description=(
        "Review of inputs and outputs against a feature library and known rumours, human review "
        "queue, enforcement ladder on users (DS-10.1-10.3, DS-11, DS-14.2, DS-17, GA-14)."
    ),
    consumes={
        topics.PLATFORM_GENERATION: (REQUESTED, COMPLETED),
        topics.CONSOLE_COMMANDS: (REVIEW_DECISION, LIBRARY_CHANGE),
        topics.IDENTITY: IDENTITY,
        topics.CONSENT: CONSENT,
        topics.RUMOUR: (RUMOUR_RECORDED,),
        # Its own decisions: one that confirms a violation becomes a strike on the user.
        topics.REVIEW: STRIKE_SOURCES,
    },
    publishes=(
        "dsgov.generation.approved",
        "dsgov.generation.rejected",
        "dsgov.output.approved",
        "dsgov.output.blocked",
        "dsgov.user.sanctioned",
        "dsgov.review.queued",
        "dsgov.review.resolved",
        "dsgov.library.updated",
    ),
    collection="reviews",
    # Consents by grantee (input and output review); rumours by write time (the catalogue refresh).
    indexes=(("state.grantee_user_id",), ("state.kind", "updated_ms")),
)


def build_handlers(
    settings: ReviewSettings,
    directory: Directory,
    catalogues: Catalogues,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReviewHandlers:
    """The use cases with their ports; tests pass their own directory, catalogues and clock."""
    return ReviewHandlers(directory=directory, catalogues=catalogues, policy=settings.policy(), clock=clock)


def routes(handlers: ReviewHandlers) -> Mapping[str, Handler]:
    """Event type -> handler."""
    table: dict[str, Handler] = {
        REQUESTED: handlers.on_requested,
        COMPLETED: handlers.on_completed,
        REVIEW_DECISION: handlers.on_review_decision,
        LIBRARY_CHANGE: handlers.on_library_change,
        RUMOUR_RECORDED: handlers.on_rumour,
    }
    table |= {t: handlers.on_identity for t in IDENTITY}
    table |= {t: handlers.on_consent for t in CONSENT}
    table |= {t: handlers.on_own_decision for t in STRIKE_SOURCES}
    return table


def load_seed(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The entries of a seed file and the operation id that loads it (its content hash)."""
    raw = path.read_bytes()
    entries: list[dict[str, Any]] = json.loads(raw)["entries"]
    return f"seed:{hashlib.sha256(raw).hexdigest()[:16]}", entries


async def seed_library(store: AggregateStore, provider_id: str, path: Path, now: datetime) -> int:
    """Load the demo library into an empty library: one document write with its outbox.

    The outbox (`dsgov.library.updated` per entry) is published by the relay's start-up sweep.
    Returns how many entries were loaded (0 when the library had entries already).
    """
    operation_id, entries = load_seed(path)
    for _ in range(5):
        agg = await store.load(library_key(provider_id))
        if agg.has_processed(operation_id):
            return 0
        decisions = seed(agg.state, provider_id, entries, "system:demo-library", now)
        if not decisions:
            return 0
        cause = seed_cause(operation_id)
        events = [library_event(d, provider_id, cause, now) for d in decisions]
        agg.record(operation_id, decisions[-1].state, [OutboxMessage.from_event(e) for e in events])
        if not await store.save_many([agg]):
            log.info("library.seeded", provider_id=provider_id, entries=len(decisions), file=str(path))
            return len(decisions)
    raise RuntimeError("the library document kept changing while seeding")


async def _wait_for_store(runtime: Runtime) -> None:
    # The library must be loaded before the first decision; the store may come up after us.
    for attempt in range(60):
        if await ping(runtime.client):
            return
        log.warning("mongo.unreachable_retrying", attempt=attempt + 1)
        await asyncio.sleep(1.0)
    raise RuntimeError(f"MongoDB at {runtime.settings.mongo_uri} did not answer")


def compose_with(
    settings: ReviewSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Mapping[str, Handler]]]:
    """The composition step `run_service` calls once the runtime's clients exist."""

    async def compose(runtime: Runtime) -> Mapping[str, Handler]:
        runtime.aggregate_id = aggregate_id
        collection = runtime.store.collection
        provider = runtime.settings.provider_id
        await _wait_for_store(runtime)
        if settings.demo_library:
            await seed_library(runtime.store, provider, settings.demo_library_path, clock())
        policy = settings.policy()
        catalogues = Catalogues(
            MongoCatalogueSource(collection), policy.rumours, interval_s=settings.refresh_interval_s
        )
        await catalogues.get(provider)  # loaded before anything is consumed
        runtime.workers.append(catalogues.run)
        directory = CoalescingDirectory(MongoDirectory(collection))
        return routes(build_handlers(settings, directory, catalogues, clock))

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = ReviewSettings()  # read from the environment
    await run_service(DEFINITION, CommonSettings(), compose_with(settings))
