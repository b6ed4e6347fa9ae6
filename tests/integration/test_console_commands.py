"""The console's command path on the real embedded store: audit record + outbox in one document."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
import pytest_asyncio
from aiokafka.errors import KafkaConnectionError
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from services.console.adapters.commands import CommandSender
from services.console.adapters.mongo import MongoAuditLog
from services.console.ports import Actor
from shared.messaging.relay import OutboxRelay
from shared.storage.aggregates import AggregateStore
from shared.storage.outbox import OutboxMessage
from tests.unit.console.fakes import NOW, granted_consent

pytestmark = pytest.mark.integration

OLGA = Actor("olga", "operator")


class FakePublisher:
    """Stands in for the Kafka publisher: records, fails or hangs on demand."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.sent: list[OutboxMessage] = []

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        if self.mode == "down":
            raise KafkaConnectionError("broker unreachable")
        if self.mode == "hang":
            await asyncio.sleep(3600)
        self.sent.extend(messages)


@pytest_asyncio.fixture(loop_scope="session")
async def store(stack: EmbeddedStack) -> AsyncIterator[AggregateStore]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    db = client[f"console_cmd_{uuid.uuid4().hex[:8]}"]
    s = AggregateStore(db["audit"])
    await MongoAuditLog(s).ensure_indexes()
    yield s
    await client.close()


def sender(store: AggregateStore, publisher: FakePublisher, timeout: float = 5.0) -> CommandSender:
    return CommandSender(store, publisher, publish_timeout_s=timeout)  # type: ignore[arg-type]


async def withdraw(s: CommandSender, request_id: str, consent_id: str = "c-1") -> Any:
    return await s.withdraw(
        granted_consent(consent_id),
        reason="by phone",
        actor=OLGA,
        request_id=request_id,
        client="10.0.0.9",
        now=NOW,
    )


async def test_the_audit_record_and_the_command_are_one_document_and_the_command_goes_out_once(
    store: AggregateStore,
) -> None:
    publisher = FakePublisher()
    request_id = str(uuid.uuid4())

    result = await withdraw(sender(store, publisher), request_id)
    again = await withdraw(sender(store, publisher), request_id)  # the same form again

    assert (result.duplicate, result.published) == (False, True)
    assert (again.duplicate, again.command_id) == (True, result.command_id)
    [message] = publisher.sent
    assert (message.topic, message.key, message.id) == ("dsgov.console.commands", "c-1", result.command_id)
    assert json.loads(message.value)["data"]["actor"] == {"username": "olga", "role": "operator"}
    doc = await store.collection.find_one({"_id": f"withdrawal/{request_id}"})
    assert doc is not None
    assert doc["processed"] == [result.command_id]
    assert doc["outbox"] == []
    assert doc["outbox_pending"] == 0
    assert doc["state"]["action"] == "consent_withdrawal_submitted"
    assert doc["state"]["actor"] == {"username": "olga", "role": "operator"}
    assert doc["state"]["details"]["reason"] == "by phone"
    assert doc["state"]["details"]["command_id"] == result.command_id
    [listed] = await MongoAuditLog(store).withdrawals_for("c-1")
    assert listed["sent"] is True


@pytest.mark.parametrize("mode", ["down", "hang"])
async def test_when_the_broker_does_not_confirm_the_relay_sends_the_command_later_exactly_once(
    store: AggregateStore, mode: str
) -> None:
    consent_id = f"c-{mode}"
    result = await withdraw(sender(store, FakePublisher(mode), timeout=0.3), str(uuid.uuid4()), consent_id)

    assert result.published is False
    [pending] = await MongoAuditLog(store).withdrawals_for(consent_id)
    assert pending["sent"] is False
    publisher = FakePublisher()
    relay = OutboxRelay(store, publisher)  # type: ignore[arg-type]
    assert await relay.sweep(include_recent=True) == 1
    assert await relay.sweep(include_recent=True) == 0
    [message] = publisher.sent
    assert message.id == result.command_id
    [sent] = await MongoAuditLog(store).withdrawals_for(consent_id)
    assert sent["sent"] is True
