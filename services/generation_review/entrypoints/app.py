"""Composition root of `generation_review`: the service's definition, its dependencies, and its start."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.generation_review.adapters.coalescing import CoalescingDirectory
from services.generation_review.adapters.mongo import MongoCatalogueSource, MongoDirectory
from services.generation_review.catalogue import Catalogues
from services.generation_review.config import ReviewSettings
from services.generation_review.domain.library import LibraryState, seed
from services.generation_review.domain.projections import ConsentState, UserState
from services.generation_review.domain.request import RequestState
from services.generation_review.domain.rumours import RumourState
from services.generation_review.handlers import (
    CONSENT,
    REQUEST,
    RUMOUR,
    USER,
    ReviewHandlers,
    library_key,
    library_of,
    user_of_decision,
    user_of_resolution,
)
from services.generation_review.outbound import SOURCE, library_event
from services.generation_review.ports import Directory
from shared.contracts import types as T
from shared.messaging.operations import Operations
from shared.messaging.replies import Cause
from shared.messaging.routing import Outcome, every, on, prefixed
from shared.observability import get_logger
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

log = get_logger(__name__)

H = ReviewHandlers
IDENTITY = (T.IDENTITY_VERIFIED, T.IDENTITY_REJECTED)
CONSENTS = (T.CONSENT_GRANTED, T.CONSENT_REJECTED, T.CONSENT_WITHDRAWN, T.CONSENT_EXPIRED)
# Its own decisions: one that confirms a violation becomes a strike on the user.
STRIKE_SOURCES = (T.GENERATION_REJECTED, T.OUTPUT_BLOCKED)
SEED_ACTOR = "system:demo-library"

DEFINITION = ServiceDefinition[ReviewHandlers](
    name="generation_review",
    source=SOURCE,
    description=(
        "Review of inputs and outputs against a feature library and known rumours, human review "
        "queue, enforcement ladder on users (DS-10.1-10.3, DS-11, DS-14.2, DS-17, GA-14)."
    ),
    routes=(
        on(T.GENERATION_REQUESTED, H.on_requested, RequestState, key=prefixed(REQUEST)),
        on(T.GENERATION_COMPLETED, H.on_completed, RequestState, key=prefixed(REQUEST)),
        on(T.REVIEW_DECISION_SUBMITTED, H.on_review_decision, RequestState, key=prefixed(REQUEST)),
        on(T.LIBRARY_CHANGE_SUBMITTED, H.on_library_change, LibraryState, key=library_of),
        *(on(t, H.on_identity, UserState, key=prefixed(USER)) for t in IDENTITY),
        *(on(t, H.on_consent, ConsentState, key=prefixed(CONSENT)) for t in CONSENTS),
        on(T.RUMOUR_RECORDED, H.on_rumour, RumourState, key=prefixed(RUMOUR)),
        *(on(t, H.on_own_decision, UserState, key=user_of_decision) for t in STRIKE_SOURCES),
        on(T.COMPLAINT_RESOLVED, H.on_complaint_resolved, UserState, key=user_of_resolution),
    ),
    publishes=(
        T.GENERATION_APPROVED,
        T.GENERATION_REJECTED,
        T.OUTPUT_APPROVED,
        T.OUTPUT_BLOCKED,
        T.USER_SANCTIONED,
        T.REVIEW_QUEUED,
        T.REVIEW_RESOLVED,
        T.LIBRARY_UPDATED,
        T.USER_SANCTION_LIFTED,
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


def load_seed(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The entries of a seed file and the operation id that loads it (its content hash)."""
    raw = path.read_bytes()
    entries: list[dict[str, Any]] = json.loads(raw)["entries"]
    return f"seed:{hashlib.sha256(raw).hexdigest()[:16]}", entries


async def seed_library(operations: Operations, provider_id: str, path: Path, now: datetime) -> int:
    """Load the demo library into the provider's library if it is empty (one write with its outbox).

    One `dsgov.library.updated` per entry, published by the shared save step. Returns how many
    entries were loaded (0 when the library had entries, or this file was loaded before).
    """
    file_op, entries = load_seed(path)
    operation_id = f"{file_op}:{provider_id}"  # one operation per provider: ids stay unique per tenant
    cause = Cause.operation(operation_id, provider_id)
    loaded = 0

    def decide(state: LibraryState | None) -> Outcome[LibraryState]:
        nonlocal loaded
        decisions = seed(state, provider_id, entries, SEED_ACTOR, now)
        loaded = len(decisions)
        if not decisions:
            return Outcome(None)
        return Outcome(decisions[-1].state, [library_event(d, cause, now) for d in decisions])

    await operations.apply(library_key(provider_id), operation_id, LibraryState, decide)
    if loaded:
        log.info("library.seeded", provider_id=provider_id, entries=loaded, file=str(path))
    return loaded


def library_readiness(
    catalogues: Catalogues, providers: Iterable[str]
) -> Callable[[], Awaitable[str | None]]:
    """Not ready while a served provider has no approved feature library (its requests are held)."""
    served = tuple(providers)

    async def reason() -> str | None:
        empty = await catalogues.without_library(served)
        if not empty:
            return None
        which = ", ".join(empty)
        return f"provider {which} has no approved feature library (requests held for review: library_empty)"

    return reason


def compose_with(
    settings: ReviewSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> Callable[[Runtime], Awaitable[Composition[ReviewHandlers]]]:
    """The composition step `run_service` calls once the store answers."""

    async def compose(runtime: Runtime) -> Composition[ReviewHandlers]:
        providers = sorted(runtime.settings.served_providers)
        if settings.demo_library:
            for provider in providers:
                await seed_library(runtime.operations, provider, settings.demo_library_path, clock())
        collection = runtime.db[DEFINITION.collection]
        catalogues = Catalogues(MongoCatalogueSource(collection), settings.policy().rumours)
        for provider in providers:
            await catalogues.get(provider)  # loaded before anything is consumed
        directory = CoalescingDirectory(MongoDirectory(collection))
        return Composition(
            build_handlers(settings, directory, catalogues, clock),
            workers=[every("catalogue-refresh", settings.refresh_interval_s, catalogues.refresh_all)],
            readiness=library_readiness(catalogues, providers),
        )

    return compose


async def main() -> None:
    """Run the service until it is told to stop."""
    await run_service(DEFINITION, CommonSettings(), compose_with(ReviewSettings()))
