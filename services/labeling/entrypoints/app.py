"""Composition root of `labeling`: builds real dependencies and runs the service."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from services.labeling.adapters.ledger import INDEXED_PATHS, ensure_retention_index
from services.labeling.config import LabelingSettings
from services.labeling.handlers import (
    CONTENT_DISTRIBUTED,
    CONTENT_LABELED,
    OUTPUT_APPROVED,
    SOURCE,
    LabelingHandlers,
    aggregate_id,
)
from shared.contracts import topics
from shared.messaging.engine import Handler
from shared.observability import get_logger
from shared.runtime.host import Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

log = get_logger(__name__)

DEFINITION = ServiceDefinition(
    name="labeling",
    source=SOURCE,
    description=(
        "GB 45438 implicit metadata label and explicit label for every approved output; the label "
        "ledger; the LB-9 log of unlabeled copies (DS-16..18, LB-4, LB-5, LB-9)."
    ),
    consumes={
        topics.REVIEW: (OUTPUT_APPROVED,),
        topics.PLATFORM_DISTRIBUTION: (CONTENT_DISTRIBUTED,),
    },
    publishes=(CONTENT_LABELED,),
    collection="labels",
    indexes=tuple((path,) for path in INDEXED_PATHS),
)


def build_handlers(
    settings: LabelingSettings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> LabelingHandlers:
    """The use cases with the provider's code and key; tests pass their own clock."""
    return LabelingHandlers(
        producer_code=settings.provider_code,
        key=settings.private_key(),
        clock=clock,
        retention_days=settings.lb9_retention_days,
    )


def routes(handlers: LabelingHandlers) -> Mapping[str, Handler]:
    """Event type -> handler (other review events on dsgov.review are ignored by the engine)."""
    return {
        OUTPUT_APPROVED: handlers.on_output_approved,
        CONTENT_DISTRIBUTED: handlers.on_content_distributed,
    }


async def main() -> None:
    """Run the service until it is told to stop; bad settings stop it before it consumes anything."""
    settings = LabelingSettings()  # read from the environment and validated (code, key)
    common = CommonSettings()

    async def compose(runtime: Runtime) -> Mapping[str, Handler]:
        runtime.aggregate_id = aggregate_id

        async def retention_index(stop: asyncio.Event) -> None:
            # The host creates ascending indexes only; the LB-9 TTL index is ours (runs once after start).
            await ensure_retention_index(runtime.db[DEFINITION.collection])
            log.info("lb9.retention_index_ready", days=settings.lb9_retention_days)

        runtime.workers.append(retention_index)
        return routes(build_handlers(settings))

    await run_service(DEFINITION, common, compose)
