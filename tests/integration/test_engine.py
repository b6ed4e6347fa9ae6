"""The processing engine in-process on the real embedded broker and store: retries, dead letters,
transient outages, version conflicts and timer operations (ARCHITECTURE rules 2-4)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo.errors import AutoReconnect

from devtools.testing.embedded import TEST_SECRET, EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.kafka import Recorder, start_producer
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.identity import IdentitySubmitted, IdentityVerified
from shared.messaging.codec import Inbound
from shared.messaging.engine import Engine, Unprocessable
from shared.messaging.ids import derived_id
from shared.messaging.provisioning import provision_topics
from shared.messaging.replies import Cause, reply
from shared.messaging.routing import Outcome, on
from shared.runtime.host import Runtime, ServiceDefinition, attach_engine, build_runtime
from shared.runtime.settings import CommonSettings
from shared.storage.aggregates import AggregateState

pytestmark = pytest.mark.integration


class Count(AggregateState):
    count: int = 0
    timer: bool = False


class Behaviour:
    """What the probe handler does, per user id: fail N times, fail for ever, refuse, or succeed."""

    def __init__(self) -> None:
        self.failures_left: dict[str, int] = {}
        self.calls: dict[str, int] = {}

    async def handle(self, state: Count | None, event: Inbound[IdentitySubmitted]) -> Outcome[Count]:
        user = event.data.user_id
        self.calls[user] = self.calls.get(user, 0) + 1
        if user.startswith("refuse"):
            raise Unprocessable("this can never succeed")
        if user.startswith("transient") and self.failures_left.setdefault(user, 1) > 0:
            self.failures_left[user] -= 1
            raise AutoReconnect("store went away")
        if user.startswith("flaky") and self.failures_left.setdefault(user, 2) > 0:
            self.failures_left[user] -= 1
            raise ValueError("flaky dependency")
        if user.startswith("broken"):
            raise ValueError("bug")
        count = (state.count if state else 0) + 1
        return Outcome(Count(count=count), [verified(event, event.subject)])


DEFINITION = ServiceDefinition[Behaviour](
    name="engine_probe",
    source="dsgov/engine-probe",
    description="test service",
    routes=(on(T.IDENTITY_SUBMITTED, Behaviour.handle, Count),),
    publishes=(T.IDENTITY_VERIFIED,),
    collection="probe",
)


def verified(cause: Inbound[Any] | Cause, user: str) -> CloudEvent:
    return reply(
        cause,
        type=T.IDENTITY_VERIFIED,
        source="dsgov/engine-probe",
        subject=user,
        data=IdentityVerified(user_id=user, method="mobile"),
        id=derived_id("probe", cause.id),
        time=datetime.now(UTC),
    )


class Probe:
    def __init__(
        self,
        runtime: Runtime,
        engine: Engine,
        behaviour: Behaviour,
        recorder: Recorder,
        producer: AIOKafkaProducer,
    ):
        self.runtime, self.engine, self.behaviour = runtime, engine, behaviour
        self.recorder, self.producer = recorder, producer

    async def submit(self, user: str, event_id: str | None = None) -> dict[str, Any]:
        event = cloud_event(
            T.IDENTITY_SUBMITTED, {"user_id": user, "method": "mobile"}, subject=user, event_id=event_id
        )
        topic = self.runtime.settings.topic_prefix + topics.PLATFORM_IDENTITY
        await self.producer.send_and_wait(topic, to_bytes(event), key=user.encode())
        return event

    def outputs(self, user: str) -> list[dict[str, Any]]:
        return [
            r.json() for r in self.recorder.matching(lambda r: r.topic == topics.IDENTITY and r.key == user)
        ]

    def dead(self, user: str) -> list[dict[str, Any]]:
        return [
            r.json()["data"]
            for r in self.recorder.matching(
                lambda r: r.topic == topics.DEADLETTER and r.key == topics.PLATFORM_IDENTITY
            )
            if r.json()["data"].get("original_event_id", "").startswith(user)
        ]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def probe(stack: EmbeddedStack) -> AsyncIterator[Probe]:
    prefix = f"eng-{uuid.uuid4().hex[:8]}."
    await provision_topics(stack.bootstrap, prefix=prefix)
    settings = CommonSettings(
        kafka_bootstrap=stack.bootstrap,
        mongo_uri=stack.mongo_uri,
        mongo_database=f"probe_{uuid.uuid4().hex[:8]}",
        provider_id="provider-test",
        topic_prefix=prefix,
        deadletter_key=TEST_SECRET,
        max_attempts=3,
    )
    runtime = build_runtime(DEFINITION, settings)
    behaviour = Behaviour()
    engine, _ = attach_engine(runtime, behaviour)
    await runtime.store.ensure_indexes()
    recorder = Recorder(
        stack.bootstrap, [prefix + topics.IDENTITY, prefix + topics.DEADLETTER], strip_prefix=prefix
    )
    await recorder.start()
    producer = await start_producer(stack.bootstrap)
    await runtime.broker.start()
    yield Probe(runtime, engine, behaviour, recorder, producer)
    await runtime.broker.stop()
    await producer.stop()
    await recorder.stop()
    await runtime.client.close()


async def test_a_handler_that_keeps_failing_is_retried_then_dead_lettered_and_the_next_event_goes_through(
    probe: Probe,
) -> None:
    broken, after = unique("broken"), unique("ok")
    sent = await probe.submit(broken, event_id=f"{broken}-e")
    await probe.submit(after)
    await probe.recorder.wait_for(lambda r: r.topic == topics.IDENTITY and r.key == after)
    await probe.recorder.wait_for(lambda r: r.topic == topics.DEADLETTER and broken in r.value.decode())

    [dead] = probe.dead(broken)
    assert dead["error_code"] == "processing_failed"
    assert dead["attempts"] == 3
    assert "ValueError: bug" in dead["error_detail"]
    assert dead["original_event_id"] == sent["id"]
    assert probe.behaviour.calls[broken] == 3
    assert probe.outputs(broken) == []


async def test_a_flaky_handler_succeeds_on_a_retry_and_decides_once(probe: Probe) -> None:
    user = unique("flaky")
    await probe.submit(user)
    await probe.recorder.wait_for(lambda r: r.topic == topics.IDENTITY and r.key == user)
    assert probe.behaviour.calls[user] == 3
    assert len(probe.outputs(user)) == 1


async def test_an_unprocessable_event_is_dead_lettered_at_once(probe: Probe) -> None:
    user = unique("refuse")
    await probe.submit(user, event_id=f"{user}-e")
    await probe.recorder.wait_for(lambda r: r.topic == topics.DEADLETTER and user in r.value.decode())
    [dead] = probe.dead(user)
    assert dead["attempts"] == 1
    assert dead["error_detail"] == "this can never succeed"


async def test_a_store_outage_is_never_dead_lettered_the_batch_is_retried_until_it_succeeds(
    probe: Probe,
) -> None:
    user = unique("transient")
    await probe.submit(user, event_id=f"{user}-e")
    await probe.recorder.wait_for(lambda r: r.topic == topics.IDENTITY and r.key == user, timeout=30)
    assert probe.behaviour.calls[user] == 2
    assert probe.dead(user) == []
    assert len(probe.outputs(user)) == 1


async def test_events_for_one_aggregate_apply_in_order_once_each(probe: Probe) -> None:
    user = unique("order")
    ids = [f"{user}-{i}" for i in range(5)]
    for event_id in [*ids, ids[1], ids[3]]:  # two redeliveries mixed in
        await probe.submit(user, event_id=event_id)
    await probe.recorder.wait_for(lambda r: r.topic == topics.IDENTITY and r.key == user, count=5)
    assert [e["causationid"] for e in probe.outputs(user)] == ids
    await probe.engine.settle()  # marking sent is off the critical path (issue 15)
    agg = await probe.runtime.store.load(f"provider-test/{user}")
    assert agg.typed(Count) == Count(count=5)
    assert agg.outbox == []


async def test_timer_operations_are_applied_once_with_their_events(probe: Probe) -> None:
    user = unique("timer")
    cause = Cause.operation(f"expire:{user}", "provider-test")

    def decide(state: Count | None) -> Outcome[Count]:
        return Outcome(Count(timer=True), [verified(cause, user)])

    assert await probe.engine.execute(f"provider-test/{user}", cause.id, Count, decide) is True
    assert await probe.engine.execute(f"provider-test/{user}", cause.id, Count, decide) is False
    await probe.recorder.wait_for(lambda r: r.topic == topics.IDENTITY and r.key == user)
    assert len(probe.outputs(user)) == 1
