"""The labeling routes through the engine, in memory: typed state survives the store; kinds stay apart.

DS-16 (the ledger is kept per content), LB-9 (unlabeled copies are their own records).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.testing.events import cloud_event, to_bytes
from services.labeling.domain.ledger import ContentLedger, UnlabeledCopy
from services.labeling.entrypoints.app import DEFINITION
from services.labeling.handlers import LabelingHandlers
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.storage.aggregates import Aggregate
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
H1 = "d" * 64


@pytest.fixture
def store() -> InMemoryAggregateStore:
    return InMemoryAggregateStore()


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def engine(store: InMemoryAggregateStore, publisher: InMemoryPublisher) -> Engine:
    handlers = LabelingHandlers(PRODUCER, PRODUCER_KEY, clock=lambda: NOW)
    config = EngineConfig(
        service="labeling", source="dsgov/labeling", provider_ids=frozenset({"provider-test"})
    )
    return Engine(config, [r.bind(handlers) for r in DEFINITION.routes], store, publisher)


def _record(topic: str, event: dict[str, Any], offset: int) -> RawRecord:
    return RawRecord(topic, 0, offset, str(event["subject"]).encode(), to_bytes(event))


def _approved(content_id: str) -> dict[str, Any]:
    data = {
        "request_id": "r-1",
        "user_id": "u-1",
        "decision_id": "d-1",
        "service_type": "face_swap",
        "label_required": True,
        "content_id": content_id,
        "output": {"text": "生成的文字", "media": [{"media_id": "m1", "kind": "image", "sha256": H1}]},
    }
    return cloud_event(T.OUTPUT_APPROVED, data, subject="r-1")


def _distributed(content_id: str, distribution_id: str, kept: bool) -> dict[str, Any]:
    data = {
        "content_id": content_id,
        "distribution_id": distribution_id,
        "recipients": ["u-8", "u-9"],
        "channel": "download",
        "explicit_label_kept": kept,
    }
    return cloud_event(T.CONTENT_DISTRIBUTED, data, subject=content_id)


def _state(store: InMemoryAggregateStore, aggregate_id: str) -> dict[str, Any]:
    state: dict[str, Any] = store.docs[aggregate_id]["state"]
    return state


async def test_ledger_and_lb9_records_round_trip_through_the_store_and_never_mix(
    engine: Engine, store: InMemoryAggregateStore, publisher: InMemoryPublisher
) -> None:
    batch = [
        _record(topics.REVIEW, _approved("c-1"), 0),
        _record(topics.PLATFORM_DISTRIBUTION, _distributed("c-1", "dist-kept", kept=True), 0),
        _record(topics.PLATFORM_DISTRIBUTION, _distributed("c-1", "dist-raw", kept=False), 1),
    ]
    report = await engine.process(batch)
    assert report.processed == 3
    assert report.dead_letters == 0
    assert len(publisher.of_type(T.CONTENT_LABELED)) == 2

    ledger = Aggregate.from_doc(store.docs["provider-test/c-1"]).typed(ContentLedger)
    assert ledger is not None
    assert H1 in ledger.hashes
    assert ledger.produce_ids == tuple(sorted(e.produce_id for e in ledger.labels))
    assert len(ledger.labels) == 2
    # The stored explicit label stays compact (no null figures a modality does not use).
    image = next(e for e in _state(store, "provider-test/c-1")["labels"] if e["item"] == "m1")
    assert image["explicit_label"] == {
        "modality": "image",
        "text": "AI生成",
        "placement": "edge_or_corner",
        "min_height_ratio": 0.05,
    }
    copy = Aggregate.from_doc(store.docs["provider-test/lb9/c-1/dist-raw"]).typed(UnlabeledCopy)
    assert copy is not None
    assert copy.recipients == ("u-8", "u-9")
    # The labeled copy left the ledger untouched and kept nothing but its event id.
    assert "provider-test/lb9/c-1/dist-kept" not in store.docs
    assert _state(store, "provider-test/labeled-copies/c-1") == {}
    assert store.docs["provider-test/c-1"]["version"] == 1

    # Redelivered, and a new approval of the same output: nothing new is issued (DS-16, once per label).
    again = await engine.process([*batch[:1], _record(topics.REVIEW, _approved("c-1"), 1)])
    assert again.duplicates == 1
    assert len(publisher.of_type(T.CONTENT_LABELED)) == 2
