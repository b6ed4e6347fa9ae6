"""The console in a real headless Chromium: sign in, find a consent, withdraw it, see the status change.

The console runs as a real process on the embedded broker and store. The status changes only when a
`dsgov.consent.withdrawn` event arrives: the real `biometric_consent` service process produces it
when that service exists; otherwise this test plays that service's part (consumes the command and
publishes the event itself).

Needs Debian's Chromium (`apt-get install -y chromium`) and the `playwright` package; never
`playwright install`. DSGOV_CHROMIUM overrides the browser path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from playwright.async_api import Browser, BrowserContext, Page, expect
from pymongo import AsyncMongoClient

from devtools.servers import free_port
from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.kafka import Recorder
from shared.messaging.provisioning import provision_topics

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
REAL_CONSENT_SERVICE = (ROOT / "services" / "biometric_consent" / "__main__.py").exists()
PASSWORDS = {"olga": "olga's operator passphrase", "vic": "vic's viewer passphrase"}
STATUS_TIMEOUT_MS = 60_000
REASON = "The subject called our hotline <script>alert('x')</script> and asked us to stop."


@dataclass
class System:
    """The console (and the consent service, or its stand-in) in one topic namespace."""

    stack: EmbeddedStack
    tmp: Path
    prefix: str = field(default_factory=lambda: f"br-{uuid.uuid4().hex[:8]}.")
    console_db: str = field(default_factory=lambda: f"console_{uuid.uuid4().hex[:8]}")
    http_port: int = field(default_factory=free_port)
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def topic(self, name: str) -> str:
        return self.prefix + name

    def env(self, database: str) -> dict[str, str]:
        return service_env(self.stack, prefix=self.prefix, database=database)

    def console_env(self) -> dict[str, str]:
        return self.env(self.console_db) | {
            "DSGOV_CONSOLE_SESSION_SECRET": "browser-test-session-secret-0123456789abcdef",
            "DSGOV_CONSOLE_INSECURE_COOKIES": "true",
            "DSGOV_HTTP_PORT": str(self.http_port),
        }

    def create_user(self, username: str, role: str) -> None:
        user_args = ["--username", username, "--role", role]
        done = subprocess.run(
            [sys.executable, "-m", "services.console", "create-user", "--password-stdin", *user_args],
            input=PASSWORDS[username] + "\n",
            env={**os.environ, **self.console_env()},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def start(self, module: str, env: dict[str, str]) -> None:
        proc = ServiceProcess(module, env, self.tmp / f"{module.rsplit('.', 1)[-1]}.log")
        self.processes.append(proc)
        proc.start()

    def logs(self) -> str:
        return "\n".join(f"--- {p.module}\n{p.log_tail(30)}" for p in self.processes)


async def play_consent_service(system: System, producer: AIOKafkaProducer) -> None:
    """The consent service's part when it does not exist yet: command in, `consent.withdrawn` out."""
    consumer = AIOKafkaConsumer(
        system.topic("dsgov.console.commands"),
        bootstrap_servers=system.stack.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    try:
        async for record in consumer:
            command = cloud_event_from(record.value)
            if command.get("type") != "dsgov.consent.withdrawal-submitted":
                continue
            data = command["data"]
            withdrawn = cloud_event(
                "dsgov.consent.withdrawn",
                grant_data(data["consent_id"], data["subject_id"])
                | {"actor": f"console:{data['actor']['username']}", "reasons": ["withdrawn_by_console"]},
                subject=data["consent_id"],
                source="dsgov/biometric-consent",
                correlationid=command.get("correlationid"),
            )
            withdrawn["causationid"] = command["id"]
            await producer.send_and_wait(system.topic("dsgov.consent"), to_bytes(withdrawn), key=record.key)
    finally:
        await consumer.stop()


def cloud_event_from(value: bytes | None) -> dict[str, Any]:
    import json

    try:
        parsed = json.loads(value or b"")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def grant_data(consent_id: str, subject: str) -> dict[str, Any]:
    return {
        "consent_id": consent_id,
        "subject_id": subject,
        "grantee_user_id": "grantee-" + consent_id,
        "biometric_types": ["face"],
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "reasons": [],
        "actor": "subject",
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory, producer: AIOKafkaProducer
) -> AsyncIterator[System]:
    s = System(stack, tmp_path_factory.mktemp("browser"))
    await provision_topics(stack.bootstrap, prefix=s.prefix)
    stand_in: asyncio.Task[None] | None = None
    try:
        for name, role in (("olga", "operator"), ("vic", "viewer")):
            s.create_user(name, role)
        s.start("services.console", s.console_env())
        if REAL_CONSENT_SERVICE:
            s.start("services.biometric_consent", s.env(f"consent_{uuid.uuid4().hex[:8]}"))
        else:
            stand_in = asyncio.create_task(play_consent_service(s, producer))
        yield s
    finally:
        if stand_in is not None:
            stand_in.cancel()
            await asyncio.gather(stand_in, return_exceptions=True)
        for proc in reversed(s.processes):
            proc.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(system: System) -> AsyncIterator[Recorder]:
    rec = Recorder(
        system.stack.bootstrap, [system.topic("dsgov.console.commands")], strip_prefix=system.prefix
    )
    await rec.start()
    yield rec
    await rec.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    await ctx.close()


async def consent_status(system: System, consent_id: str) -> str | None:
    """The status the console shows (read over HTTP as the viewer), or None while it is unknown."""
    # As a browser on the console's pages: its form posts carry the console's Origin.
    headers = {"Origin": system.base_url}
    async with httpx.AsyncClient(base_url=system.base_url, follow_redirects=True, headers=headers) as client:
        login = await client.get("/login")
        token = login.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        await client.post(
            "/login", data={"username": "vic", "password": PASSWORDS["vic"], "csrf_token": token}
        )
        page = await client.get(f"/consents/view/{consent_id}")
    if page.status_code != 200:
        return None
    return page.text.split('id="status">', 1)[1].split("<", 1)[0]


async def a_granted_consent(system: System, producer: AIOKafkaProducer) -> tuple[str, str]:
    """A consent that the console shows as granted: made by the real consent service when it exists."""
    consent_id, subject = unique("consent"), unique("subject")
    if not REAL_CONSENT_SERVICE:
        event = cloud_event(
            "dsgov.consent.granted",
            grant_data(consent_id, subject),
            subject=consent_id,
            source="dsgov/biometric-consent",
        )
        await producer.send_and_wait(system.topic("dsgov.consent"), to_bytes(event), key=consent_id.encode())
    else:
        for user in (subject, "grantee-" + consent_id):  # DS-9: both parties must be verified
            verified = cloud_event(
                "dsgov.identity.verified",
                {"user_id": user, "method": "mobile", "reasons": [], "age_group": "adult"},
                subject=user,
                source="dsgov/identity-verification",
            )
            await producer.send_and_wait(
                system.topic("dsgov.identity"), to_bytes(verified), key=user.encode()
            )
        await submit_grant(system, producer, consent_id, subject)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = await consent_status(system, consent_id)
        if status == "granted":
            return consent_id, subject
        if status == "rejected" and REAL_CONSENT_SERVICE:
            # The consent service may have decided before it saw the identity events: submit afresh.
            await submit_grant(system, producer, consent_id, subject)
        await asyncio.sleep(0.25)
    raise AssertionError(f"{consent_id} not granted in the console within 60 s:\n{system.logs()}")


async def submit_grant(system: System, producer: AIOKafkaProducer, consent_id: str, subject: str) -> None:
    data = grant_data(consent_id, subject)
    for key in ("reasons", "actor"):
        del data[key]
    data |= {
        "purpose": "Face swap for a family video",
        "evidence": {
            "method": "in_app_confirmation",
            "notice_version": "notice-2026-11",
            "artifact_sha256": "c0ffee" + "0" * 58,
            "captured_at": datetime.now(UTC).isoformat(),
        },
    }
    event = cloud_event("dsgov.consent.grant-submitted", data, subject=consent_id, source="platform/test")
    await producer.send_and_wait(
        system.topic("dsgov.platform.consent"), to_bytes(event), key=consent_id.encode()
    )


async def sign_in(page: Page, system: System, username: str) -> None:
    await page.goto(f"{system.base_url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORDS[username])
    await page.click("button:has-text('Sign in')")
    await expect(page).to_have_url(f"{system.base_url}/dashboard")
    await expect(page.locator("header .who")).to_contain_text(username)


async def withdrawals_recorded(system: System, consent_id: str) -> int:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(system.stack.mongo_uri)
    try:
        query = {"state.action": "consent_withdrawal_submitted", "state.target": consent_id}
        return await client[system.console_db]["audit"].count_documents(query)
    finally:
        await client.close()


async def test_an_operator_finds_a_consent_withdraws_it_and_sees_the_status_change(
    system: System, producer: AIOKafkaProducer, recorder: Recorder, context: BrowserContext, tmp_path: Path
) -> None:
    consent_id, subject = await a_granted_consent(system, producer)
    page = await context.new_page()
    await sign_in(page, system, "olga")

    await page.click("header nav >> text=Consents")
    await page.fill("input[name=subject]", subject)
    await page.click("button:has-text('Search')")
    await expect(page.locator("#consents tbody tr")).to_have_count(1)
    await page.click(f"#consents >> text={consent_id}")
    await expect(page.locator("#status")).to_have_text("granted")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.fill("textarea[name=reason]", REASON)
    await page.click("button:has-text('Withdraw consent')")
    await expect(page.locator(".notice")).to_contain_text("Withdrawal submitted")

    # Nothing changes the status but a dsgov.consent.withdrawn event; the page refreshes itself meanwhile.
    await expect(page.locator("#status")).to_have_text("withdrawn", timeout=STATUS_TIMEOUT_MS)
    await expect(page.locator("#history")).to_contain_text("dsgov.consent.withdrawn")
    await expect(page.locator("#withdrawals")).to_contain_text("olga (operator)")
    await expect(page.locator("#withdrawals .reason")).to_have_text(REASON)  # shown as text, not run
    assert dialogs == []
    shot = tmp_path / "consent-detail.png"
    await page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot of the consent detail page: {shot}")
    assert shot.stat().st_size > 10_000

    [command] = await recorder.wait_for(lambda r: r.key == consent_id)
    data = command.json()["data"]
    assert data["actor"] == {"username": "olga", "role": "operator"}
    assert data["reason"] == REASON
    async with page.expect_download() as download_info:
        await page.click("#export-proof")
    proof = await (await download_info.value).path()
    checked = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "services.console", "verify-proof", str(proof)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.startswith("OK: ")


async def test_a_viewer_is_not_offered_the_withdrawal_and_a_crafted_request_is_refused(
    system: System, producer: AIOKafkaProducer, recorder: Recorder, context: BrowserContext
) -> None:
    consent_id, _ = await a_granted_consent(system, producer)
    page = await context.new_page()
    await sign_in(page, system, "vic")
    await page.goto(f"{system.base_url}/consents/view/{consent_id}")
    await expect(page.locator("#status")).to_have_text("granted")
    await expect(page.locator("#withdraw-form")).to_have_count(0)
    await expect(page.locator("#export-proof")).to_be_visible()

    token = await page.locator("header input[name=csrf_token]").get_attribute("value")
    assert token
    response = await context.request.post(
        f"{system.base_url}/consents/withdraw/{consent_id}",
        form={"csrf_token": token, "reason": "a viewer tries anyway", "request_id": str(uuid.uuid4())},
        headers={"Origin": system.base_url},  # same-origin and a valid token: only the role refuses it
        max_redirects=0,
    )
    assert response.status == 403
    assert "Not allowed" in await response.text()
    await page.reload()
    await expect(page.locator("#status")).to_have_text("granted")
    assert await withdrawals_recorded(system, consent_id) == 0
    assert recorder.matching(lambda r: r.key == consent_id) == []


async def test_a_forged_csrf_token_is_refused(
    system: System, producer: AIOKafkaProducer, recorder: Recorder, context: BrowserContext
) -> None:
    consent_id, _ = await a_granted_consent(system, producer)
    page = await context.new_page()
    await sign_in(page, system, "olga")
    await page.goto(f"{system.base_url}/consents/view/{consent_id}")
    await page.locator("#withdraw-form input[name=csrf_token]").evaluate("input => input.value = 'forged'")
    await page.fill("textarea[name=reason]", "a forged form")

    async with page.expect_response(lambda r: "/consents/withdraw/" in r.url) as answer:
        await page.click("button:has-text('Withdraw consent')")

    assert (await answer.value).status == 403
    await expect(page.locator("h1")).to_have_text("Request refused")
    await page.goto(f"{system.base_url}/consents/view/{consent_id}")
    await expect(page.locator("#status")).to_have_text("granted")
    assert await withdrawals_recorded(system, consent_id) == 0  # no audit record, hence no command
    assert recorder.matching(lambda r: r.key == consent_id) == []
    with contextlib.suppress(Exception):
        await page.close()
