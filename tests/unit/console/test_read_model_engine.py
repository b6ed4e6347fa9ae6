"""The console's declared routes on the in-memory engine and its commands through `Operations.apply`.

Millisecond twins of the integration tests: what the engine stores is what the pages query
(field names of `MongoReadModel`, `MongoLibraryView`, `MongoReviewView`), redelivery changes
nothing, a provider nobody configured gets no read model (tenant safety), and a review item takes
one decision only (DS-10.1).
"""

from __future__ import annotations

import json
from typing import Any

from services.console.adapters.commands import CommandSender
from services.console.domain.commands import SOURCE
from services.console.entrypoints.app import DEFINITION
from services.console.ports import Actor
from services.console.projections import Projections
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.messaging.relay import OutboxRelay
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.console.fakes import (
    NOW,
    consent_event,
    envelope,
    library_event,
    pending_item,
    queued_event,
    snapshot,
)

PROVIDER = "provider-test"
OLGA = Actor("olga", "operator")
BOB = Actor("bob", "operator")


def _engine(store: InMemoryAggregateStore, publisher: InMemoryPublisher) -> Engine:
    config = EngineConfig(service="console", source=SOURCE, provider_ids=frozenset({PROVIDER}))
    routes = [r.bind(Projections(lambda: NOW)) for r in DEFINITION.routes]
    return Engine(config, routes, store, publisher, clock=lambda: NOW)


def _records(*events: tuple[str, dict[str, Any]]) -> list[RawRecord]:
    return [
        RawRecord(topic, 0, offset, str(raw["subject"]).encode(), json.dumps(raw).encode())
        for offset, (topic, raw) in enumerate(events)
    ]


def _identity(user: str) -> dict[str, Any]:
    return envelope(T.IDENTITY_VERIFIED, user, {"user_id": user, "method": "mobile", "reasons": []})


def _approved(request_id: str) -> dict[str, Any]:
    data = {"request_id": request_id, "user_id": "u-1", "decision_id": "d-1"}
    return envelope(T.GENERATION_APPROVED, request_id, data)


async def test_every_read_model_is_stored_under_its_key_with_the_fields_the_pages_query() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    batch = _records(
        (topics.CONSENT, consent_event(T.CONSENT_GRANTED, "c-1")),
        (topics.IDENTITY, _identity("u-1")),
        (topics.REVIEW, library_event("kw-1", entry=snapshot("kw-1"))),
        (topics.REVIEW, queued_event("item-1")),
        (topics.REVIEW, _approved("req-1")),
    )

    report = await _engine(store, publisher).process(batch)

    assert (report.processed, report.dead_letters, report.published) == (5, 0, 0)
    day = NOW.date().isoformat()
    docs = {key: store.docs[key]["state"] for key in store.docs}
    assert set(docs) == {
        f"consent:{PROVIDER}/c-1",
        f"identity:{PROVIDER}/u-1",
        f"library:{PROVIDER}/kw-1",
        f"review:{PROVIDER}/item-1",
        f"stats:{PROVIDER}/{day}",
    }
    consent = docs[f"consent:{PROVIDER}/c-1"]
    # MongoReadModel filters and sorts on these (PROJECTION_INDEXES).
    assert (consent["kind"], consent["provider_id"], consent["status"]) == ("consent", PROVIDER, "granted")
    assert consent["subject_id"] == "subject-1"
    assert consent["grantee_user_id"] == "grantee-1"
    assert isinstance(consent["expires_ms"], int)
    assert isinstance(consent["last_event_ms"], int)
    assert [h["seq"] for h in consent["history"]] == [1]
    assert consent["head_hash"] == consent["history"][0]["hash"]
    identity = docs[f"identity:{PROVIDER}/u-1"]
    assert (identity["kind"], identity["status"]) == ("identity", "verified")
    entry = docs[f"library:{PROVIDER}/kw-1"]
    assert (entry["kind"], entry["status"], entry["entry_kind"]) == ("library_entry", "proposed", "keyword")
    assert entry["list_key"].endswith("|kw-1")
    assert "forbidden words" in entry["search"]
    item = docs[f"review:{PROVIDER}/item-1"]
    assert (item["kind"], item["status"], item["stage"]) == ("review_item", "pending", "input")
    assert item["queue_key"].startswith("0|")
    assert item["resolved_ms"] is None  # not resolved: outside the "resolved in 7 days" count
    stats = docs[f"stats:{PROVIDER}/{day}"]
    assert (stats["kind"], stats["decisions"], stats["human"]) == (
        "review_stats",
        {"generation_approved": 1},
        0,
    )


