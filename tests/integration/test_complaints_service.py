"""The complaints service as a real process on the embedded broker and store (DS-12, GA-15, PI-50):
one ticket per complaint id however often it is redelivered, bad input dead-lettered, and an overdue
ticket reported once — also when its deadline passed while the service was down."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from devtools.testing.calendar import calendar_supplement
from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder
from shared.contracts import topics
from shared.contracts import types as T

pytestmark = pytest.mark.integration

FORTY_DAYS_S = str(40 * 86_400)


class ComplaintsHarness(ServiceHarness):
    def __init__(self, stack: EmbeddedStack, tmp: Path, **env: str) -> None:
        super().__init__(stack, tmp, "services.complaints", database="complaints", env=env)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ComplaintsHarness]:
    tmp = tmp_path_factory.mktemp("complaints")
    h = ComplaintsHarness(
        stack,
        tmp,
        DSGOV_COMPLAINTS_OVERDUE_INTERVAL_S="0.2",
        DSGOV_COMPLAINTS_CALENDAR_SUPPLEMENT=str(calendar_supplement(tmp)),
    )
    await h.provision()
    h.service.start()
    yield h
    h.service.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def recorder(harness: ComplaintsHarness) -> AsyncIterator[Recorder]:
    r = harness.recorder(topics.COMPLAINT, topics.DEADLETTER)
    await r.start()
    yield r
    await r.stop()


def complaint(complaint_id: str, **data: Any) -> dict[str, Any]:
    body = {
        "complaint_id": complaint_id,
        "kind": "report",
        "target": {"type": "content", "id": "content-1"},
        "category": "rumour",
        "text": "这条视频是伪造的",
        **data,
    }
    return cloud_event(T.COMPLAINT_SUBMITTED, body, subject=complaint_id)


async def send(producer: AIOKafkaProducer, h: ComplaintsHarness, value: bytes, key: str) -> None:
    await producer.send_and_wait(h.topic(topics.PLATFORM_COMPLAINTS), value, key=key.encode())


def of(recorder: Recorder, type_: str, complaint_id: str) -> list[dict[str, Any]]:
    return [
        e
        for r in recorder.matching(lambda r: r.topic == topics.COMPLAINT and r.key == complaint_id)
        if (e := r.json())["type"] == type_
    ]


async def test_a_redelivered_or_resubmitted_complaint_makes_one_ticket(
    harness: ComplaintsHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    cid = unique("c")
    first = complaint(cid)
    for value in (
        to_bytes(first),
        to_bytes(first),
        to_bytes(complaint(cid)),
    ):  # redelivery, then a resubmission
        await send(producer, harness, value, cid)
    marker = unique("m")
    await send(producer, harness, to_bytes(complaint(marker)), marker)
    await recorder.wait_for(lambda r: r.topic == topics.COMPLAINT and r.key == marker)
    [received] = of(recorder, T.COMPLAINT_RECEIVED, cid)
    assert received["causationid"] == first["id"]
    assert received["data"]["due_rule"]["working_days"] == 15
    assert "PRC State Council" in received["data"]["due_rule"]["calendar"]


async def test_bad_complaints_are_dead_lettered_with_a_clear_code_and_the_next_one_is_served(
    harness: ComplaintsHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    anonymous_appeal = complaint(unique("bad"), kind="appeal", target={"type": "sanction", "id": "u"})
    await send(producer, harness, to_bytes(anonymous_appeal), "bad")
    await send(producer, harness, b"{not json", "bad")
    ok = unique("ok")
    await send(producer, harness, to_bytes(complaint(ok)), ok)
    await recorder.wait_for(lambda r: r.topic == topics.COMPLAINT and r.key == ok)
    dead = await recorder.wait_for(lambda r: r.topic == topics.DEADLETTER, count=2)
    codes = sorted(json.loads(r.value)["data"]["error_code"] for r in dead)
    assert codes == ["invalid_json", "schema_violation"]


async def test_an_overdue_ticket_is_reported_once_also_after_a_restart_past_its_deadline(
    harness: ComplaintsHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    cid = unique("late")
    await send(producer, harness, to_bytes(complaint(cid)), cid)
    await recorder.wait_for(lambda r: r.topic == topics.COMPLAINT and r.key == cid)
    harness.service.stop()  # the deadline passes while the service is down
    harness.restart_with(DSGOV_TEST_CLOCK_SHIFT_S=FORTY_DAYS_S).start()
    await recorder.wait_for(lambda r: r.topic == topics.COMPLAINT and r.key == cid, count=2)
    harness.service.stop()
    harness.restart_with(DSGOV_TEST_CLOCK_SHIFT_S=FORTY_DAYS_S).start()  # and again: still once
    marker = unique("m")
    await send(producer, harness, to_bytes(complaint(marker)), marker)
    await recorder.wait_for(lambda r: r.topic == topics.COMPLAINT and r.key == marker)
    [overdue] = of(recorder, T.COMPLAINT_OVERDUE, cid)
    [received] = of(recorder, T.COMPLAINT_RECEIVED, cid)
    assert overdue["data"]["due_at"] == received["data"]["due_at"]
    assert overdue["causationid"] == f"overdue:{cid}"
    harness.service.stop()
    harness.restart_with(DSGOV_TEST_CLOCK_SHIFT_S="").start()


async def test_a_service_in_a_year_the_calendar_does_not_know_refuses_to_start(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    h = ComplaintsHarness(stack, tmp_path, DSGOV_TEST_CLOCK_SHIFT_S=str(10 * 366 * 86_400))
    with pytest.raises(RuntimeError, match=r"does not know 20[0-9]{2}: upgrade chinese-calendar"):
        h.service.start(timeout=30)
