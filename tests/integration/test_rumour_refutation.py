# ruff: noqa: RUF001 - Chinese and full-width test text keeps its own punctuation
"""The rumour refutation service as a real process on the embedded broker and store (DS-11, DS-21)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder, start_producer
from tests.unit.rumour_refutation.corpus import RUMOURS

pytestmark = pytest.mark.integration

GENERATION = "dsgov.platform.generation"
DISTRIBUTION = "dsgov.platform.distribution"
NOTICES = "dsgov.regulator.notices"
RUMOUR = "dsgov.rumour"
DEADLETTER = "dsgov.deadletter"
COMMANDS = "dsgov.console.commands"
OPERATOR = {"username": "ops-wang", "role": "operator"}
MODULE = "services.rumour_refutation"

CLAIM = "某市今晚将发生8级以上强烈地震，请市民立即撤离到空旷地带。"
PARAPHRASE = "某市今夜会发生八级以上的强烈地震，市民们请马上撤离到空旷的地方。"
ARTICLE = (
    "今天天气晴朗，气温适宜，适合外出散步。紧急通知："
    + CLAIM
    + "图书馆最近新增了一批科普读物，欢迎市民前来借阅。"
)
UNRELATED = "这家餐厅的红烧肉味道非常好，价格也很实惠。周末的公园里人很多，有人放风筝，有人跑步。"
EN_CLAIM = "Drinking a teaspoon of bleach every morning cures the virus within three days, doctors confirm."
REFUTATION = "经核实，该地震消息为谣言。地震部门未发布任何临震预报。"


class RumourHarness(ServiceHarness):
    """One rumour refutation process in its own topic namespace and database."""

    def __init__(self, stack: EmbeddedStack, tmp: Path, **extra_env: str) -> None:
        env = {"DSGOV_RUMOUR_FANOUT_INTERVAL_S": "0.1", **extra_env}
        super().__init__(stack, tmp, MODULE, database="rumour", env=env)

    async def send(
        self, producer: AIOKafkaProducer, topic: str, event: dict[str, Any] | bytes, key: str
    ) -> None:
        value = event if isinstance(event, bytes) else to_bytes(event)
        await producer.send_and_wait(self.topic(topic), value, key=key.encode())


def completed(content_id: str, text: str | None, media: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    request_id = "req-" + content_id
    output: dict[str, Any] = {"media": media or []}
    if text is not None:
        output["text"] = text
    data = {"request_id": request_id, "content_id": content_id, "output": output}
    return cloud_event("dsgov.generation.completed", data, subject=request_id)


def distributed(content_id: str, recipients: list[str], distribution_id: str | None = None) -> dict[str, Any]:
    data = {
        "content_id": content_id,
        "distribution_id": distribution_id or unique("dist"),
        "recipients": recipients,
        "channel": "feed",
        "explicit_label_kept": True,
    }
    return cloud_event("dsgov.content.distributed", data, subject=content_id)


def determined(
    notice_id: str, claim: str, refutation: str = REFUTATION, media: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    data = {
        "notice_id": notice_id,
        "claim_text": claim,
        "refutation_text": refutation,
        "claim_media": media or [],
        "severity": "high",
    }
    return cloud_event("dsgov.rumour.determined", data, subject=notice_id, source="regulator/cac")


def ordered(notice_id: str, content_ids: list[str], reason: str = "违法违规内容") -> dict[str, Any]:
    data = {"notice_id": notice_id, "content_ids": content_ids, "reason": reason}
    return cloud_event("dsgov.takedown.ordered", data, subject=notice_id, source="regulator/cac")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RumourHarness]:
    h = RumourHarness(stack, tmp_path_factory.mktemp("rumour"))
    await h.provision()
    h.service.start()
    yield h
    h.service.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(harness: RumourHarness) -> AsyncIterator[Recorder]:
    rec = Recorder(
        harness.stack.bootstrap,
        [harness.topic(RUMOUR), harness.topic(DEADLETTER)],
        strip_prefix=harness.prefix,
    )
    await rec.start()
    yield rec
    await rec.stop()


def _events(recorder: Recorder, type_: str, **data: str) -> list[dict[str, Any]]:
    """What a consumer that de-duplicates by event id sees (at-least-once publishing may repeat an
    event; a repeat must then be the very same event)."""
    by_id: dict[str, dict[str, Any]] = {}
    for r in recorder.matching(lambda r: r.topic == RUMOUR):
        event = r.json()
        if event["type"] == type_ and all(event["data"].get(k) == v for k, v in data.items()):
            assert by_id.setdefault(event["id"], event) == event, "an event id was reused for another event"
    return list(by_id.values())


async def _wait(
    recorder: Recorder, type_: str, count: int = 1, timeout: float = 30, **data: str
) -> list[dict[str, Any]]:
    """Poll until `count` distinct events of the type (and data) arrived; fail with what was seen."""
    deadline = time.monotonic() + timeout
    while len(found := _events(recorder, type_, **data)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {count} {type_} {data} within {timeout}s, saw {len(found)}")
        await asyncio.sleep(0.1)
    return found


def notices(recorder: Recorder, notice_id: str) -> list[dict[str, Any]]:
    return _events(recorder, "dsgov.refutation.notice", notice_id=notice_id)


def takedowns(recorder: Recorder, notice_id: str) -> list[dict[str, Any]]:
    return _events(recorder, "dsgov.content.takedown-required", notice_id=notice_id)


async def test_a_rumour_determined_after_distribution_takes_down_its_outputs_and_tells_each_recipient_once(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    a, b, c = unique("article"), unique("paraphrase"), unique("unrelated")
    u1, u2, u3, u4 = (unique(f"user{i}") for i in range(1, 5))
    await harness.send(producer, GENERATION, completed(a, ARTICLE), "req-" + a)
    await harness.send(producer, GENERATION, completed(b, PARAPHRASE), "req-" + b)
    await harness.send(producer, GENERATION, completed(c, UNRELATED), "req-" + c)
    await harness.send(producer, DISTRIBUTION, distributed(a, [u1, u2]), a)
    await harness.send(producer, DISTRIBUTION, distributed(b, [u2, u3]), b)
    await harness.send(producer, DISTRIBUTION, distributed(c, [u4]), c)
    notice = unique("notice")
    await _settle(harness, producer, recorder)  # everything indexed and logged before the determination
    sent = determined(notice, CLAIM)
    await harness.send(producer, NOTICES, sent, notice)

    [recorded] = await _wait(recorder, "dsgov.rumour.recorded", notice_id=notice)
    assert set(recorded["data"]["matched_content_ids"]) == {a, b}
    assert recorded["data"]["recipients_reached"] == 3
    assert recorded["data"]["refutation_text"] == REFUTATION
    assert recorded["data"]["fingerprints"]  # the review service blocks with these (DS-11)
    assert recorded["causationid"] == sent["id"]
    got = await _wait(recorder, "dsgov.content.takedown-required", count=2, notice_id=notice)
    assert {t["data"]["content_id"] for t in got} == {a, b}
    assert all(t["data"]["reason"] == "known_rumour" for t in got)
    assert all(t["correlationid"] == sent["id"] for t in got)
    told = await _wait(recorder, "dsgov.refutation.notice", count=3, notice_id=notice)

    await _settle(harness, producer, recorder)  # anything more would have come out by now
    told = notices(recorder, notice)
    assert Counter(n["data"]["recipient_user_id"] for n in told) == {u1: 1, u2: 1, u3: 1}
    [to_u2] = [n for n in told if n["data"]["recipient_user_id"] == u2]
    assert set(to_u2["data"]["content_ids"]) <= {a, b}
    assert all(n["data"]["refutation_text"] == REFUTATION for n in told)
    assert all(n["subject"] == n["data"]["recipient_user_id"] for n in told)
    assert len(takedowns(recorder, notice)) == 2


async def _settle(harness: RumourHarness, producer: AIOKafkaProducer, recorder: Recorder) -> None:
    """A marker case through every topic; when its notice is out, everything sent before is handled."""
    content, user, notice = unique("marker"), unique("marker-user"), unique("marker-notice")
    await harness.send(producer, NOTICES, ordered(notice, [content], "marker"), notice)
    await harness.send(producer, DISTRIBUTION, distributed(content, [user]), content)
    await _wait(recorder, "dsgov.refutation.notice", notice_id=notice, recipient_user_id=user)


def _recipients(told: list[dict[str, Any]]) -> Counter[str]:
    return Counter(n["data"]["recipient_user_id"] for n in told)


async def test_distributions_after_the_determination_reach_new_recipients_once_even_through_two_outputs(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    rumour = RUMOURS[2]  # zh-bank
    p, q = unique("verbatim"), unique("reworded")
    v1, v2, v3, v4 = (unique(f"viewer{i}") for i in range(1, 5))
    await harness.send(producer, GENERATION, completed(p, rumour.claim), "req-" + p)
    await harness.send(producer, GENERATION, completed(q, rumour.paraphrase), "req-" + q)
    await _settle(harness, producer, recorder)
    notice = unique("notice")
    await harness.send(producer, NOTICES, determined(notice, rumour.claim), notice)
    got = await _wait(recorder, "dsgov.content.takedown-required", count=2, notice_id=notice)
    assert {t["data"]["content_id"] for t in got} == {p, q}
    [recorded] = _events(recorder, "dsgov.rumour.recorded", notice_id=notice)
    assert recorded["data"]["recipients_reached"] == 0  # nobody had received them yet

    await harness.send(producer, DISTRIBUTION, distributed(p, [v1, v2]), p)
    await harness.send(producer, DISTRIBUTION, distributed(q, [v2, v3]), q)  # v2 again, through q
    await _wait(recorder, "dsgov.refutation.notice", count=3, notice_id=notice)
    await harness.send(producer, DISTRIBUTION, distributed(p, [v1, v4]), p)  # only v4 is new
    await _wait(recorder, "dsgov.refutation.notice", notice_id=notice, recipient_user_id=v4)

    await _settle(harness, producer, recorder)
    assert _recipients(notices(recorder, notice)) == {v1: 1, v2: 1, v3: 1, v4: 1}
    assert len(takedowns(recorder, notice)) == 2
    ids = [n["id"] for n in notices(recorder, notice)]
    assert len(set(ids)) == 4


async def test_an_output_after_the_determination_is_taken_down_and_its_earlier_distribution_reached(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    rumour = RUMOURS[12]  # en-bleach
    notice = unique("notice")
    await harness.send(producer, NOTICES, determined(notice, rumour.claim, "Bleach cures nothing."), notice)
    await _wait(recorder, "dsgov.rumour.recorded", notice_id=notice)
    late, other = unique("late"), unique("other")
    w1, w2 = unique("w1"), unique("w2")
    # Out of order: the distribution arrives before the output it distributes.
    await harness.send(producer, DISTRIBUTION, distributed(late, [w1]), late)
    await harness.send(producer, DISTRIBUTION, distributed(other, [w2]), other)
    await _settle(harness, producer, recorder)
    article = f"The weather was mild today. BREAKING: {rumour.paraphrase} The bakery sells sourdough bread."
    out = completed(late, article)
    await harness.send(producer, GENERATION, out, "req-" + late)
    await harness.send(
        producer, GENERATION, completed(other, "The orchestra plays on Friday evening."), "req-" + other
    )

    [takedown] = await _wait(recorder, "dsgov.content.takedown-required", notice_id=notice)
    assert takedown["data"]["content_id"] == late
    assert takedown["causationid"] == out["id"]
    assert takedown["data"]["score"] >= 0.45
    [told] = await _wait(recorder, "dsgov.refutation.notice", notice_id=notice)
    assert told["data"]["recipient_user_id"] == w1
    assert told["data"]["refutation_text"] == "Bleach cures nothing."
    await _settle(harness, producer, recorder)
    assert len(notices(recorder, notice)) == 1  # w2 received an unrelated output


async def test_claim_media_match_by_sha256_and_by_near_perceptual_hash(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    sha = uuid.uuid4().hex * 2
    same, near, far = unique("same-file"), unique("near-copy"), unique("other-image")

    def image(sha256: str, phash: str) -> list[dict[str, Any]]:
        return [{"media_id": unique("m"), "kind": "image", "sha256": sha256, "phash": phash}]

    await harness.send(
        producer, GENERATION, completed(same, None, image(sha, "0f0f0f0f0f0f0f0f")), "req-" + same
    )
    await harness.send(
        producer, GENERATION, completed(near, None, image("a" * 64, "ffff0000ffff0003")), "req-" + near
    )
    await harness.send(
        producer, GENERATION, completed(far, None, image("b" * 64, "0000ffff0000ffff")), "req-" + far
    )
    await _settle(harness, producer, recorder)
    notice = unique("notice")
    media = [{"sha256": sha, "phash": "1234123412341234"}, {"sha256": "c" * 64, "phash": "ffff0000ffff0000"}]
    await harness.send(producer, NOTICES, determined(notice, "", "此图片系伪造。", media), notice)

    got = await _wait(recorder, "dsgov.content.takedown-required", count=2, notice_id=notice)
    scores = {t["data"]["content_id"]: t["data"]["score"] for t in got}
    assert scores == {same: 1.0, near: pytest.approx(1 - 2 / 64, abs=1e-4)}
    await _settle(harness, producer, recorder)
    assert len(takedowns(recorder, notice)) == 2


async def test_duplicates_have_no_second_effect(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    rumour = RUMOURS[5]  # zh-vaccine
    content, viewer = unique("dup-content"), unique("dup-viewer")
    out = completed(content, rumour.claim)
    dist = distributed(content, [viewer, viewer])
    notice = unique("notice")
    sent = determined(notice, rumour.claim)
    for _ in range(2):
        await harness.send(producer, GENERATION, out, "req-" + content)
        await harness.send(producer, DISTRIBUTION, dist, content)
    await _settle(harness, producer, recorder)
    await harness.send(producer, NOTICES, sent, notice)
    await harness.send(producer, NOTICES, sent, notice)  # a redelivery
    resent = determined(notice, rumour.claim)  # the regulator re-sends: same notice, new event id
    await harness.send(producer, NOTICES, resent, notice)
    await harness.send(producer, DISTRIBUTION, distributed(content, [viewer]), content)  # same viewer again

    await _wait(recorder, "dsgov.refutation.notice", notice_id=notice, recipient_user_id=viewer)
    await _settle(harness, producer, recorder)
    assert len(_events(recorder, "dsgov.rumour.recorded", notice_id=notice)) == 1
    assert len(takedowns(recorder, notice)) == 1
    assert _recipients(notices(recorder, notice)) == {viewer: 1}


async def test_a_takedown_order_takes_the_listed_content_down_and_tells_its_recipients(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    t1, t2, untouched = unique("t1"), unique("t2"), unique("t3")
    w1, w2, w3, w4 = (unique(f"r{i}") for i in range(1, 5))
    await harness.send(producer, GENERATION, completed(t1, UNRELATED), "req-" + t1)
    await harness.send(producer, DISTRIBUTION, distributed(t1, [w1, w2]), t1)
    await harness.send(producer, DISTRIBUTION, distributed(untouched, [w4]), untouched)
    await _settle(harness, producer, recorder)
    notice = unique("order")
    sent = ordered(notice, [t1, t2], "侵犯他人名誉权")
    await harness.send(producer, NOTICES, sent, notice)
    got = await _wait(recorder, "dsgov.content.takedown-required", count=2, notice_id=notice)
    assert {t["data"]["content_id"] for t in got} == {t1, t2}
    assert all(t["data"]["reason"] == "takedown_ordered" and "rumour_id" not in t["data"] for t in got)
    await harness.send(producer, DISTRIBUTION, distributed(t2, [w2, w3]), t2)  # t2 spreads after the order

    await _wait(recorder, "dsgov.refutation.notice", count=3, notice_id=notice)
    await _settle(harness, producer, recorder)
    told = notices(recorder, notice)
    assert _recipients(told) == {w1: 1, w2: 1, w3: 1}
    assert all(n["data"]["refutation_text"] == "侵犯他人名誉权" for n in told)
    assert _events(recorder, "dsgov.rumour.recorded", notice_id=notice) == []


async def test_the_case_file_shows_claim_matches_takedowns_and_notices(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    rumour = RUMOURS[9]  # zh-traffic
    content, viewers = unique("file"), [unique("fv") for _ in range(3)]
    await harness.send(producer, GENERATION, completed(content, rumour.claim), "req-" + content)
    await harness.send(producer, DISTRIBUTION, distributed(content, viewers), content)
    await _settle(harness, producer, recorder)
    notice = unique("notice")
    await harness.send(producer, NOTICES, determined(notice, rumour.claim), notice)
    await _wait(recorder, "dsgov.refutation.notice", count=3, notice_id=notice)

    env = {**os.environ, **harness.env}
    run = subprocess.run(  # noqa: ASYNC221 - a short CLI run
        [sys.executable, "-m", MODULE, "case", notice], env=env, capture_output=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    record = json.loads(run.stdout)
    assert record["case"]["claim_text"] == rumour.claim
    assert record["case"]["kind"] == "rumour"
    [match] = record["matches"]
    assert match["content_id"] == content
    assert match["score"] >= 0.99
    assert match["via"] == "text"
    assert [f["recipients"] for f in match["fanned_out"]] == [3]
    assert sorted(n["recipient_user_id"] for n in record["notices"]) == sorted(viewers)
    assert record["notices_sent"] == 3
    missing = subprocess.run(  # noqa: ASYNC221
        [sys.executable, "-m", MODULE, "case", "no-such-notice"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode == 1


def case_submitted(notice_id: str, claim: str) -> dict[str, Any]:
    data = {
        "notice_id": notice_id,
        "claim_text": claim,
        "refutation_text": REFUTATION,
        "severity": "high",
        "reason": "the provider's own fact-check found it false",
        "actor": OPERATOR,
    }
    return cloud_event("dsgov.rumour.case-submitted", data, subject=notice_id, source="dsgov/console")


def close_submitted(notice_id: str) -> dict[str, Any]:
    data = {"notice_id": notice_id, "reason": "the rumour has been dealt with", "actor": OPERATOR}
    return cloud_event("dsgov.rumour.case-close-submitted", data, subject=notice_id, source="dsgov/console")


def regulator_closed(notice_id: str) -> dict[str, Any]:
    data = {"notice_id": notice_id, "reason": "determination withdrawn"}
    return cloud_event("dsgov.rumour.closed", data, subject=notice_id, source="regulator/cac")


async def _poll_state(
    harness: RumourHarness, aggregate_id: str, ready: Any, timeout: float = 30
) -> dict[str, Any]:
    """The stored state of one aggregate once `ready(state)` holds (polled with a deadline)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(harness.stack.mongo_uri, tz_aware=True)
    try:
        deadline = time.monotonic() + timeout
        while True:
            doc = await client[harness.database]["rumour"].find_one({"_id": aggregate_id})
            if doc is not None and ready(doc["state"]):
                state: dict[str, Any] = doc["state"]
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"{aggregate_id} did not reach the expected state: {doc}")
            await asyncio.sleep(0.1)
    finally:
        await client.close()


