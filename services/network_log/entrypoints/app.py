"""Composition root of `network_log`: the raw batch consumer, the sealer and the retention job."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.network_log.adapters.crypto import AesGcmCipher, random_salt
from services.network_log.adapters.mongo import MongoLogStore
from services.network_log.config import NetworkLogSettings
from services.network_log.handlers import NetworkLogHandlers
from services.network_log.outbound import SOURCE, dead_letters
from shared.contracts import topics
from shared.contracts.registry import types_on
from shared.messaging.codec import RawRecord
from shared.messaging.routing import every
from shared.observability import get_logger
from shared.runtime.host import Composition, RawConsumer, Runtime, ServiceDefinition, run_service
from shared.runtime.settings import CommonSettings
from shared.storage.outbox import OutboxMessage

log = get_logger(__name__)

# The audit trail covers every dsgov topic (CS-1, SA-5, AR-28, DS-21, LB-9).
AUDITED_TOPICS: tuple[str, ...] = topics.ALL_TOPICS


@dataclass(frozen=True)
class AuditDefinition(ServiceDefinition[NetworkLogHandlers]):
    """A service that consumes whole topics raw; its AsyncAPI lists every type they carry."""

    audited: tuple[str, ...] = ()

    @property
    def consumes(self) -> dict[str, tuple[str, ...]]:
        """Topic → every contract type on it."""
        return {t: types_on(t) for t in self.audited}


DEFINITION = AuditDefinition(
    name="network_log",
    source=SOURCE,
    description=(
        "Network logs and the audit trail of every dsgov topic, kept at least six months, "
        "sealed hourly into signed Merkle checkpoints and exported for inspection "
        "(CS-1, SA-5, AR-28, DS-21, LB-9)."
    ),
    routes=(),
    publishes=(),
    collection="outbox",  # the engine's aggregates are unused here; the log has its own collections
    audited=AUDITED_TOPICS,
)


def build_handlers(
    settings: NetworkLogSettings,
    common: CommonSettings,
    db: AsyncDatabase[dict[str, Any]],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[NetworkLogHandlers, MongoLogStore]:
    """The use cases over the Mongo store; tests pass their own clock."""
    store = MongoLogStore(db)
    handlers = NetworkLogHandlers(
        store=store,
        cipher=AesGcmCipher(settings.encryption_key.get_secret_value()),
        signer=settings.signer(),
        log_name=settings.log_name,
        providers=common.served_providers,
        retention=settings.retention,
        segment_ms=settings.segment_ms,
        clock=clock,
        salt=random_salt,
        max_bytes=common.max_message_bytes,
    )
    return handlers, store


async def main() -> None:
    """Run the service until it is told to stop."""
    settings = NetworkLogSettings()  # refuses a retention below 184 days (CS-1)
    common = CommonSettings()

    async def compose(runtime: Runtime) -> Composition[NetworkLogHandlers]:
        handlers, store = build_handlers(settings, common, runtime.db)
        await store.ensure_indexes()
        secret = common.deadletter_key.get_secret_value()
        fallback = min(common.served_providers)

        async def handle(records: list[RawRecord]) -> None:
            report = await handlers.append(records)
            if report.rejected:
                events = dead_letters(
                    report.rejected, fallback_provider=fallback, now=handlers.clock(), secret=secret
                )
                await runtime.publisher.publish([OutboxMessage.from_event(e) for e in events])
            # Counts only: entries hold personal information and are never logged (PI-51).
            log.debug(
                "log.appended",
                appended=report.appended,
                duplicates=report.duplicates,
                skipped=report.skipped,
                dead_letters=len(report.rejected),
            )

        async def seal() -> None:
            for cp in await handlers.seal_due():
                log.info("log.sealed", size=cp.size, root=cp.root, key_id=cp.key_id)

        async def retain() -> None:
            if removed := await handlers.enforce_retention():
                log.info("log.retention_removed", entries=removed, retention_days=settings.retention_days)

        return Composition(
            handlers,
            workers=[
                every("seal-segments", settings.seal_interval_s, seal),
                every("retention", settings.retention_interval_s, retain),
            ],
            raw=RawConsumer(DEFINITION.audited, handle),
        )

    await run_service(DEFINITION, common, compose)
