"""One body of store tests, run against the MongoDB store on the embedded server and its in-memory twin:
the twin must behave as the real thing (versions, write races, conditional mark-sent, the relay's query,
typed state round trips) for the engine's unit tests to mean anything (ARCHITECTURE rule 3)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import pytest
import pytest_asyncio

from devtools.testing.embedded import EmbeddedStack
from shared.storage.aggregates import Aggregate, AggregateRepository, AggregateState, AggregateStore
from shared.storage.memory import InMemoryAggregateStore
from shared.storage.mongo import create_client
from shared.storage.outbox import OutboxMessage

pytestmark = pytest.mark.integration


class Entry(AggregateState):
    at: datetime
    tags: tuple[str, ...] = ()


class Ledger(AggregateState):
    name: str
    entries: tuple[Entry, ...] = ()
    due: date | None = None  # BSON has no bare date (an ID card's turns_18 is one, PI-31)


@pytest_asyncio.fixture(params=["memory", "mongo"], loop_scope="session")
async def store(request: pytest.FixtureRequest) -> AsyncIterator[AggregateRepository]:
    if request.param == "memory":
        yield InMemoryAggregateStore()
        return
    stack: EmbeddedStack = request.getfixturevalue("stack")
    client = create_client(stack.mongo_uri, app_name="store-test")
    mongo = AggregateStore(client[f"store_{uuid.uuid4().hex[:8]}"]["aggregates"])
    await mongo.ensure_indexes()
    yield mongo
    await client.close()


def message(n: int) -> OutboxMessage:
    return OutboxMessage(f"m{n}", "dsgov.identity", "k", "{}", "dsgov.identity.verified", "c")


async def test_typed_state_comes_back_equal_after_a_round_trip(store: AggregateRepository) -> None:
    state = Ledger(name="a", entries=(Entry(at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), tags=("x",)),))
    agg = await store.load("t/1")
    agg.record("e1", state, [])
    assert await store.save_many([agg]) == []
    loaded = await store.load("t/1")
    assert loaded.version == 1
    assert loaded.typed(Ledger) == state
    assert loaded.processed == ["e1"]


async def test_a_state_with_a_bare_date_is_stored_and_comes_back_equal(store: AggregateRepository) -> None:
    state = Ledger(name="d", due=date(2030, 12, 6), entries=(Entry(at=datetime(2026, 1, 2, tzinfo=UTC)),))
    agg = await store.load("t/date")
    agg.record("e1", state, [])
    assert await store.save_many([agg]) == []
    loaded = await store.load("t/date")
    assert loaded.typed(Ledger) == state


async def test_a_stale_writer_loses_and_nothing_is_overwritten(store: AggregateRepository) -> None:
    first = await store.load("t/race")
    first.record("e1", Ledger(name="v1"), [])
    assert await store.save_many([first]) == []
    a, b = await store.load("t/race"), await store.load("t/race")
    a.record("e2", Ledger(name="v2"), [])
    b.record("e3", Ledger(name="v3"), [])
    assert await store.save_many([a]) == []
    assert await store.save_many([b]) == ["t/race"]
    twin = Aggregate(id="t/race")  # a second "first write" of an existing aggregate
    twin.record("e4", Ledger(name="v4"), [])
    assert await store.save_many([twin]) == ["t/race"]
    stored = await store.load("t/race")
    assert stored.typed(Ledger) == Ledger(name="v2")
    assert stored.processed == ["e1", "e2"]


async def test_mark_sent_clears_only_an_outbox_not_written_again(store: AggregateRepository) -> None:
    agg = await store.load("t/out")
    agg.record("e1", Ledger(name="a"), [message(1)])
    await store.save_many([agg])
    newer = await store.load("t/out")
    later = Ledger(name="b", entries=(Entry(at=datetime(2026, 5, 6, 7, 8, tzinfo=UTC), tags=("t",)),))
    newer.record("e2", later, [message(2)])
    await store.save_many([newer])
    await store.mark_sent([agg])  # agg is one version behind: its outbox must stay
    assert [m.id for m in (await store.load("t/out")).outbox] == ["m1", "m2"]
    await store.mark_sent([newer])
    cleared = await store.load("t/out")
    assert cleared.outbox == []
    assert cleared.typed(Ledger) == later  # clearing the outbox leaves the state's types alone


async def test_mark_sent_clears_every_aggregate_of_one_write_and_none_written_since(
    store: AggregateRepository,
) -> None:
    batch = [await store.load(f"t/w{i}") for i in range(3)]
    for i, agg in enumerate(batch):
        agg.record(f"e{i}", Ledger(name=str(i)), [message(i)])
    assert await store.save_many(batch) == []
    rewritten = await store.load("t/w1")
    rewritten.record("e9", Ledger(name="again"), [message(9)])
    assert await store.save_many([rewritten]) == []
    await store.mark_sent(batch)
    assert [(await store.load(f"t/w{i}")).outbox for i in (0, 2)] == [[], []]
    assert [m.id for m in (await store.load("t/w1")).outbox] == ["m1", "m9"]


async def test_the_relay_query_finds_pending_outboxes_older_than_the_cutoff(
    store: AggregateRepository,
) -> None:
    pending = await store.load("t/pending")
    pending.record("e1", Ledger(name="p"), [message(1)])
    done = await store.load("t/done")
    done.record("e1", Ledger(name="d"), [])
    await store.save_many([pending, done])
    assert await store.with_pending_outbox(older_than_ms=0) == []
    far_future = 2**62
    found = await store.with_pending_outbox(older_than_ms=far_future)
    assert [a.id for a in found] == ["t/pending"]
    assert [m.id for m in found[0].outbox] == ["m1"]


async def test_load_many_returns_new_aggregates_for_unknown_ids(store: AggregateRepository) -> None:
    known = await store.load("t/known")
    known.record("e1", Ledger(name="k"), [])
    await store.save_many([known])
    loaded = await store.load_many(["t/known", "t/unknown", "t/known"])
    assert list(loaded) == ["t/known", "t/unknown"]
    assert (loaded["t/known"].version, loaded["t/unknown"].version) == (1, 0)
    assert loaded["t/unknown"].typed(Ledger) is None