async def test_ds11_a_provider_opened_case_notifies_until_closed_and_then_sends_nothing_new(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    rumour = RUMOURS[4]  # zh-exam
    content, later_output = unique("own-case"), unique("after-close")
    u1, u2, u3 = (unique(f"pupil{i}") for i in range(1, 4))
    await harness.send(producer, GENERATION, completed(content, rumour.claim), "req-" + content)
    await harness.send(producer, DISTRIBUTION, distributed(content, [u1, u2]), content)
    await _settle(harness, producer, recorder)
    notice = unique("own-notice")
    await harness.send(producer, COMMANDS, case_submitted(notice, rumour.claim), notice)

    [recorded] = await _wait(recorder, "dsgov.rumour.recorded", notice_id=notice)
    assert recorded["data"]["matched_content_ids"] == [content]
    await _wait(recorder, "dsgov.content.takedown-required", notice_id=notice, content_id=content)
    await _wait(recorder, "dsgov.refutation.notice", count=2, notice_id=notice)

    await harness.send(producer, COMMANDS, close_submitted(notice), notice)
    [closed] = await _wait(recorder, "dsgov.rumour.case-closed", notice_id=notice)
    assert closed["subject"] == notice
    assert closed["data"]["closed_by"] == "console"
    assert closed["data"]["actor"] == OPERATOR
    assert closed["data"]["notices_sent"] == 2
    assert closed["data"]["rumour_id"] == recorded["data"]["rumour_id"]

    # After the close: a new recipient of the matched content, and a new output carrying the claim.
    await harness.send(producer, DISTRIBUTION, distributed(content, [u3]), content)
    await harness.send(producer, GENERATION, completed(later_output, rumour.claim), "req-" + later_output)
    state = await _poll_state(
        harness,
        f"content:provider-test/{content}",
        lambda s: any(f.get("skipped") == "case_closed" for f in s.get("fanned", [])),
    )
    assert state["pending"] == []
    after = await _poll_state(harness, f"content:provider-test/{later_output}", lambda s: s["indexed_ms"] > 0)
    assert notice not in after["matched_notices"]
    assert {n["data"]["recipient_user_id"] for n in notices(recorder, notice)} == {u1, u2}
    assert {t["data"]["content_id"] for t in takedowns(recorder, notice)} == {content}


async def test_ds11_the_regulator_closes_cases_and_the_console_cannot_close_a_takedown_order(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    notice, order = unique("reg-notice"), unique("reg-order")
    await harness.send(producer, NOTICES, determined(notice, RUMOURS[1].claim), notice)
    await _wait(recorder, "dsgov.rumour.recorded", notice_id=notice)
    await harness.send(producer, NOTICES, regulator_closed(notice), notice)
    [closed] = await _wait(recorder, "dsgov.rumour.case-closed", notice_id=notice)
    assert closed["data"]["closed_by"] == "regulator"
    assert closed["data"].get("actor") is None  # no console user: the regulator closed it

    await harness.send(producer, NOTICES, ordered(order, [unique("ordered")]), order)
    await harness.send(producer, COMMANDS, close_submitted(order), order)
    await recorder.wait_for(lambda r: r.topic == DEADLETTER and r.json()["data"].get("key") == order)
    [dl] = _dead_letters(recorder, order)
    assert dl["original_topic"] == COMMANDS
    assert "case_not_closable" in dl["error_detail"]
    assert _events(recorder, "dsgov.rumour.case-closed", notice_id=order) == []


def _dead_letters(recorder: Recorder, key: str) -> list[dict[str, Any]]:
    found = recorder.matching(lambda r: r.topic == DEADLETTER)
    return [d for d in (r.json()["data"] for r in found) if d.get("key") == key]


BAD_INPUTS: list[tuple[str, str, Any, str]] = [
    ("not-json", NOTICES, b'{"specversion": "1.0", "type": ', "invalid_json"),
    ("array", DISTRIBUTION, b"[]", "invalid_envelope"),
    ("unknown-type", GENERATION, "TYPE", "unknown_type"),
    ("no-refutation", NOTICES, "NO_REFUTATION", "schema_violation"),
    ("subject-mismatch", DISTRIBUTION, "MISMATCH", "schema_violation"),
    ("bad-sha", GENERATION, "BAD_SHA", "schema_violation"),
    ("kind-clash", NOTICES, "CLASH", "processing_failed"),
]


async def _bad_value(h: RumourHarness, producer: AIOKafkaProducer, key: str, spec: Any) -> bytes:
    if isinstance(spec, bytes):
        return spec
    if spec == "TYPE":
        return to_bytes(cloud_event("dsgov.generation.teleported", {"request_id": key}, subject=key))
    if spec == "NO_REFUTATION":
        event = determined(key, CLAIM)
        del event["data"]["refutation_text"]
        return to_bytes(event)
    if spec == "MISMATCH":
        event = distributed("someone-else", ["u"])
        event["subject"] = key
        return to_bytes(event)
    if spec == "BAD_SHA":
        event = completed(key, None, [{"media_id": "m", "kind": "image", "sha256": "not-a-hash"}])
        event["subject"] = event["data"]["request_id"] = key
        return to_bytes(event)
    # kind clash: a takedown order under a notice id that already names a rumour determination
    await h.send(producer, NOTICES, determined(key, CLAIM), key)
    return to_bytes(ordered(key, ["x"]))


async def test_bad_input_is_dead_lettered_with_its_code_and_processing_goes_on(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    sent: dict[str, tuple[bytes, str, str]] = {}
    for label, topic, spec, code in BAD_INPUTS:
        key = unique(label)
        value = await _bad_value(harness, producer, key, spec)
        await harness.send(producer, topic, value, key)
        sent[key] = (value, topic, code)
    requested = cloud_event(
        "dsgov.generation.requested",
        {"request_id": "r1", "user_id": "u1", "service_type": "text_writing", "input": {"text": CLAIM}},
        subject="r1",
    )
    await harness.send(producer, GENERATION, requested, "r1")  # not ours: ignored, not dead-lettered
    await _settle(harness, producer, recorder)  # processing goes on behind the bad records

    for key, (value, topic, code) in sent.items():
        await recorder.wait_for(lambda r, k=key: r.topic == DEADLETTER and r.json()["data"].get("key") == k)
        [dl] = _dead_letters(recorder, key)
        assert dl["error_code"] == code, (key, dl["error_detail"])
        assert dl["original_topic"] == topic
        assert dl["service"] == "rumour_refutation"
        assert "payload_encryption" not in dl  # not a sensitive topic: kept as sent
        assert base64.b64decode(dl["payload"]) == value
    assert _dead_letters(recorder, "r1") == []


async def test_restarts_mid_case_lose_no_notice_and_send_none_twice(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    """A crash right after the case is stored, then a hard kill in the middle of the fan-out (DS-11)."""
    h = RumourHarness(
        stack, tmp_path, DSGOV_TEST_FAULT="crash_after_store_write", DSGOV_RUMOUR_NOTICES_PER_ROUND="150"
    )
    await h.provision()
    rec = Recorder(stack.bootstrap, [h.topic(RUMOUR)], strip_prefix=h.prefix)
    await rec.start()
    producer = await start_producer(stack.bootstrap)
    rumour = RUMOURS[6]  # zh-flood
    viewers = [f"crash-viewer-{i:04d}" for i in range(1500)]
    carriers = [unique("carrier") for _ in range(6)]
    try:
        h.service.start()
        for i, content in enumerate(carriers):
            await h.send(
                producer,
                GENERATION,
                completed(content, rumour.claim if i % 2 else rumour.paraphrase),
                "req-" + content,
            )
            # overlapping audiences: most viewers received two of the carriers
            await h.send(
                producer, DISTRIBUTION, distributed(content, viewers[i * 250 : i * 250 + 500]), content
            )
        notice = unique("notice")
        await h.send(producer, NOTICES, determined(notice, rumour.claim), notice)
        assert h.service.wait_exit(timeout=60) == 86  # died right after storing the case, before publishing

        h.restart_with(DSGOV_TEST_FAULT="").start()
        await _wait(rec, "dsgov.refutation.notice", notice_id=notice, timeout=60)
        assert h.service.popen is not None
        h.service.popen.kill()  # a hard crash in the middle of the fan-out
        h.service.popen.wait(timeout=10)
        partial = len(notices(rec, notice))
        assert partial < len(viewers)

        h.restart_with().start()
        await _wait(rec, "dsgov.refutation.notice", count=len(viewers), notice_id=notice, timeout=120)
        # The index was rebuilt from the store: a new rumour finds outputs indexed before the restarts.
        second = unique("notice")
        await h.send(producer, NOTICES, determined(second, rumour.claim), second)
        await _wait(rec, "dsgov.content.takedown-required", count=len(carriers), notice_id=second, timeout=60)

        told = notices(rec, notice)
        ids_by_viewer: dict[str, set[str]] = {}
        for n in told:
            ids_by_viewer.setdefault(n["data"]["recipient_user_id"], set()).add(n["id"])
        assert set(ids_by_viewer) == set(viewers)  # nobody lost
        assert all(len(ids) == 1 for ids in ids_by_viewer.values())  # any repeat is the same event
        assert len(_events(rec, "dsgov.rumour.recorded", notice_id=notice)) == 1
        assert {t["data"]["content_id"] for t in takedowns(rec, notice)} == set(carriers)
    finally:
        h.service.stop()
        await producer.stop()
        await rec.stop()


async def test_an_upheld_report_takes_the_content_down_on_the_takedown_path(
    harness: RumourHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    # DS-12: the complaints service resolves the report; the takedown travels as a regulator order's would.
    content, viewer = unique("reported"), unique("viewer")
    await harness.send(producer, GENERATION, completed(content, UNRELATED), "req-" + content)
    await harness.send(producer, DISTRIBUTION, distributed(content, [viewer]), content)
    await _settle(harness, producer, recorder)
    complaint_id, rejected_id = unique("report"), unique("report")
    now = datetime.now(UTC).isoformat()

    def resolution(cid: str, outcome: str, actions: list[dict[str, str]]) -> dict[str, Any]:
        data = {
            "complaint_id": cid,
            "kind": "report",
            "outcome": outcome,
            "reasons": ["DS-12: the video is a fabrication"],
            "actions": actions,
            "resolver": {"username": "olga", "role": "operator"},
            "resolved_at": now,
            "due_at": now,
            "in_time": True,
        }
        return cloud_event("dsgov.complaint.resolved", data, subject=cid, source="dsgov/complaints")

    await harness.send(producer, "dsgov.complaint", resolution(rejected_id, "rejected", []), rejected_id)
    upheld = resolution(complaint_id, "upheld", [{"type": "takedown", "content_id": content}])
    await harness.send(producer, "dsgov.complaint", upheld, complaint_id)
    await harness.send(producer, "dsgov.complaint", upheld, complaint_id)  # redelivered: still one takedown
    [takedown] = await _wait(
        recorder, "dsgov.content.takedown-required", notice_id=f"complaint:{complaint_id}"
    )
    assert takedown["data"]["content_id"] == content
    assert takedown["data"]["reason"] == "takedown_ordered"  # the platform's one takedown path
    [told] = await _wait(recorder, "dsgov.refutation.notice", notice_id=f"complaint:{complaint_id}")
    assert told["data"]["refutation_text"].startswith(f"complaint {complaint_id} upheld (DS-12)")
    await _settle(harness, producer, recorder)
    assert _recipients(notices(recorder, f"complaint:{complaint_id}")) == {viewer: 1}
    assert (
        len(_events(recorder, "dsgov.content.takedown-required", notice_id=f"complaint:{complaint_id}")) == 1
    )
    assert _events(recorder, "dsgov.content.takedown-required", notice_id=f"complaint:{rejected_id}") == []
