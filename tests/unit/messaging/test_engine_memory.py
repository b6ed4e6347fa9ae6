"""The engine on its in-memory twin: dedupe, fold in offset order, conflicts, outbox and relay,
retries, dead letters and tenancy in milliseconds (ARCHITECTURE rules 2-5; CONTRACT "Tenancy")."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from devtools.testing.events import cloud_event, to_bytes
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.identity import IdentitySubmitted, IdentityVerified
from shared.messaging.codec import Inbound, RawRecord
from shared.messaging.engine import Engine, EngineConfig, Unprocessable
from shared.messaging.memory import InMemoryPublisher
from shared.messaging.relay import OutboxRelay
from shared.messaging.replies import Cause, reply
from shared.messaging.routing import Outcome, on
from shared.storage.aggregates import AggregateState
from shared.storage.memory import InMemoryAggregateStore

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


class Count(AggregateState):
    count: int = 0
    last: str = ""


class Probe:
    """Per user id prefix: fail N times, fail for ever, refuse, or count."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.failures_left: dict[str, int] = {}

    async def handle(self, state: Count | None, event: Inbound[IdentitySubmitted]) -> Outcome[Count]:
        user = event.data.user_id
        self.calls[user] = self.calls.get(user, 0) + 1
        if user.startswith("refuse"):
            raise Unprocessable("this can never succeed")
        if user.startswith("outage") and self.failures_left.setdefault(user, 1) > 0:
            self.failures_left[user] -= 1
            raise AutoReconnect("store went away")
        if user.startswith("flaky") and self.failures_left.setdefault(user, 2) > 0:
            self.failures_left[user] -= 1
            raise ValueError("flaky dependency")
        if user.startswith("broken"):
            raise ValueError("bug")
        new = Count(count=(state.count if state else 0) + 1, last=event.id)
        out = reply(
            event,
            type=T.IDENTITY_VERIFIED,
            source="dsgov/probe",
            subject=user,
            data=IdentityVerified(user_id=user, method=event.data.method),
            time=NOW,
        )
        return Outcome(new, [out])


ROUTES = (on(T.IDENTITY_SUBMITTED, Probe.handle, Count),)


class World:
    def __init__(self, providers: frozenset[str] = frozenset({"provider-test"})) -> None:
        self.probe = Probe()
        self.store = InMemoryAggregateStore()
        self.publisher = InMemoryPublisher()
        config = EngineConfig(
            service="probe",
            source="dsgov/probe",
            provider_ids=providers,
            retry_backoff_s=(),
            deadletter_secret="k" * 32,
        )
        self.engine = Engine(config, [r.bind(self.probe) for r in ROUTES], self.store, self.publisher)
        self.offset = 0

    def record(self, user: str, event_id: str | None = None, provider: str = "provider-test") -> RawRecord:
        event = cloud_event(
            T.IDENTITY_SUBMITTED,
            {"user_id": user, "method": "mobile"},
            subject=user,
            event_id=event_id,
            providerid=provider,
        )
        return self.raw(to_bytes(event), user)

    def raw(self, value: bytes, key: str = "k") -> RawRecord:
        self.offset += 1
        return RawRecord(topics.PLATFORM_IDENTITY, 0, self.offset, key.encode(), value)

    def outputs(self, user: str) -> list[dict[str, Any]]:
        return [
            json.loads(r.value) for r in self.publisher.bus.read(topics.IDENTITY) if r.key == user.encode()
        ]

    def dead(self) -> list[dict[str, Any]]:
        return [json.loads(r.value)["data"] for r in self.publisher.bus.read(topics.DEADLETTER)]


async def test_events_of_one_aggregate_fold_in_offset_order_and_a_redelivery_has_no_second_effect() -> None:
    w = World()
    ids = [f"e{i}" for i in range(5)]
    batch = [w.record("ann", i) for i in [*ids[:3], ids[1], *ids[3:]]]
    report = await w.engine.process(batch)
    assert (report.processed, report.duplicates, report.published) == (5, 1, 5)
    assert [e["causationid"] for e in w.outputs("ann")] == ids
    await w.engine.settle()  # marking sent is off the critical path (issue 15)
    agg = await w.store.load("provider-test/ann")
    assert agg.typed(Count) == Count(count=5, last="e4")
    assert agg.outbox == []  # published, then marked sent
    again = await w.engine.process([w.record("ann", "e2")])
    assert (again.processed, again.duplicates, again.published) == (0, 1, 0)
    assert w.store.writes == 1  # one document write per aggregate per batch


