"""Rumour cases from the console to the real rumour refutation service and back (DS-11, issue 14 #4).

Both services run as real processes in one topic namespace on the embedded broker and store. The
test plays the platform (an output carrying a claim, its distribution) and the regulator, and drives
the console over HTTP: an operator opens a case (the console's command path), the service records
it, takedowns and notices go out, the operator closes it, and `dsgov.rumour.case-closed` reaches the
console's read model, which shows who closed it and how many recipients were told.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder, of_type
from shared.contracts import topics
from shared.contracts import types as T
from tests.integration.test_console_service import PASSWORDS, REQUEST_ID, Browser, ConsoleHarness, poll

pytestmark = pytest.mark.integration

PROVIDER = "provider-test"
CLAIM = "Drinking a teaspoon of bleach every morning cures the virus within three days, doctors confirm."
REFUTATION = "False: drinking bleach cures nothing and is poisonous. Health authorities confirm it."


class Flow:
    """The console and the rumour refutation service sharing one namespace."""

    def __init__(self, stack: EmbeddedStack, console: ConsoleHarness, rumour: ServiceHarness) -> None:
        self.stack, self.console, self.rumour = stack, console, rumour

    async def send(self, producer: AIOKafkaProducer, topic: str, event: dict[str, Any]) -> None:
        await producer.send_and_wait(
            self.console.topic(topic), to_bytes(event), key=event["subject"].encode()
        )

    async def rumour_state(self, aggregate_id: str, ready: Any) -> dict[str, Any]:
        """The rumour service's stored aggregate once `ready(state)` holds (polled with a deadline)."""
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.stack.mongo_uri, tz_aware=True)
        try:

            async def check() -> dict[str, Any] | None:
                doc = await client[self.rumour.database]["rumour"].find_one({"_id": aggregate_id})
                return doc["state"] if doc and ready(doc["state"]) else None

            state: dict[str, Any] = await poll(check, what=f"{aggregate_id} ready")
            return state
        finally:
            await client.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def flow(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Flow]:
    tmp = tmp_path_factory.mktemp("console-rumours")
    console = ConsoleHarness(stack, tmp)
    env = {"DSGOV_RUMOUR_FANOUT_INTERVAL_S": "0.1"}
    rumour = ServiceHarness(
        stack, tmp, "services.rumour_refutation", database="rumour", env=env, prefix=console.prefix
    )
    await console.provision()
    for name, role in (("olga", "operator"), ("vic", "viewer")):
        created = console.create_user(name, role, PASSWORDS[name])
        assert created.returncode == 0, created.stderr
    rumour.service.start()
    console.service.start()
    try:
        await console.wait_web()
        yield Flow(stack, console, rumour)
    finally:
        console.service.stop()
        rumour.service.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(flow: Flow) -> AsyncIterator[Recorder]:
    rec = flow.console.recorder(topics.CONSOLE_COMMANDS, topics.RUMOUR, topics.DEADLETTER)
    await rec.start()
    yield rec
    await rec.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def olga(flow: Flow) -> AsyncIterator[Browser]:
    b = Browser(flow.console)
    assert (await b.login("olga")).status_code == 303
    yield b
    await b.close()


async def _case_page(browser: Browser, notice_id: str, *marks: str) -> str:
    """The case's page once it shows every mark (the read model follows the service's events)."""

    async def check() -> str | None:
        html = (await browser.page(f"/rumours/case/{notice_id}")).text
        return html if all(m in html for m in marks) else None

    html: str = await poll(check, what=f"case page {notice_id} showing {marks}")
    return html


def _events(recorder: Recorder, type_: str, notice_id: str) -> list[dict[str, Any]]:
    found = [r.json() for r in recorder.matching(of_type(type_))]
    by_id = {e["id"]: e for e in found if e["data"].get("notice_id") == notice_id}
    return list(by_id.values())


