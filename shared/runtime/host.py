"""Hosting a service: wiring the broker, the store, the engine, the relay and the health endpoint.

Each service declares itself with a `ServiceDefinition` (routes, publications, collection); its
composition root builds the handlers object and workers (`Composition`) once the store answers, and
`run_service` derives the rest: the consumer, the engine, the relay, health. Clients are created
here, never at import time (ARCHITECTURE rule 8).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import uvicorn
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker, KafkaMessage
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.operations import Operations
from shared.messaging.provisioning import sensitive_topics
from shared.messaging.publisher import Publisher
from shared.messaging.relay import OutboxRelay
from shared.messaging.routing import Route, Worker, consumed_topics
from shared.observability import configure_logging, get_logger
from shared.runtime.settings import CommonSettings
from shared.storage.aggregates import AggregateStore
from shared.storage.mongo import create_client, ping

log = get_logger(__name__)

H = TypeVar("H")


@dataclass(frozen=True)
class ServiceDefinition(Generic[H]):
    """What a service is, declared once: name, routes, what it publishes, where its aggregates live.

    Consumed topics, the AsyncAPI document and each event's aggregate key are derived from `routes`.
    """

    name: str
    source: str
    description: str
    routes: tuple[Route[H, Any], ...]
    publishes: tuple[str, ...]
    collection: str
    indexes: tuple[tuple[str, ...], ...] = ()  # extra ascending indexes on the collection, by field path
    publishes_on: Mapping[str, str] = field(default_factory=dict)  # type -> topic, where it has several

    @property
    def consumes(self) -> dict[str, tuple[str, ...]]:
        """Topic → event types handled there."""
        return consumed_topics(self.routes)


@dataclass(frozen=True)
class RawConsumer:
    """A batch consumer of raw records, for an audit service that keeps every record of `topics`.

    It replaces per-type routes: the engine would dead-letter the types it does not route.

    `handle` must make the batch durable before it returns; offsets are committed only then.
    """

    topics: tuple[str, ...]
    handle: Callable[[list[RawRecord]], Awaitable[object]]


@dataclass(frozen=True)
class Composition(Generic[H]):
    """What a composition root built: the handlers object its routes bind to, and its workers.

    `readiness` names why the service is not ready to serve (None when it is): the health endpoint
    answers 503 with that reason, e.g. a provider whose feature library is empty.
    """

    handlers: H
    workers: Sequence[Worker] = ()
    closers: Sequence[Callable[[], Awaitable[None]]] = ()
    readiness: Callable[[], Awaitable[str | None]] | None = None
    raw: RawConsumer | None = None  # consume raw batches instead of the routes (network_log)


@dataclass
class Runtime:
    """Everything a composition root needs to build its handlers; store and broker are connected already."""

    spec: ServiceDefinition[Any]
    settings: CommonSettings
    client: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    broker: KafkaBroker
    publisher: Publisher
    store: AggregateStore
    operations: Operations
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def build_broker(settings: CommonSettings, client_id: str) -> KafkaBroker:
    """A broker that commits offsets only after the handler returned (never auto-commit)."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        ack_policy=AckPolicy.ACK,
        graceful_timeout=settings.graceful_timeout_s,
        allow_auto_create_topics=False,  # topics come from infra/kafka/topics.toml
        client_id=client_id,
        max_request_size=max(settings.max_message_bytes * 2, 1_048_576),
        linger_ms=2,
        logger=logging.getLogger("faststream.kafka"),
    )


def build_runtime(spec: ServiceDefinition[Any], settings: CommonSettings) -> Runtime:
    """Create clients and the shared parts; nothing connects yet."""
    client = create_client(settings.mongo_uri, app_name=f"dsgov-{spec.name}")
    db = client[settings.database_for(spec.name)]
    broker = build_broker(settings, f"dsgov-{spec.name}")
    publisher = Publisher(broker, topic_prefix=settings.topic_prefix)
    store = AggregateStore(db[spec.collection])
    operations = Operations(store, publisher, spec.publishes_on)
    return Runtime(spec, settings, client, db, broker, publisher, store, operations)


def engine_config(spec: ServiceDefinition[Any], s: CommonSettings) -> EngineConfig:
    """The engine's settings for `spec` from the environment."""
    return EngineConfig(
        service=spec.name,
        source=spec.source,
        provider_ids=s.served_providers,
        max_attempts=s.max_attempts,
        max_bytes=s.max_message_bytes,
        deadletter_secret=s.deadletter_key.get_secret_value(),
        sensitive_topics=sensitive_topics(),
        publishes_on=spec.publishes_on,
    )


def attach_engine(runtime: Runtime, handlers: H) -> tuple[Engine, Any]:
    """Create the engine over the bound routes and subscribe it to their topics as one batch consumer."""
    spec = runtime.spec
    routes = [r.bind(handlers) for r in spec.routes]
    engine = Engine(engine_config(spec, runtime.settings), routes, runtime.store, runtime.publisher)

    async def process(records: list[RawRecord]) -> None:
        report = await engine.process(records)
        log.debug("batch.done", **report.__dict__)

    return engine, attach_batches(runtime, tuple(spec.consumes), process)