async def test_a_failing_handler_is_retried_then_dead_lettered_and_the_rest_of_the_batch_goes_on() -> None:
    w = World()
    report = await w.engine.process([w.record("broken-1", "b1"), w.record("ok-1", "o1")])
    assert report.dead_letters == 1
    [dead] = w.dead()
    assert (dead["error_code"], dead["attempts"], dead["original_event_id"]) == ("processing_failed", 3, "b1")
    assert "ValueError: bug" in dead["error_detail"]
    assert w.probe.calls["broken-1"] == 3
    assert len(w.outputs("ok-1")) == 1
    assert w.outputs("broken-1") == []


async def test_a_flaky_handler_decides_once_on_a_retry() -> None:
    w = World()
    await w.engine.process([w.record("flaky-1")])
    assert w.probe.calls["flaky-1"] == 3
    assert len(w.outputs("flaky-1")) == 1
    assert w.dead() == []


async def test_an_unprocessable_event_is_dead_lettered_at_once() -> None:
    w = World()
    await w.engine.process([w.record("refuse-1", "r1")])
    [dead] = w.dead()
    assert (dead["attempts"], dead["error_detail"]) == (1, "this can never succeed")


async def test_a_store_outage_raises_for_a_redelivery_and_is_never_dead_lettered() -> None:
    w = World()
    batch = [w.record("outage-1", "x1")]
    with pytest.raises(AutoReconnect):
        await w.engine.process(batch)
    assert w.dead() == []
    await w.engine.process(batch)  # the host nacks; the same batch comes again
    assert len(w.outputs("outage-1")) == 1


async def test_an_unreachable_store_fails_the_batch_and_nothing_is_published() -> None:
    w = World()
    w.store.outage = True
    batch = [w.record("ann", "a1")]
    with pytest.raises(Exception, match="simulated outage"):
        await w.engine.process(batch)
    assert w.publisher.sent == []
    w.store.outage = False
    await w.engine.process(batch)
    assert len(w.outputs("ann")) == 1


async def test_a_broker_outage_after_the_write_leaves_the_outbox_for_the_relay() -> None:
    w = World()
    w.publisher.outage = True
    with pytest.raises(Exception, match="simulated outage"):
        await w.engine.process([w.record("ann", "a1")])
    stored = await w.store.load("provider-test/ann")
    assert [json.loads(m.value)["causationid"] for m in stored.outbox] == ["a1"]
    w.publisher.outage = False
    relay = OutboxRelay(w.store, w.publisher)  # type: ignore[arg-type]
    assert await relay.sweep() == 0  # younger than the grace period: the fast path's to send
    w.store.age(10_000)
    assert await relay.sweep() == 1
    assert len(w.outputs("ann")) == 1
    assert (await w.store.load("provider-test/ann")).outbox == []


async def test_a_batch_is_done_before_its_outbox_is_marked_and_a_failed_mark_only_means_a_resend() -> None:
    # Issue 15: marking sent left the critical path. The batch is acknowledged once Kafka has every
    # message; if the mark then fails (or the process dies), the relay sends the entries again
    # with the same ids, which consumers drop. Nothing is lost and the next batch still runs.
    w = World()
    report = await w.engine.process([w.record("ann", "a1")])
    assert report.published == 1
    assert len(w.outputs("ann")) == 1
    w.store.outage = True  # the mark is still pending: it fails
    await w.engine.settle()
    w.store.outage = False
    stored = await w.store.load("provider-test/ann")
    assert [json.loads(m.value)["causationid"] for m in stored.outbox] == ["a1"]
    w.store.age(10_000)
    assert await OutboxRelay(w.store, w.publisher).sweep() == 1  # type: ignore[arg-type]
    again = w.outputs("ann")
    assert [e["id"] for e in again] == [again[0]["id"]] * 2  # the same event twice: a duplicate by id
    assert (await w.engine.process([w.record("ann", "a2")])).published == 1
    await w.engine.settle()
    assert (await w.store.load("provider-test/ann")).outbox == []


