"""What a service is, declared: routes (event → handler → aggregate key → state model) and workers.

A service lists its routes statically in its `ServiceDefinition`, naming handler methods unbound
(`IdentityHandlers.on_submitted`); the host binds them to the handlers object its composition root
built. From the same routes the host derives the topics to consume, the AsyncAPI document and the
aggregate each event folds into, so there is one place to read what a service does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.contracts.envelope import CloudEvent
from shared.contracts.registry import EventSpec, inbound_spec
from shared.messaging.codec import Inbound
from shared.observability import get_logger
from shared.storage.aggregates import AggregateState
from shared.storage.outbox import OutboxMessage

log = get_logger(__name__)

H = TypeVar("H")
S = TypeVar("S", bound=AggregateState)

KeyFn = Callable[[Inbound[Any]], str]


@dataclass(frozen=True)
class Outcome(Generic[S]):
    """What a handler decided: the new state (None: unchanged) and the events to publish."""

    state: S | None
    events: Sequence[CloudEvent | OutboxMessage] = ()

    def outbox(self, publishes_on: Mapping[str, str] | None = None) -> list[OutboxMessage]:
        """The events as outbox entries.

        Each goes on the topic its entry names, else on `publishes_on[type]`, else on its type's only topic.
        """
        on = publishes_on or {}
        return [
            e if isinstance(e, OutboxMessage) else OutboxMessage.from_event(e, on.get(e.type))
            for e in self.events
        ]


def by_subject(event: Inbound[Any]) -> str:
    """Provider and subject: the subject is the Kafka key, so one aggregate sits in one partition."""
    return f"{event.event.providerid}/{event.subject}"


def prefixed(prefix: str) -> KeyFn:
    """`<prefix><provider>/<subject>`: kinds of aggregate that share a collection stay apart."""

    def key(event: Inbound[Any]) -> str:
        return f"{prefix}{event.event.providerid}/{event.subject}"

    key.__name__ = f"prefixed_{prefix.rstrip(':')}"
    return key


@dataclass(frozen=True)
class Route(Generic[H, S]):
    """One inbound event type on one topic, the handler method that decides it, and its aggregate."""

    spec: EventSpec
    handle: Callable[[H, S | None, Inbound[Any]], Awaitable[Outcome[S]]]
    state: type[S]
    key: KeyFn = by_subject

    def bind(self, handlers: H) -> BoundRoute:
        """Bind the handler to the service's handlers object."""
        handle = self.handle

        async def call(state: Any, event: Inbound[Any]) -> Outcome[Any]:
            return await handle(handlers, state, event)

        return BoundRoute(self.spec, self.state, self.key, call)


@dataclass(frozen=True)
class BoundRoute:
    """A route ready for the engine."""

    spec: EventSpec
    state: type[AggregateState]
    key: KeyFn
    call: Callable[[Any, Inbound[Any]], Awaitable[Outcome[Any]]]


def on(
    type_: str,
    handle: Callable[[H, S | None, Inbound[Any]], Awaitable[Outcome[S]]],
    state: type[S],
    *,
    key: KeyFn = by_subject,
    topic: str | None = None,
) -> Route[H, S]:
    """Route `type_` (on `topic`, needed only where the type travels on several) to `handle`."""
    return Route(inbound_spec(type_, topic), handle, state, key)


@dataclass(frozen=True)
class Worker:
    """Background work a service runs beside its consumer until shutdown."""

    name: str
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def every(name: str, interval_s: float, tick: Callable[[], Awaitable[object]]) -> Worker:
    """A worker that calls `tick` now and then every `interval_s`; a failed tick is logged, not fatal."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await tick()
            except Exception:
                log.exception("worker.tick_failed", worker=name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)

    return Worker(name, run)


def consumed_topics(routes: Sequence[Route[Any, Any]]) -> dict[str, tuple[str, ...]]:
    """Topic → event types handled there, in declaration order."""
    table: dict[str, list[str]] = {}
    for r in routes:
        types = table.setdefault(r.spec.topic, [])
        if r.spec.type not in types:
            types.append(r.spec.type)
    return {topic: tuple(types) for topic, types in table.items()}
