"""The processing engine every service runs: decode → tenant → dedupe → load → decide → save+outbox → publish.

A batch of records is decoded; bad ones become dead letters, and so do events of a provider this
deployment does not serve (`unknown_provider`, before any state exists). Valid events are grouped
by aggregate (each route names its key; an event with several routes, e.g. a read-model service
that keeps per-day counters and per-user histories of the same event, goes to each route's
aggregate) and folded through the service's handlers in offset order
(so order per subject holds), each handler seeing the aggregate's typed state. Each aggregate is
then written once, with its new state, its new outbox entries and the ids of the events it
processed, in one document write. Only then are the outbox entries published and, once Kafka
acknowledged every one, the batch. A crash at any point loses nothing: the batch is redelivered,
processed ids are skipped, and pending outbox entries are published again.

Marking the published outboxes sent is off the critical path (issue 15): it runs while the
consumer commits and fetches the next batch, and the next batch waits for it before reading the
store. A crash before it only leaves entries the relay publishes a second time, which consumers
drop by event id; nothing is lost.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pymongo.errors import ConnectionFailure, ExecutionTimeout, NetworkTimeout

from shared.contracts.deadletter import ErrorCode
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import DecodeFailure, Ignored, Inbound, RawRecord, decode
from shared.messaging.deadletter import dead_letter_event
from shared.messaging.operations import MAX_CONFLICT_ROUNDS, Operations, OutboxPublisher
from shared.messaging.routing import BoundRoute, Outcome
from shared.observability import bind_message, get_logger
from shared.storage.aggregates import Aggregate, AggregateRepository, AggregateState
from shared.storage.outbox import OutboxMessage

__all__ = ["BatchReport", "Engine", "EngineConfig", "Outcome", "Unprocessable"]

S = TypeVar("S", bound=AggregateState)

log = get_logger(__name__)

# Infrastructure errors are never dead-lettered: the batch is retried until the store or the
# broker is back, because the input itself is fine (nothing is lost, order per subject holds).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    NetworkTimeout,
    ExecutionTimeout,
    KafkaConnectionError,
    KafkaTimeoutError,
)


class Unprocessable(Exception):
    """Raised by a handler for an event that can never succeed; dead-lettered without retries."""


@dataclass(frozen=True)
class EngineConfig:
    """How the engine names itself and treats failures."""

    service: str
    source: str
    provider_ids: frozenset[str]  # the providers (tenants) this deployment serves
    max_attempts: int = 3
    retry_backoff_s: tuple[float, ...] = (0.05, 0.5, 2.0)
    max_bytes: int = 1_000_000
    deadletter_secret: str | None = None
    sensitive_topics: frozenset[str] = frozenset()
    publishes_on: Mapping[str, str] = field(default_factory=dict)  # type -> topic, where it has several

    @property
    def fallback_provider(self) -> str:
        """The provider a dead letter is filed under when its record names none (sorted: stable)."""
        return min(self.provider_ids)


@dataclass
class BatchReport:
    """Counts for one processed batch (logged, and returned to tests and benchmarks)."""

    processed: int = 0
    duplicates: int = 0
    ignored: int = 0
    dead_letters: int = 0
    published: int = 0


@dataclass
class _DeadLetter:
    record: RawRecord
    code: ErrorCode
    detail: str
    attempts: int
    event: CloudEvent | None = None
    event_id: str | None = None
    event_type: str | None = None


@dataclass
class _Fold:
    aggregate: Aggregate
    events: list[tuple[Inbound[Any], BoundRoute]]
    dead: list[_DeadLetter] = field(default_factory=list)
    handled: int = 0
    duplicates: int = 0


class Engine:
    """Runs batches of records through a service's handlers."""

    def __init__(
        self,
        config: EngineConfig,
        routes: Sequence[BoundRoute],
        store: AggregateRepository,
        publisher: OutboxPublisher,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        """Wire the engine; each route names its topic, event type, handler, key and state model."""
        if not config.provider_ids:
            raise ValueError("an engine must serve at least one provider (DSGOV_PROVIDER_IDS)")
        self.config = config
        table: dict[tuple[str, str], list[BoundRoute]] = defaultdict(list)
        for r in routes:
            table[(r.spec.topic, r.spec.type)].append(r)
        self.routes: Mapping[tuple[str, str], tuple[BoundRoute, ...]] = {
            k: tuple(v) for k, v in table.items()
        }
        self.handled_types = frozenset(t for _, t in self.routes)
        self.store = store
        self.publisher = publisher
        self.operations = Operations(store, publisher, config.publishes_on)
        self.clock = clock
        self._marking: asyncio.Task[None] | None = None

    async def process(self, records: Sequence[RawRecord]) -> BatchReport:
        """Process one batch; raise only for infrastructure failures (then the batch is redelivered)."""
        report = BatchReport()
        dead: list[_DeadLetter] = []
        groups: dict[str, list[tuple[Inbound[Any], BoundRoute]]] = defaultdict(list)
        for record in records:
            decoded = decode(record, self.handled_types, self.config.max_bytes)
            if isinstance(decoded, Ignored):
                report.ignored += 1
            elif isinstance(decoded, DecodeFailure):
                dead.append(
                    _DeadLetter(
                        record, decoded.code, decoded.detail, 1, None, decoded.event_id, decoded.event_type
                    )
                )
            elif not (routes := self.routes.get((record.topic, decoded.type))):
                report.ignored += 1  # a type this service handles, but not from this topic
            elif decoded.event.providerid not in self.config.provider_ids:
                dead.append(self._unknown_provider(decoded))
            else:
                for route in routes:
                    groups[route.key(decoded)].append((decoded, route))
        await self.settle()  # the last batch's outboxes are marked sent before we read the store
        folds = await self._fold_and_save(groups, report)
        for fold in folds:
            dead.extend(fold.dead)
        report.published = await self._publish_outboxes([f.aggregate for f in folds])
        await self._publish_dead_letters(dead)
        report.dead_letters = len(dead)
        return report

    async def settle(self) -> None:
        """Wait until the outboxes the last batch published are marked sent (next batch, shutdown)."""
        marking, self._marking = self._marking, None
        if marking is not None:
            await marking

    async def _publish_outboxes(self, aggregates: Sequence[Aggregate]) -> int:
        with_outbox = [a for a in aggregates if a.outbox]
        messages = [m for a in with_outbox for m in a.outbox]
        if messages:
            await self.publisher.publish(messages)  # every ack awaited: the batch may be committed
            self._marking = asyncio.create_task(self._mark_sent(with_outbox))
        return len(messages)

    async def _mark_sent(self, aggregates: Sequence[Aggregate]) -> None:
        try:
            await self.store.mark_sent(aggregates)
        except Exception as exc:  # published already: at worst the relay sends them again
            log.warning("outbox.mark_sent_failed", aggregates=len(aggregates), error=type(exc).__name__)

    async def execute(
        self, aggregate_id: str, operation_id: str, state: type[S], decide: Callable[[S | None], Outcome[S]]
    ) -> bool:
        """Apply an operation that did not come from Kafka (a timer, say); see `Operations.apply`."""
        return await self.operations.apply(aggregate_id, operation_id, state, decide)

    async def _fold_and_save(
        self, groups: Mapping[str, list[tuple[Inbound[Any], BoundRoute]]], report: BatchReport
    ) -> list[_Fold]:
        done: list[_Fold] = []
        todo = dict(groups)
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not todo:
                return done
            loaded = await self.store.load_many(todo)
            folds = [_Fold(loaded[agg_id], events) for agg_id, events in todo.items()]
            await asyncio.gather(*(self._fold(f) for f in folds))
            conflicts = set(await self.store.save_many([f.aggregate for f in folds]))
            for f in folds:
                if f.aggregate.id not in conflicts:
                    done.append(f)
                    self._count(f, report)
            if conflicts:
                log.warning("aggregate.version_conflict", aggregates=len(conflicts))
            todo = {agg_id: todo[agg_id] for agg_id in conflicts}
        raise ConnectionFailure(f"{len(todo)} aggregates kept conflicting; retrying the batch")

    @staticmethod
    def _count(fold: _Fold, report: BatchReport) -> None:
        report.processed += fold.handled
        report.duplicates += fold.duplicates

    async def _fold(self, fold: _Fold) -> None:
        agg = fold.aggregate
        for event, route in fold.events:
            if agg.has_processed(event.id):
                fold.duplicates += 1
                log.info("event.duplicate", event_id=event.id, type=event.type)
                continue
            with bind_message(correlation_id=event.event.correlation, event_id=event.id, type=event.type):
                outcome = await self._decide(agg, event, route, fold)
            if outcome is not None:
                fold.handled += 1
                agg.record(event.id, outcome.state, outcome.outbox(self.config.publishes_on))

    async def _decide(
        self, agg: Aggregate, event: Inbound[Any], route: BoundRoute, fold: _Fold
    ) -> Outcome[Any] | None:
        attempts = 0
        while True:
            attempts += 1
            try:
                return await route.call(agg.typed(route.state), event)
            except TRANSIENT_ERRORS:
                raise
            except Unprocessable as exc:
                fold.dead.append(self._failed(event, str(exc), attempts))
                return None
            except Exception as exc:
                if attempts >= self.config.max_attempts:
                    log.exception("event.processing_failed", attempts=attempts)
                    fold.dead.append(self._failed(event, f"{type(exc).__name__}: {exc}", attempts))
                    return None
                log.warning("event.retry", attempts=attempts, error=type(exc).__name__)
                await asyncio.sleep(self._backoff(attempts))

    def _backoff(self, attempts: int) -> float:
        delays = self.config.retry_backoff_s
        return delays[min(attempts - 1, len(delays) - 1)] if delays else 0.0

    def _unknown_provider(self, event: Inbound[Any]) -> _DeadLetter:
        # Tenant safety: a provider nobody configured never gets state (and so never an empty,
        # fail-open library); its events wait in the dead-letter topic until it is configured.
        detail = f"provider {event.event.providerid[:128]!r} is not served here (DSGOV_PROVIDER_IDS)"
        return _DeadLetter(event.record, "unknown_provider", detail, 1, event.event, event.id, event.type)

    @staticmethod
    def _failed(event: Inbound[Any], detail: str, attempts: int) -> _DeadLetter:
        return _DeadLetter(
            event.record, "processing_failed", detail[:2000], attempts, event.event, event.id, event.type
        )

    async def _publish_dead_letters(self, dead: Sequence[_DeadLetter]) -> None:
        if not dead:
            return
        now = self.clock()
        events = [self._dead_letter_event(d, now) for d in dead]
        for d in dead:
            log.warning(
                "event.dead_lettered",
                topic=d.record.topic,
                partition=d.record.partition,
                offset=d.record.offset,
                error_code=d.code,
                error_detail=d.detail,
                event_id=d.event_id,
            )
        await self.publisher.publish([OutboxMessage.from_event(e) for e in events])

    def _dead_letter_event(self, d: _DeadLetter, now: datetime) -> CloudEvent:
        sensitive = d.record.topic in self.config.sensitive_topics
        return dead_letter_event(
            service=self.config.service,
            source=self.config.source,
            providerid=d.event.providerid if d.event else self.config.fallback_provider,
            record=d.record,
            code=d.code,
            detail=d.detail,
            attempts=d.attempts,
            now=now,
            encrypt_with=self.config.deadletter_secret if sensitive else None,
            original_event_id=d.event_id,
            original_type=d.event_type,
            correlation_id=d.event.correlation if d.event else None,
        )