async def test_ds11_a_case_opened_in_the_console_is_recorded_notifies_and_closes_back_into_the_console(
    flow: Flow, recorder: Recorder, producer: AIOKafkaProducer, olga: Browser
) -> None:
    content, request_id = unique("content"), unique("req")
    pupils = [unique("pupil"), unique("pupil")]
    completed = {"request_id": request_id, "content_id": content, "output": {"text": CLAIM, "media": []}}
    await flow.send(
        producer,
        topics.PLATFORM_GENERATION,
        cloud_event(T.GENERATION_COMPLETED, completed, subject=request_id),
    )
    distributed = {
        "content_id": content,
        "distribution_id": unique("dist"),
        "recipients": pupils,
        "channel": "feed",
        "explicit_label_kept": True,
    }
    await flow.send(
        producer,
        topics.PLATFORM_DISTRIBUTION,
        cloud_event(T.CONTENT_DISTRIBUTED, distributed, subject=content),
    )
    await flow.rumour_state(
        f"content:{PROVIDER}/{content}", lambda s: s.get("indexed_ms", 0) > 0 and s.get("distributions")
    )

    # An operator opens the case; the console assigns its id.
    form_page = (await olga.page("/rumours/new")).text
    match = REQUEST_ID.search(form_page)
    assert match
    notice_id = f"console-{match.group(1)}"
    token = await olga.token("/rumours/new")
    opened = await olga.post(
        "/rumours/open",
        {
            "claim_text": CLAIM,
            "refutation_text": REFUTATION,
            "severity": "high",
            "reason": "our outputs repeat a claim health authorities denied",
            "request_id": match.group(1),
            "csrf_token": token,
        },
    )
    assert opened.status_code == 303, opened.text[:500]
    assert opened.headers["location"].startswith(f"/rumours/case/{notice_id}")

    [command] = await recorder.wait_for(of_type(T.RUMOUR_CASE_SUBMITTED, notice_id))
    sent = command.json()
    assert sent["data"]["actor"] == {"username": "olga", "role": "operator"}
    assert sent["data"]["reason"] == "our outputs repeat a claim health authorities denied"
    page = await _case_page(olga, notice_id, 'id="status">open<', 'id="matched">1<')
    assert "opened from this console" in page
    assert 'id="close-form"' in page

    async def both_told() -> bool:
        told = _events(recorder, T.REFUTATION_NOTICE, notice_id)
        return {n["data"]["recipient_user_id"] for n in told} == set(pupils)

    await poll(both_told, what="a refutation notice to each recipient")

    # The operator closes it; the service confirms and the console shows who closed it.
    close_match = re.search(r'id="close-form">.*?name="request_id" value="([^"]+)"', page, re.S)
    assert close_match
    token = await olga.token(f"/rumours/case/{notice_id}")
    closed = await olga.post(
        f"/rumours/close/{notice_id}",
        {"reason": "the claim no longer circulates", "request_id": close_match.group(1), "csrf_token": token},
    )
    assert closed.status_code == 303, closed.text[:500]
    [close_command] = await recorder.wait_for(of_type(T.RUMOUR_CASE_CLOSE_SUBMITTED, notice_id))
    assert close_command.json()["correlationid"] == sent["id"]  # continues the case's flow
    page = await _case_page(olga, notice_id, 'id="status">closed<', 'id="notices-sent">2<')
    assert 'id="closed-by">olga<' in page
    assert 'id="close-form"' not in page
    [case_closed] = _events(recorder, T.RUMOUR_CASE_CLOSED, notice_id)
    assert (case_closed["data"]["closed_by"], case_closed["data"]["notices_sent"]) == ("console", 2)
    assert case_closed["causationid"] == close_command.json()["id"]
    listing = (await olga.page("/rumours?status=closed")).text
    assert notice_id in listing
    assert "console (olga)" in listing
    assert recorder.matching(of_type(T.DEADLETTER_RECORDED)) == []


async def test_ds11_a_regulator_case_and_its_close_by_the_regulator_reach_the_console(
    flow: Flow, recorder: Recorder, producer: AIOKafkaProducer, olga: Browser
) -> None:
    notice_id = unique("cac-notice")
    determined = {
        "notice_id": notice_id,
        "claim_text": "The city's tap water has been poisoned tonight, do not drink it.",
        "refutation_text": "False: the water utility's tests show the water is safe.",
        "claim_media": [],
        "severity": "medium",
    }
    await flow.send(
        producer,
        topics.REGULATOR_NOTICES,
        cloud_event(T.RUMOUR_DETERMINED, determined, subject=notice_id, source="regulator/cac"),
    )
    page = await _case_page(olga, notice_id, 'id="status">open<')
    assert "regulator notice" in page

    closed = {"notice_id": notice_id, "reason": "determination withdrawn"}
    await flow.send(
        producer,
        topics.REGULATOR_NOTICES,
        cloud_event(T.RUMOUR_CLOSED, closed, subject=notice_id, source="regulator/cac"),
    )

    page = await _case_page(olga, notice_id, 'id="status">closed<', 'id="notices-sent">0<')
    assert "Closed</strong> by regulator" in page
    assert "determination withdrawn" in page
