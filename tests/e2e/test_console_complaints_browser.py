"""The complaints inbox in a real headless Chromium (DS-12, GA-15; appeals DS-10.3, GA-14.2).

The console runs as a real process on the embedded broker and store. The test plays the complaints
service: it publishes three tickets on `dsgov.complaint` (one flagged overdue), and answers the
console's `dsgov.complaint.resolution-submitted` with `dsgov.complaint.resolved`, as the service
does. An operator signs in, opens the inbox from the navigation, sees the overdue ticket first,
resolves a report with a takedown and a reason, and sees it leave the open list.

Needs Debian's Chromium and the `playwright` package, as tests/e2e/test_console_browser.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page, expect

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.kafka import Recorder
from shared.messaging.provisioning import provision_topics
from tests.integration.test_console_service import ConsoleHarness

pytestmark = pytest.mark.e2e

PASSWORD = "olga's operator passphrase"
REASON = "The video is the reported <b>rumour</b>; taken down under DS-12."


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def console(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConsoleHarness]:
    h = ConsoleHarness(stack, tmp_path_factory.mktemp("complaints-browser"))
    await provision_topics(stack.bootstrap, prefix=h.prefix)
    created = h.create_user("olga", "operator", PASSWORD)
    assert created.returncode == 0, created.stderr
    h.service.start()
    await h.wait_web()
    yield h
    h.service.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(console: ConsoleHarness) -> AsyncIterator[Recorder]:
    rec = Recorder(
        console.stack.bootstrap, [console.topic("dsgov.console.commands")], strip_prefix=console.prefix
    )
    await rec.start()
    yield rec
    await rec.stop()


async def ticket_event(
    producer: AIOKafkaProducer, console: ConsoleHarness, type_: str, data: dict[str, Any], **env: Any
) -> None:
    """Play the complaints service: one event on the prefixed `dsgov.complaint`, keyed by complaint id."""
    subject = data["complaint_id"]
    event = cloud_event(
        type_, data, subject=subject, source="dsgov/complaints", correlationid=f"flow-{subject}"
    )
    await producer.send_and_wait(
        console.topic("dsgov.complaint"), to_bytes(event | env), key=subject.encode()
    )


def received(complaint_id: str, kind: str, target: tuple[str, str], due: datetime) -> dict[str, Any]:
    return {
        "complaint_id": complaint_id,
        "kind": kind,
        "target": {"type": target[0], "id": target[1]},
        "category": "rumour",
        "complainant_user_id": unique("user"),
        "received_at": (due - timedelta(days=21)).isoformat(),
        "due_at": due.isoformat(),
        "due_rule": {"working_days": 15, "calendar": "PRC State Council", "source": "GA-15"},
    }


async def inbox_ids(page: Page) -> list[str]:
    return [
        str(i)
        for i in await page.locator("#inbox tr.ticket").evaluate_all("rows => rows.map(r => r.dataset.id)")
    ]


async def reload_until(page: Page, check: Any, what: str, timeout: float = 30.0) -> Any:
    """Reload the page until `check(page)` holds (the read model follows the events)."""
    deadline = time.monotonic() + timeout
    while not (found := await check(page)):
        assert time.monotonic() < deadline, f"{what} not seen within {timeout}s"
        await asyncio.sleep(0.3)
        await page.reload()
    return found


async def test_an_operator_sees_the_overdue_ticket_first_resolves_one_and_it_leaves_the_open_list(
    console: ConsoleHarness,
    producer: AIOKafkaProducer,
    recorder: Recorder,
    browser: Browser,
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    late, soon, later = unique("late"), unique("soon"), unique("later")
    await ticket_event(
        producer,
        console,
        "dsgov.complaint.received",
        received(later, "report", ("content", "v-2"), now + timedelta(days=9)),
    )
    await ticket_event(
        producer,
        console,
        "dsgov.complaint.received",
        received(soon, "report", ("content", "v-1"), now + timedelta(days=2)),
    )
    await ticket_event(
        producer,
        console,
        "dsgov.complaint.received",
        received(late, "complaint", ("content", "v-0"), now - timedelta(hours=2)),
    )
    overdue = {"complaint_id": late, "kind": "complaint", "due_at": (now - timedelta(hours=2)).isoformat()}
    await ticket_event(
        producer, console, "dsgov.complaint.overdue", overdue | {"detected_at": now.isoformat()}
    )

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = await context.new_page()
        await page.goto(f"{console.base_url}/login")
        await page.fill("input[name=username]", "olga")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button:has-text('Sign in')")
        await expect(page).to_have_url(f"{console.base_url}/dashboard")
        await page.click("header nav >> text=Complaints")
        await expect(page).to_have_url(f"{console.base_url}/complaints")

        async def all_three(p: Page) -> list[str] | None:
            ids = [i for i in await inbox_ids(p) if i in (late, soon, later)]
            return ids if len(ids) == 3 and ids[0] == late else None

        assert await reload_until(page, all_three, "the three tickets, overdue first") == [late, soon, later]
        await expect(page.locator(f'tr[data-id="{late}"] .badge')).to_have_text("overdue")

        await page.locator(f'tr[data-id="{soon}"] a').click()
        await expect(page.locator("#target")).to_have_text("v-1")
        await page.select_option("#outcome-select", "upheld")
        await page.check("#takedown")
        await page.fill("#reason", REASON)
        await page.click("#resolve-button")
        await expect(page.locator("#status")).to_have_text("resolution sent")

        [command] = await recorder.wait_for(lambda r: r.key == soon)
        sent = command.json()
        assert sent["type"] == "dsgov.complaint.resolution-submitted"
        assert sent["data"]["reason"] == REASON
        assert sent["data"]["actions"] == [{"type": "takedown", "content_id": "v-1", "level_after": "none"}]
        assert sent["data"]["actor"] == {"username": "olga", "role": "operator"}
        resolved = {
            "complaint_id": soon,
            "kind": "report",
            "outcome": "upheld",
            "reasons": [REASON],
            "actions": sent["data"]["actions"],
            "resolver": sent["data"]["actor"],
            "resolved_at": now.isoformat(),
            "due_at": (now + timedelta(days=2)).isoformat(),
            "in_time": True,
        }
        await ticket_event(producer, console, "dsgov.complaint.resolved", resolved, causationid=sent["id"])

        await expect(page.locator("#status")).to_have_text(
            "resolved", timeout=30_000
        )  # the page refreshes itself
        await page.click("header nav >> text=Complaints")

        async def gone(p: Page) -> list[str] | None:
            ids = [i for i in await inbox_ids(p) if i in (late, soon, later)]
            return ids if soon not in ids else None

        assert await reload_until(page, gone, "the resolved ticket leaving the open list") == [late, later]
        await page.screenshot(path=str(tmp_path / "complaints-inbox.png"), full_page=True)
    finally:
        await context.close()
