"""Follow-up operations on many aggregates at once, with the guarantees of `Engine.execute`.

`Engine.execute` applies one operation to one aggregate (two round trips and a publish each). A
fan-out touches dozens of reach shards and contents in one go, so this applies a whole set of
operations with one `load_many`, one `save_many` and one publish: each aggregate still gets its
state, its outbox and the operation id in one document write, an operation id already applied
is skipped, and version conflicts are re-decided on fresh state. (Generic; a candidate for
`shared/messaging` if another service needs it.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pymongo.errors import ConnectionFailure

from shared.messaging.engine import Outcome
from shared.messaging.publisher import Publisher
from shared.storage.aggregates import Aggregate, AggregateStore
from shared.storage.outbox import OutboxMessage

Decide = Callable[[dict[str, Any] | None], Outcome]
MAX_CONFLICT_ROUNDS = 5


class BatchExecutor:
    """Applies operations (aggregate id -> (operation id, decide)) and publishes what they caused."""

    def __init__(self, store: AggregateStore, publisher: Publisher) -> None:
        """Write through `store`, publish through `publisher`."""
        self.store = store
        self.publisher = publisher

    async def apply(self, operations: Mapping[str, tuple[str, Decide]]) -> int:
        """Apply every operation once; return how many messages were published."""
        todo = dict(operations)
        settled: list[Aggregate] = []
        for _ in range(MAX_CONFLICT_ROUNDS):
            if not todo:
                break
            loaded = await self.store.load_many(todo)
            changed: list[Aggregate] = []
            for agg_id, (operation_id, decide) in todo.items():
                agg = loaded[agg_id]
                if not agg.has_processed(operation_id) and _record(agg, operation_id, decide(agg.state)):
                    changed.append(agg)
                else:
                    settled.append(agg)  # nothing to write; a leftover outbox is still published
            conflicts = set(await self.store.save_many(changed))
            settled += [a for a in changed if a.id not in conflicts]
            todo = {agg_id: todo[agg_id] for agg_id in conflicts}
        if todo:
            raise ConnectionFailure(f"{len(todo)} aggregates kept conflicting")
        return await self._publish(settled)

    async def _publish(self, aggregates: list[Aggregate]) -> int:
        with_outbox = [a for a in aggregates if a.outbox]
        messages = [m for a in with_outbox for m in a.outbox]
        if messages:
            await self.publisher.publish(messages)
            await self.store.mark_sent(with_outbox)
        return len(messages)


def _record(agg: Aggregate, operation_id: str, outcome: Outcome) -> bool:
    # An operation that changes nothing is not written: operations are idempotent by construction.
    if outcome.state is None and not outcome.events:
        return False
    agg.record(operation_id, outcome.state, [OutboxMessage.from_event(e) for e in outcome.events])
    return True
