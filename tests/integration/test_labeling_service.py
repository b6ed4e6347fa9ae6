"""The labeling service as a real process on the embedded broker and store (DS-16..18, LB-5, LB-9)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder, Seen
from services.labeling.aigc import files, integrity
from services.labeling.aigc.label import AigcLabel
from services.labeling.aigc.verify import verify
from tests.unit.labeling import samples
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY, sha256

pytestmark = pytest.mark.integration

APPROVED = "dsgov.output.approved"
LABELED = "dsgov.content.labeled"


class LabelingHarness(ServiceHarness):
    """One labeling service process in its own topic namespace and database."""

    def __init__(self, stack: EmbeddedStack, tmp: Path, **extra_env: str) -> None:
        env = {
            "DSGOV_LABELING_PROVIDER_CODE": PRODUCER,
            "DSGOV_LABELING_SIGNING_KEY": integrity.private_key_text(PRODUCER_KEY),
            **extra_env,
        }
        super().__init__(stack, tmp, "services.labeling", database="labeling", env=env)

    def lookup(self, *args: str) -> tuple[int, dict[str, Any]]:
        """`python -m services.labeling lookup ...` against this harness's store."""
        env = {**os.environ, "DSGOV_MONGO_URI": self.stack.mongo_uri, "DSGOV_MONGO_DATABASE": self.database}
        done = subprocess.run(
            [sys.executable, "-m", "services.labeling", "lookup", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LabelingHarness]:
    h = LabelingHarness(stack, tmp_path_factory.mktemp("labeling"))
    await h.provision()
    h.service.start()
    yield h
    h.service.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(harness: LabelingHarness) -> AsyncIterator[Recorder]:
    rec = harness.recorder("dsgov.labeling", "dsgov.deadletter")
    await rec.start()
    yield rec
    await rec.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def store(harness: LabelingHarness) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(harness.stack.mongo_uri, tz_aware=True)
    yield client[harness.database]["labels"]
    await client.close()


def approved(
    content_id: str, media: list[dict[str, Any]], text: str | None = None, **extra: Any
) -> dict[str, Any]:
    request_id = "req-" + content_id
    data = {
        "request_id": request_id,
        "user_id": "u-" + content_id,
        "decision_id": "dec-" + content_id,
        "service_type": "face_swap",
        "label_required": True,
        "content_id": content_id,
        "output": {"media": media, **({"text": text} if text is not None else {})},
        **extra,
    }
    return cloud_event(APPROVED, data, subject=request_id)


async def send(
    producer: AIOKafkaProducer, h: LabelingHarness, topic: str, event: dict[str, Any] | bytes, key: str
) -> None:
    value = event if isinstance(event, bytes) else to_bytes(event)
    await producer.send_and_wait(h.topic(topic), value, key=key.encode())


def labels_for(recorder: Recorder, content_id: str) -> list[dict[str, Any]]:
    return [
        r.json() for r in recorder.matching(lambda r: r.topic == "dsgov.labeling" and r.key == content_id)
    ]


async def labeled(recorder: Recorder, content_id: str, count: int = 1) -> list[dict[str, Any]]:
    await recorder.wait_for(
        lambda r: r.topic == "dsgov.labeling" and r.key == content_id, count=count, timeout=60
    )
    return labels_for(recorder, content_id)


async def test_an_approved_image_gets_a_label_that_verifies_once_embedded_and_the_ledger_answers(
    harness: LabelingHarness, recorder: Recorder, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    picture = samples.png(120, 80)
    content = unique("golden")
    sent = approved(
        content,
        [{"media_id": "img-1", "kind": "image", "sha256": sha256(picture), "width": 120, "height": 80}],
    )
    await send(producer, harness, "dsgov.review", sent, sent["subject"])

    [event] = await labeled(recorder, content)

    assert event["type"] == LABELED
    assert (event["causationid"], event["correlationid"]) == (sent["id"], sent["id"])
    data = event["data"]
    assert list(data["implicit_label"]["AIGC"]) == [
        "Label",
        "ContentProducer",
        "ProduceID",
        "ReservedCode1",
        "ContentPropagator",
        "PropagateID",
        "ReservedCode2",
    ]
    label = AigcLabel.parse(json.dumps(data["implicit_label"]))
    assert (label.label, label.content_producer, label.produce_id) == ("1", PRODUCER, data["produce_id"])
    assert label.is_first_write  # GB-I7
    assert data["explicit_label"] == {
        "modality": "image",
        "text": "AI生成",
        "placement": "edge_or_corner",
        "min_height_ratio": 0.05,
    }
    assert (data["media_id"], data["content_sha256"]) == ("img-1", sha256(picture))

    # The platform embeds the issued label into its file; verify then passes with the provider's key.
    file = tmp_path / "out.png"
    file.write_bytes(files.embed(picture, label))
    report = verify(file.read_bytes(), PRODUCER_KEY.public_key())
    assert report.ok
    assert report.findings == []

    for query in (["--produce-id", label.produce_id], ["--sha256", sha256(picture)], ["--file", str(file)]):
        code, answer = harness.lookup(*query)
        assert code == 0, answer
        [match] = answer["matches"]
        assert (match["generated_by_provider"], match["content_id"], match["producer_code"]) == (
            True,
            content,
            PRODUCER,
        )
        assert match["labels"][0]["implicit_label"] == data["implicit_label"]
        assert match["labels"][0]["explicit_label"]["text"] == "AI生成"
    code, answer = harness.lookup("--sha256", "0" * 64)
    assert (code, answer["found"], answer["generated_by_provider"]) == (1, 0, False)


async def test_text_and_several_media_get_one_label_each(
    harness: LabelingHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    content = unique("multi")
    media = [
        {"media_id": "v-1", "kind": "video", "sha256": sha256(samples.mp4())},
        {"media_id": "a-1", "kind": "audio", "sha256": sha256(samples.wav())},
    ]
    sent = approved(
        content, media, text="人工智能写的文字", service_type="text_dialogue", label_required=False
    )
    await send(producer, harness, "dsgov.review", sent, sent["subject"])

    events = await labeled(recorder, content, count=3)
    by_item = {e["data"].get("media_id", "text"): e["data"] for e in events}
    assert set(by_item) == {"text", "v-1", "a-1"}
    assert by_item["text"]["explicit_label"]["modality"] == "interactive"  # GB-E6: a chat interface notice
    assert by_item["v-1"]["explicit_label"]["min_duration_s"] == 2.0  # GB-E4
    assert by_item["a-1"]["explicit_label"]["audio_rhythm"] == ".- .."  # GB-E3
    assert len({d["produce_id"] for d in by_item.values()}) == 3


async def test_duplicates_and_re_approvals_give_one_label(
    harness: LabelingHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    content = unique("dup")
    media = [{"media_id": "m", "kind": "image", "sha256": "ab" * 32}]
    first = approved(content, media)
    await send(producer, harness, "dsgov.review", first, first["subject"])
    await labeled(recorder, content)
    await send(producer, harness, "dsgov.review", first, first["subject"])  # redelivery: same event id
    again = approved(content, media)  # a second approval of the same output: new event id
    await send(producer, harness, "dsgov.review", again, again["subject"])
    marker_content = unique("after-dup")
    marker = approved(marker_content, media)
    marker["subject"] = marker["data"]["request_id"] = first[
        "subject"
    ]  # same key: processed after the others
    await send(producer, harness, "dsgov.review", marker, marker["subject"])
    await labeled(recorder, marker_content)

    assert len(labels_for(recorder, content)) == 1


async def test_other_review_events_are_ignored(
    harness: LabelingHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    content = unique("blocked")
    blocked = approved(content, [{"media_id": "m", "kind": "image", "sha256": "cd" * 32}])
    blocked["type"] = "dsgov.output.blocked"
    gen = cloud_event(
        "dsgov.generation.approved",
        {"request_id": blocked["subject"], "user_id": "u", "decision_id": "d"},
        subject=blocked["subject"],
    )
    follower = approved(unique("after-blocked"), [{"media_id": "m", "kind": "image", "sha256": "ce" * 32}])
    follower["subject"] = follower["data"]["request_id"] = blocked["subject"]
    for event in (blocked, gen, follower):
        await send(producer, harness, "dsgov.review", event, blocked["subject"])
    await labeled(recorder, follower["data"]["content_id"])

    assert labels_for(recorder, content) == []
    assert _dead_letters(recorder, blocked["subject"]) == []


async def test_unlabeled_copies_are_logged_with_recipients_for_184_days(
    harness: LabelingHarness, recorder: Recorder, producer: AIOKafkaProducer, store: Any
) -> None:
    content = unique("lb9")
    media = [{"media_id": "m", "kind": "image", "sha256": "ef" * 32}]
    sent = approved(content, media)
    await send(producer, harness, "dsgov.review", sent, sent["subject"])
    await labeled(recorder, content)
    distributions = [
        ("dist-kept", ["u-a"], True),
        ("dist-raw", ["u-b", "u-c"], False),  # the user took a copy without the explicit label (LB-9)
    ]
    for dist, recipients, kept in distributions:
        data = {
            "content_id": content,
            "distribution_id": dist,
            "recipients": recipients,
            "channel": "download",
            "explicit_label_kept": kept,
        }
        await send(
            producer,
            harness,
            "dsgov.platform.distribution",
            cloud_event("dsgov.content.distributed", data, subject=content),
            content,
        )

    doc = await _poll(store, {"_id": f"provider-test/lb9/{content}/dist-raw"})
    state = doc["state"]
    assert state["recipients"] == ["u-b", "u-c"]
    assert state["reasons"] == [{"code": "unlabeled_copy_logged", "article": "LB-9"}]
    assert state["lb9_expires_at"] >= datetime.now(UTC) + timedelta(days=183, hours=23)
    assert await store.find_one({"_id": f"provider-test/lb9/{content}/dist-kept"}) is None
    indexes = [i async for i in await store.list_indexes()]
    assert any(i.get("expireAfterSeconds") == 0 and "state.lb9_expires_at" in i["key"] for i in indexes)

    code, answer = harness.lookup("--sha256", "ef" * 32)
    assert code == 0
    copies = answer["matches"][0]["unlabeled_copies"]
    assert [c["distribution_id"] for c in copies] == ["dist-raw"]


async def _poll(store: Any, query: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] | None = await store.find_one(query)
        if doc is not None:
            return doc
        await asyncio.sleep(0.1)
    raise AssertionError(f"no document {query} within {timeout}s")


def _dead_letters(recorder: Recorder, key: str) -> list[Seen]:
    return recorder.matching(lambda r: r.topic == "dsgov.deadletter" and r.json()["data"].get("key") == key)


BAD: list[tuple[str, str]] = [
    ("not-json", "invalid_json"),
    ("wrong-types", "schema_violation"),
    ("unknown-type", "unknown_type"),
    ("no-content-id", "processing_failed"),
    ("no-output", "processing_failed"),
    ("bad-hash", "schema_violation"),
]


def _bad(label: str, key: str) -> bytes:
    if label == "not-json":
        return b"\xff{not json"
    if label == "unknown-type":
        return to_bytes(cloud_event("dsgov.output.teleported", {"request_id": key}, subject=key))
    event = approved("c-" + key, [{"media_id": "m", "kind": "image", "sha256": "12" * 32}])
    event["subject"] = event["data"]["request_id"] = key
    if label == "wrong-types":
        event["data"]["label_required"] = {"no": 1}
    elif label == "no-content-id":
        del event["data"]["content_id"]
    elif label == "no-output":
        event["data"]["output"] = {"media": []}
    elif label == "bad-hash":
        event["data"]["output"]["media"][0]["sha256"] = "zz"
    return to_bytes(event)


async def test_bad_input_is_dead_lettered_with_its_bytes_and_processing_goes_on(
    harness: LabelingHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    followers = []
    for label, _ in BAD:
        key = unique(label)
        value = _bad(label, key)
        await send(producer, harness, "dsgov.review", value, key)
        follower = approved(unique("ok-" + label), [{"media_id": "m", "kind": "image", "sha256": "34" * 32}])
        follower["subject"] = follower["data"]["request_id"] = key
        await send(producer, harness, "dsgov.review", follower, key)
        followers.append((key, label, follower["data"]["content_id"], value))

    for key, label, follower_content, value in followers:
        await labeled(recorder, follower_content)  # the partition was not blocked
        [dead] = await recorder.wait_for(
            lambda r, k=key: r.topic == "dsgov.deadletter" and r.json()["data"].get("key") == k, timeout=60
        )
        dl = dead.json()["data"]
        assert dl["error_code"] == dict(BAD)[label], dl
        assert dl["service"] == "labeling"
        assert dl.get("payload_encryption") is None  # dsgov.review carries no personal identifiers
        assert base64.b64decode(dl["payload"]) == value
        assert (dl["payload_sha256"], dl["payload_size"]) == (sha256(value), len(value))
        if label in ("no-content-id", "no-output"):
            assert ("content_id_missing" if label == "no-content-id" else "output_missing") in dl[
                "error_detail"
            ]
            assert dl["attempts"] == 1  # Unprocessable: no pointless retries


async def test_an_invalid_provider_code_stops_the_service_at_start(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    h = LabelingHarness(stack, tmp_path, DSGOV_LABELING_PROVIDER_CODE="001191440300708461136A1XGW3")
    with pytest.raises(RuntimeError, match="exited") as info:
        h.service.start(timeout=60)
    assert "provider code" in str(info.value)
    assert integrity.private_key_text(PRODUCER_KEY) not in str(info.value)