def attach_batches(
    runtime: Runtime, topics: tuple[str, ...], process: Callable[[list[RawRecord]], Awaitable[object]]
) -> Any:
    """Subscribe `process` to `topics` as one batch consumer; a failed batch is redelivered whole."""
    s, spec = runtime.settings, runtime.spec
    prefix = s.topic_prefix
    subscriber = runtime.broker.subscriber(
        *[prefix + t for t in topics],
        group_id=f"{prefix}dsgov.{spec.name}",
        batch=True,
        max_records=s.max_batch,
        batch_timeout_ms=s.batch_timeout_ms,
        fetch_max_wait_ms=s.fetch_max_wait_ms,
        auto_offset_reset="earliest",
        include_in_schema=False,  # documented by the typed AsyncAPI app (shared.messaging.asyncapi)
        decoder=_undecoded,
    )
    failures = 0

    @subscriber
    async def consume(msg: KafkaMessage) -> None:
        nonlocal failures
        records = [_raw(r, prefix) for r in msg.raw_message]
        try:
            await process(records)
        except Exception:
            failures += 1
            log.exception("batch.failed_will_retry", records=len(records), consecutive=failures)
            await asyncio.sleep(min(0.2 * 2**failures, 10.0))
            raise NackMessage() from None  # seek back: the batch is redelivered, nothing is skipped
        failures = 0

    return subscriber


async def _undecoded(msg: KafkaMessage) -> None:
    # Handlers read `msg.raw_message` and decode each record themselves (dead-lettering what does
    # not parse); FastStream's own per-record decoding (a message object and a JSON parse per
    # record) would only be thrown away.
    del msg


def _raw(record: Any, prefix: str) -> RawRecord:
    topic: str = record.topic
    return RawRecord(
        topic=topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value or b"",
        timestamp_ms=record.timestamp or 0,
    )


async def connect_store(client: AsyncMongoClient[dict[str, Any]], uri: str, attempts: int = 60) -> None:
    """Wait until the store answers: it may come up after us (compose, make run); then fail clearly."""
    for attempt in range(attempts):
        if await ping(client):
            return
        log.warning("mongo.unreachable_retrying", attempt=attempt + 1)
        await asyncio.sleep(1.0)
    raise RuntimeError(f"MongoDB at {uri} did not answer")


def _assigned(subscriber: Any) -> bool:
    consumer = getattr(subscriber, "consumer", None)
    try:
        return bool(consumer and consumer.assignment())
    except Exception:
        return False


@dataclass
class _Health:
    runtime: Runtime
    composition: Composition[Any]
    subscriber: Any
    started: bool = False

    async def reason(self) -> str | None:
        """Why the service is not ready, or None."""
        if not self.started:
            return "starting"
        if not _assigned(self.subscriber):
            return "no partitions assigned"
        if not await ping(self.runtime.client):
            return "store unreachable"
        check = self.composition.readiness
        return await check() if check else None


def _health_app(runtime: Runtime, health: _Health) -> AsgiFastStream:
    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        reason = await health.reason()
        if reason is None:
            return AsgiResponse(b"ready", 200)
        return AsgiResponse(f"not ready: {reason}".encode(), 503)

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return AsgiResponse(b"live", 200)

    return AsgiFastStream(runtime.broker, asgi_routes=[("/health/ready", ready), ("/health/live", live)])


async def run_service(
    spec: ServiceDefinition[H],
    settings: CommonSettings,
    compose: Callable[[Runtime], Awaitable[Composition[H]]],
) -> None:
    """Run a service until SIGTERM/SIGINT; `compose` builds its handlers once the store answers."""
    configure_logging(level=settings.log_level, json=settings.log_json, service=spec.name)
    runtime = build_runtime(spec, settings)
    await connect_store(runtime.client, settings.mongo_uri)
    await runtime.store.ensure_indexes(spec.indexes)
    # Connected before composition: a composition root may publish through `runtime.operations`
    # (a seed, say); connecting again at start-up is a no-op.
    await runtime.broker.connect()
    composition = await compose(runtime)
    engine: Engine | None = None
    if composition.raw is not None:
        subscriber = attach_batches(runtime, composition.raw.topics, composition.raw.handle)
    else:
        engine, subscriber = attach_engine(runtime, composition.handlers)
    relay = OutboxRelay(runtime.store, runtime.publisher, interval_s=settings.relay_interval_s)
    health = _Health(runtime, composition, subscriber)
    app = _health_app(runtime, health)
    background: list[asyncio.Task[None]] = []

    @app.on_startup
    async def start_dependencies() -> None:
        await runtime.broker.connect()
        # Publish what a crash left in the outbox before consuming anything new.
        sent = await relay.sweep(include_recent=True)
        log.info("service.starting", relayed=sent, topics=list(spec.consumes))

    @app.after_startup
    async def start_background() -> None:
        workers = [Worker("outbox-relay", relay.run), *composition.workers]
        background.extend(asyncio.create_task(w.run(runtime.stop), name=w.name) for w in workers)
        health.started = True
        log.info("service.started", workers=[w.name for w in workers])

    @app.on_shutdown
    async def stop_background() -> None:
        health.started = False
        runtime.stop.set()
        await asyncio.gather(*background, return_exceptions=True)

    @app.after_shutdown
    async def close_clients() -> None:
        if engine is not None:
            await engine.settle()  # the consumer has stopped: finish marking its last outboxes sent
        for close in composition.closers:
            await close()
        await runtime.client.close()
        log.info("service.stopped")

    if settings.health_port:
        config = uvicorn.Config(
            app,
            host=settings.health_host,
            port=settings.health_port,
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        await uvicorn.Server(config).serve()
    else:
        await app.run()
