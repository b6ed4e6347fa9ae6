"""Hosting a service: wiring the broker, the store, the engine, the relay and the health endpoint.

Each service's composition root describes itself with a `ServiceDefinition`, builds its handlers and
calls `run_service`. Clients are created here, never at import time (ARCHITECTURE rule 8).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from faststream import AckPolicy
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker, KafkaMessage
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from shared.messaging.codec import Inbound, RawRecord
from shared.messaging.engine import Engine, EngineConfig, Handler, default_aggregate_id
from shared.messaging.provisioning import sensitive_topics
from shared.messaging.publisher import Publisher
from shared.messaging.relay import OutboxRelay
from shared.observability import configure_logging, get_logger
from shared.runtime.settings import CommonSettings
from shared.storage.aggregates import AggregateStore
from shared.storage.mongo import create_client, ping

log = get_logger(__name__)


@dataclass(frozen=True)
class ServiceDefinition:
    """What a service is: its name, what it consumes and publishes, where it keeps its aggregates."""

    name: str
    source: str
    description: str
    consumes: Mapping[str, tuple[str, ...]]  # topic -> event types handled there
    publishes: tuple[str, ...]
    collection: str
    indexes: tuple[tuple[str, ...], ...] = ()  # extra ascending indexes on the collection, by field path
    publishes_on: Mapping[str, str] = field(default_factory=dict)  # type -> topic, where it has several


@dataclass
class Runtime:
    """Everything a composition root needs to build its handlers."""

    spec: ServiceDefinition
    settings: CommonSettings
    client: AsyncMongoClient[dict[str, Any]]
    db: AsyncDatabase[dict[str, Any]]
    broker: KafkaBroker
    publisher: Publisher
    store: AggregateStore
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    engine: Engine | None = None
    ready: bool = False
    background: list[asyncio.Task[None]] = field(default_factory=list)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    workers: list[Callable[[asyncio.Event], Coroutine[Any, Any, None]]] = field(default_factory=list)
    subscriber: Any = None
    # How events map to aggregates; a composition root may replace it before the engine is built.
    aggregate_id: Callable[[Inbound[Any]], str] = default_aggregate_id


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


def _crash_hook(settings: CommonSettings) -> Callable[[], None] | None:
    if settings.fault_inject != "crash_after_store_write":
        return None

    def crash() -> None:
        log.warning("fault_injected.crash_after_store_write")
        os._exit(86)

    return crash


def build_runtime(spec: ServiceDefinition, settings: CommonSettings) -> Runtime:
    """Create clients and the shared parts; nothing connects yet."""
    client = create_client(settings.mongo_uri, app_name=f"dsgov-{spec.name}")
    db = client[settings.database_for(spec.name)]
    broker = build_broker(settings, f"dsgov-{spec.name}")
    publisher = Publisher(broker, topic_prefix=settings.topic_prefix)
    store = AggregateStore(db[spec.collection])
    return Runtime(spec, settings, client, db, broker, publisher, store)


def attach_engine(runtime: Runtime, routes: Mapping[str, Handler]) -> Engine:
    """Create the engine and subscribe it to the service's topics as one batch consumer."""
    s, spec = runtime.settings, runtime.spec
    engine = Engine(
        EngineConfig(
            service=spec.name,
            source=spec.source,
            provider_id=s.provider_id,
            max_attempts=s.max_attempts,
            max_bytes=s.max_message_bytes,
            deadletter_secret=s.deadletter_key.get_secret_value(),
            sensitive_topics=sensitive_topics(),
            fault_after_store_write=_crash_hook(s),
        ),
        routes,
        runtime.store,
        runtime.publisher,
        aggregate_id=runtime.aggregate_id,
    )
    prefix = s.topic_prefix
    subscriber = runtime.broker.subscriber(
        *[prefix + t for t in spec.consumes],
        group_id=f"{prefix}dsgov.{spec.name}",
        batch=True,
        max_records=s.max_batch,
        batch_timeout_ms=s.batch_timeout_ms,
        fetch_max_wait_ms=s.fetch_max_wait_ms,
        auto_offset_reset="earliest",
        include_in_schema=False,  # documented by the typed AsyncAPI app (shared.messaging.asyncapi)
    )
    failures = 0

    @subscriber
    async def consume(msg: KafkaMessage) -> None:
        nonlocal failures
        records = [_raw(r, prefix) for r in msg.raw_message]
        try:
            report = await engine.process(records)
        except Exception:
            failures += 1
            log.exception("batch.failed_will_retry", records=len(records), consecutive=failures)
            await asyncio.sleep(min(0.2 * 2**failures, 10.0))
            raise NackMessage() from None  # seek back: the batch is redelivered, nothing is skipped
        failures = 0
        log.debug("batch.done", **report.__dict__)

    runtime.engine = engine
    runtime.subscriber = subscriber
    return engine


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


async def _connect_store(runtime: Runtime) -> None:
    # The store may come up after us (compose, make run): wait for it rather than crash-loop.
    for attempt in range(60):
        if await ping(runtime.client):
            return
        log.warning("mongo.unreachable_retrying", attempt=attempt + 1)
        await asyncio.sleep(1.0)
    raise RuntimeError(f"MongoDB at {runtime.settings.mongo_uri} did not answer")


def _assigned(runtime: Runtime) -> bool:
    consumer = getattr(runtime.subscriber, "consumer", None)
    try:
        return bool(consumer and consumer.assignment())
    except Exception:
        return False


def _health_app(runtime: Runtime) -> AsgiFastStream:
    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        ok = runtime.ready and _assigned(runtime) and await ping(runtime.client)
        return AsgiResponse(b"ready" if ok else b"not ready", 200 if ok else 503)

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        return AsgiResponse(b"live", 200)

    return AsgiFastStream(runtime.broker, asgi_routes=[("/health/ready", ready), ("/health/live", live)])


async def run_service(
    spec: ServiceDefinition,
    settings: CommonSettings,
    compose: Callable[[Runtime], Awaitable[Mapping[str, Handler]]],
) -> None:
    """Run a service until SIGTERM/SIGINT: the composition root `compose` returns its routes."""
    configure_logging(level=settings.log_level, json=settings.log_json, service=spec.name)
    runtime = build_runtime(spec, settings)
    routes = await compose(runtime)
    attach_engine(runtime, routes)
    relay = OutboxRelay(runtime.store, runtime.publisher, interval_s=settings.relay_interval_s)
    app = _health_app(runtime)

    @app.on_startup
    async def start_dependencies() -> None:
        await _connect_store(runtime)
        await runtime.store.ensure_indexes(spec.indexes)
        await runtime.broker.connect()
        # Publish what a crash left in the outbox before consuming anything new.
        sent = await relay.sweep(include_recent=True)
        log.info("service.starting", relayed=sent, topics=list(spec.consumes))

    @app.after_startup
    async def start_background() -> None:
        runtime.background.append(asyncio.create_task(relay.run(runtime.stop)))
        # Workers registered by the composition root (timers, schedulers) run until shutdown.
        runtime.background += [asyncio.create_task(work(runtime.stop)) for work in runtime.workers]
        runtime.ready = True
        log.info("service.started")

    @app.on_shutdown
    async def stop_background() -> None:
        runtime.ready = False
        runtime.stop.set()
        await asyncio.gather(*runtime.background, return_exceptions=True)

    @app.after_shutdown
    async def close_clients() -> None:
        for close in runtime.closers:
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