async def test_a_redelivered_batch_changes_no_read_model() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    engine = _engine(store, publisher)
    batch = _records(
        (topics.CONSENT, consent_event(T.CONSENT_GRANTED, "c-1")),
        (topics.REVIEW, _approved("req-1")),
    )
    await engine.process(batch)
    before = {key: doc["state"] for key, doc in store.docs.items()}

    report = await engine.process(batch)

    assert (report.processed, report.duplicates) == (0, 2)
    assert {key: doc["state"] for key, doc in store.docs.items()} == before


async def test_a_provider_nobody_configured_gets_no_read_model() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    raw = consent_event(T.CONSENT_GRANTED, "c-9")
    raw["providerid"] = "provider-unknown"

    report = await _engine(store, publisher).process(_records((topics.CONSENT, raw)))

    assert report.dead_letters == 1
    assert store.docs == {}
    [dead] = publisher.of_type(T.DEADLETTER_RECORDED)
    assert json.loads(dead.value)["data"]["error_code"] == "unknown_provider"


async def _decide(sender: CommandSender, actor: Actor, request_id: str, decision: Any) -> Any:
    return await sender.review_decision(
        pending_item("item-1"),
        decision=decision,
        reason="checked",
        actor=actor,
        request_id=request_id,
        client=None,
        now=NOW,
    )


async def test_an_item_takes_one_decision_and_a_rival_form_is_refused_without_a_write() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    sender = CommandSender(store, publisher, publish_timeout_s=1.0)

    first = await _decide(sender, OLGA, "form-1", "approve")
    again = await _decide(sender, OLGA, "form-1", "approve")
    writes = store.writes
    rival = await _decide(sender, BOB, "form-2", "reject")

    assert (first.accepted, first.duplicate, first.published) == (True, False, True)
    assert (again.accepted, again.duplicate, again.command_id) == (True, True, first.command_id)
    assert (rival.accepted, rival.command_id, rival.published) == (False, first.command_id, True)
    assert rival.existing is not None
    assert rival.existing["actor"] == {"username": "olga", "role": "operator"}
    assert store.writes == writes  # the refused form left no trace
    [doc] = store.docs.values()
    assert doc["processed"] == [first.command_id]
    [sent] = publisher.of_type(T.REVIEW_DECISION_SUBMITTED)
    assert (sent.topic, sent.id) == (topics.CONSOLE_COMMANDS, first.command_id)


async def test_a_command_the_broker_did_not_take_is_stored_and_sent_once_by_the_relay() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    publisher.outage = True
    sender = CommandSender(store, publisher, publish_timeout_s=1.0)

    result = await _decide(sender, OLGA, "form-1", "reject")
    publisher.outage = False
    again = await _decide(sender, OLGA, "form-1", "reject")  # the same form: sends what is pending

    assert (result.duplicate, result.published) == (False, False)
    assert (again.duplicate, again.published) == (True, True)
    relay = OutboxRelay(store, publisher)  # type: ignore[arg-type]  # the in-memory twins
    assert await relay.sweep(include_recent=True) == 0  # nothing left
    assert [m.id for m in publisher.of_type(T.REVIEW_DECISION_SUBMITTED)] == [result.command_id]