async def test_a_stale_writer_loses_the_version_race_and_is_folded_again_on_fresh_state() -> None:
    w = World()
    await w.engine.process([w.record("ann", "a1")])
    rival = await w.store.load("provider-test/ann")
    original_load_many = w.store.load_many
    raced = False

    async def load_then_rival_writes(ids: Any) -> Any:
        nonlocal raced
        loaded = await original_load_many(ids)
        if not raced:  # a second replica writes between our load and our save
            raced = True
            rival.record("rival", Count(count=41, last="rival"), [])
            assert await w.store.save_many([rival]) == []
        return loaded

    w.store.load_many = load_then_rival_writes  # type: ignore[method-assign]
    await w.engine.process([w.record("ann", "a2")])
    final = await w.store.load("provider-test/ann")
    assert final.typed(Count) == Count(count=42, last="a2")
    assert final.processed == ["a1", "rival", "a2"]


async def test_events_of_a_provider_not_served_are_dead_lettered_and_create_no_state() -> None:
    w = World(frozenset({"provider-a", "provider-b"}))
    report = await w.engine.process(
        [w.record("ann", "a1", provider="provider-b"), w.record("eve", "x1", provider="provider-x")]
    )
    assert report.dead_letters == 1
    [dead] = w.dead()
    assert dead["error_code"] == "unknown_provider"
    assert "provider-x" in dead["error_detail"]
    assert "provider-x/eve" not in w.store.docs
    assert "provider-b/ann" in w.store.docs


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "invalid_envelope"),
        (to_bytes(cloud_event("dsgov.nothing.such", {}, subject="s")), "unknown_type"),
        (to_bytes(cloud_event(T.IDENTITY_SUBMITTED, {"user_id": 5}, subject="s")), "schema_violation"),
        (b" " * 1_000_001, "payload_too_large"),
    ],
)
async def test_bad_input_is_dead_lettered_with_its_original_bytes_and_the_batch_goes_on(
    value: bytes, code: str
) -> None:
    w = World()
    report = await w.engine.process([w.raw(value), w.record("ann")])
    [dead] = w.dead()
    assert dead["error_code"] == code
    assert report.processed == 1
    assert len(w.outputs("ann")) == 1


async def test_an_operation_is_applied_once_with_its_events() -> None:
    w = World()
    cause = Cause.operation("expire:1", "provider-test")

    def decide(state: Count | None) -> Outcome[Count]:
        event = reply(
            cause,
            type=T.IDENTITY_VERIFIED,
            source="dsgov/probe",
            subject="ann",
            data=IdentityVerified(user_id="ann", method="mobile"),
            time=NOW,
        )
        return Outcome(Count(count=100), [event])

    assert await w.engine.execute("provider-test/ann", "expire:1", Count, decide) is True
    assert await w.engine.execute("provider-test/ann", "expire:1", Count, decide) is False
    [out] = w.outputs("ann")
    assert (out["causationid"], out["correlationid"]) == ("expire:1", "expire:1")


class Tally:
    """A second read model of the same event type, keyed differently (per method)."""

    async def count(self, state: Count | None, event: Inbound[IdentitySubmitted]) -> Outcome[Count]:
        return Outcome(Count(count=(state.count if state else 0) + 1, last=event.id))


class Both(Probe, Tally):
    pass


async def test_an_event_with_two_routes_reaches_each_routes_aggregate_once() -> None:
    # The console keeps per-day sanction counters and per-user sanction histories of one event type.
    routes = (
        on(T.IDENTITY_SUBMITTED, Both.handle, Count),
        on(T.IDENTITY_SUBMITTED, Both.count, Count, key=lambda e: f"method:{e.data.method}"),
    )
    w = World()
    w.engine = Engine(w.engine.config, [r.bind(Both()) for r in routes], w.store, w.publisher)
    first, second = w.record("ann"), w.record("bob")
    await w.engine.process([first, second])
    await w.engine.process([first])  # redelivered: no second effect on either aggregate

    by_user = (await w.store.load("provider-test/ann")).typed(Count)
    by_method = (await w.store.load("method:mobile")).typed(Count)
    assert by_user is not None
    assert by_user.count == 1
    assert by_method is not None
    assert by_method.count == 2
    assert len(w.outputs("ann")) == 1
