"""The one save-and-publish step: apply a decision to an aggregate, write it with its outbox, publish.

Used by the engine for events and by workers, seeders and console commands for operations that
did not come from Kafka (a timer, a seed file, a person's click). State, outbox entries and the
operation id are written in one document write (ARCHITECTURE rule 3); a lost version race is
retried on the fresh document; an operation id already applied has no second effect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol, TypeVar

from pymongo.errors import ConnectionFailure

from shared.messaging.routing import Outcome
from shared.storage.aggregates import Aggregate, AggregateRepository, AggregateState
from shared.storage.outbox import OutboxMessage

S = TypeVar("S", bound=AggregateState)
MAX_CONFLICT_ROUNDS = 5


class OutboxPublisher(Protocol):
    """Publishes outbox messages and waits for every acknowledgement (Kafka or in memory)."""

    def topic(self, name: str) -> str:
        """The physical name of a contract topic."""
        ...

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish in order and wait for the acknowledgements."""


class Operations:
    """Save-and-publish over one aggregate repository and one publisher."""

    def __init__(
        self,
        store: AggregateRepository,
        publisher: OutboxPublisher,
        publishes_on: Mapping[str, str] | None = None,
    ) -> None:
        """Write to `store`, publish through `publisher`.

        `publishes_on` names the topic of a type that travels on several.
        """
        self.store = store
        self.publisher = publisher
        self.publishes_on = dict(publishes_on or {})

    async def apply(
        self,
        aggregate_id: str,
        operation_id: str,
        state: type[S],
        decide: Callable[[S | None], Outcome[S]],
    ) -> bool:
        """Apply `decide` once; return False when `operation_id` was already applied."""
        for _ in range(MAX_CONFLICT_ROUNDS):
            agg = await self.store.load(aggregate_id)
            if agg.has_processed(operation_id):
                await self.publish_outboxes([agg])
                return False
            outcome = decide(agg.typed(state))
            agg.record(operation_id, outcome.state, outcome.outbox(self.publishes_on))
            if not await self.store.save_many([agg]):
                await self.publish_outboxes([agg])
                return True
        raise ConnectionFailure(f"aggregate {aggregate_id} kept conflicting")

    async def publish_outboxes(self, aggregates: Sequence[Aggregate]) -> int:
        """Publish the pending outbox of each aggregate, then mark it sent; return how many went out."""
        with_outbox = [a for a in aggregates if a.outbox]
        messages = [m for a in with_outbox for m in a.outbox]
        if messages:
            await self.publisher.publish(messages)
            await self.store.mark_sent(with_outbox)
        return len(messages)
