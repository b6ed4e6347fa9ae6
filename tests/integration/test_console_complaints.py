"""The console's complaints inbox as a real process (DS-12, GA-15, PI-50; appeals DS-10.3, GA-14.2).

The console runs on the embedded broker and store, driven over HTTP. The test plays the complaints
and review services: it publishes `dsgov.complaint.received|overdue|resolved` on the prefixed
`dsgov.complaint` topic and sanctions on `dsgov.review`, and observes the console's
`dsgov.complaint.resolution-submitted` on `dsgov.console.commands`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.kafka import Recorder
from shared.messaging.provisioning import provision_topics
from tests.integration.test_console_service import CSRF, PASSWORDS, Browser, ConsoleHarness, poll

pytestmark = pytest.mark.integration

RESOLUTION = "dsgov.complaint.resolution-submitted"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConsoleHarness]:
    h = ConsoleHarness(stack, tmp_path_factory.mktemp("console-complaints"))
    await provision_topics(stack.bootstrap, prefix=h.prefix)
    for name, role in (("olga", "operator"), ("vic", "viewer")):
        created = h.create_user(name, role, PASSWORDS[name])
        assert created.returncode == 0, created.stderr
    h.service.start()
    await h.wait_web()
    yield h
    h.service.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(harness: ConsoleHarness) -> AsyncIterator[Recorder]:
    rec = Recorder(
        harness.stack.bootstrap, [harness.topic("dsgov.console.commands")], strip_prefix=harness.prefix
    )
    await rec.start()
    yield rec
    await rec.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def olga(harness: ConsoleHarness) -> AsyncIterator[Browser]:
    b = Browser(harness)
    await b.login("olga")
    yield b
    await b.close()


@pytest_asyncio.fixture(loop_scope="session")
async def vic(harness: ConsoleHarness) -> AsyncIterator[Browser]:
    b = Browser(harness)
    await b.login("vic")
    yield b
    await b.close()


async def publish(
    producer: AIOKafkaProducer, h: ConsoleHarness, topic: str, type_: str, data: dict[str, Any], subject: str
) -> dict[str, Any]:
    """Play the complaints (or review) service: one event on the prefixed topic."""
    source = "dsgov/complaints" if topic == "dsgov.complaint" else "dsgov/generation-review"
    event = cloud_event(type_, data, subject=subject, source=source, correlationid=f"flow-{subject}")
    await producer.send_and_wait(h.topic(topic), to_bytes(event), key=subject.encode())
    return event


def received(
    complaint_id: str, kind: str, target: tuple[str, str], due: datetime, user: str
) -> dict[str, Any]:
    return {
        "complaint_id": complaint_id,
        "kind": kind,
        "target": {"type": target[0], "id": target[1]},
        "category": "sanction_dispute" if kind == "appeal" else "illegal_content",
        "complainant_user_id": user,
        "received_at": (due - timedelta(days=20)).isoformat(),
        "due_at": due.isoformat(),
        "due_rule": {"working_days": 15, "calendar": "PRC State Council", "source": "GA-15"},
    }


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="ticket" data-id="([^"]+)"', html)


async def test_tickets_from_real_events_sort_overdue_first_and_a_resolution_becomes_a_command(
    harness: ConsoleHarness, producer: AIOKafkaProducer, recorder: Recorder, olga: Browser, vic: Browser
) -> None:
    now = datetime.now(UTC)
    user = unique("user")
    soon, later, late = unique("cmp-soon"), unique("cmp-later"), unique("cmp-late")

    async def ticket_event(type_: str, data: dict[str, Any], subject: str) -> None:
        await publish(producer, harness, "dsgov.complaint", type_, data, subject)

    for cid, days in ((later, 9), (soon, 2)):
        due = now + timedelta(days=days)
        await ticket_event(
            "dsgov.complaint.received", received(cid, "appeal", ("sanction", "s-1"), due, user), cid
        )
    report = received(late, "report", ("content", "content-9"), now + timedelta(days=30), user)
    await ticket_event("dsgov.complaint.received", report, late)
    flagged = {
        "complaint_id": late,
        "kind": "report",
        "due_at": now.isoformat(),
        "detected_at": now.isoformat(),
    }
    await ticket_event("dsgov.complaint.overdue", flagged, late)
    sanction = {
        "user_id": user,
        "level": "restricted",
        "strikes": 3,
        "category": "fraud",
        "decision_id": "d-1",
    }
    await publish(producer, harness, "dsgov.review", "dsgov.user.sanctioned", sanction, user)

    async def listed() -> list[str] | None:
        mine = [i for i in rows((await vic.page("/complaints")).text) if i in (soon, later, late)]
        return mine if len(mine) == 3 and late == mine[0] else None

    assert await poll(listed, what="three tickets, the overdue one first") == [late, soon, later]
    appeals = rows((await vic.page("/complaints?kind=appeal")).text)
    assert late not in appeals
    assert appeals.index(soon) < appeals.index(later)

    async def sanctioned() -> str | None:
        page = (await olga.page(f"/complaints/ticket/{soon}")).text
        return page if 'id="sanction-level">restricted<' in page else None

    page = await poll(sanctioned, what="the appellant's sanction on the ticket")
    assert 'id="lift"' in page
    assert 'id="resolve-form"' not in (await vic.page(f"/complaints/ticket/{soon}")).text  # read-only

    request_id = re.search(r'id="resolve-form".*?name="request_id" value="([^"]*)"', page, re.S)
    token = CSRF.search(page)
    assert request_id
    assert token
    form = {"csrf_token": token.group(1), "request_id": request_id.group(1)}
    response = await olga.post(
        f"/complaints/resolve/{soon}",
        form
        | {"outcome": "upheld", "reason": "the strike was a false positive", "lift_sanction": "on"}
        | {"level_after": "warning"},
    )
    assert response.status_code == 303

    [command] = await recorder.wait_for(lambda r: r.key == soon)
    sent = command.json()
    assert (sent["type"], sent["source"], sent["subject"]) == (RESOLUTION, "dsgov/console", soon)
    assert sent["data"] == {
        "complaint_id": soon,
        "outcome": "upheld",
        "reason": "the strike was a false positive",
        "actions": [{"type": "lift_sanction", "user_id": user, "level_after": "warning"}],
        "actor": {"username": "olga", "role": "operator"},
    }
    assert sent["correlationid"] == f"flow-{soon}"  # the ticket's flow continues
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(harness.stack.mongo_uri)
    try:
        doc = await client[harness.database]["audit"].find_one({"_id": f"complaint_resolution/{soon}"})
    finally:
        await client.close()
    assert doc is not None
    assert doc["processed"] == [sent["id"]]  # audit record and command: one document
    assert doc["state"]["actor"] == {"username": "olga", "role": "operator"}
    assert uuid.UUID(doc["state"]["details"]["request_id"])

    resolved = {
        "complaint_id": soon,
        "kind": "appeal",
        "outcome": "upheld",
        "reasons": ["the strike was a false positive"],
        "actions": sent["data"]["actions"],
        "resolver": {"username": "olga", "role": "operator"},
        "resolved_at": now.isoformat(),
        "due_at": (now + timedelta(days=2)).isoformat(),
        "in_time": True,
    }
    await ticket_event("dsgov.complaint.resolved", resolved, soon)

    async def gone() -> bool:
        return soon not in rows((await vic.page("/complaints")).text)

    await poll(gone, what="the resolved ticket leaving the open inbox")
    assert soon in rows((await vic.page("/complaints?status=resolved")).text)
    assert 'id="status">resolved<' in (await vic.page(f"/complaints/ticket/{soon}")).text
