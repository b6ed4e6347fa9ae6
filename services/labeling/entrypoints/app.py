"""Composition root of `labeling`: builds real dependencies and runs the service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from services.labeling.adapters.ledger import INDEXED_PATHS, retention_index_worker
from services.labeling.config import LabelingSettings
from services.labeling.domain.ledger import ContentLedger, UnlabeledCopy
from services.labeling.handlers import LabelingHandlers, copy_key, ledger_key
from services.labeling.outbound import SOURCE
from shared.contracts import types as T
from shared.messaging.routing import on
from shared.runtime.host import Composition, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings

DEFINITION = ServiceDefinition[LabelingHandlers](
    name="labeling",
    source=SOURCE,
    description=(
        "GB 45438 implicit metadata label and explicit label for every approved output; the label "
        "ledger; the LB-9 log of unlabeled copies (DS-16..18, LB-4, LB-5, LB-9)."
    ),
    routes=(
        # Other review events on dsgov.review are ignored by the engine.
        on(T.OUTPUT_APPROVED, LabelingHandlers.on_output_approved, ContentLedger, key=ledger_key),
        on(T.CONTENT_DISTRIBUTED, LabelingHandlers.on_content_distributed, UnlabeledCopy, key=copy_key),
    ),
    publishes=(T.CONTENT_LABELED,),
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


async def main() -> None:
    """Run the service until it is told to stop; bad settings stop it before it consumes anything."""
    settings = LabelingSettings()  # read from the environment and validated (code, key)
    common = CommonSettings()

    async def compose(runtime: Runtime) -> Composition[LabelingHandlers]:
        retention = retention_index_worker(runtime.db[DEFINITION.collection], settings.lb9_retention_days)
        return Composition(build_handlers(settings), workers=[retention])

    await run_service(DEFINITION, common, compose)
