"""The console as a real process on the embedded broker and store, driven over HTTP (DS-14.2, PI-15)."""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.servers import free_port
from devtools.testing.embedded import EmbeddedStack, ServiceProcess
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder
from services.console.adapters.mongo import MongoAuditLog, MongoPendingActions, MongoSite, MongoUsers
from services.console.domain.proof import verify_proof
from services.console.ports import Actor, AuditEntry, AuditQuery, PendingAction, User
from shared.storage.aggregates import AggregateStore

pytestmark = pytest.mark.integration

SESSION_SECRET = "console-session-secret-for-tests-0123456789abcdef"
PASSWORDS = {
    "ada": "ada's admin passphrase",
    "olga": "olga's operator passphrase",
    "vic": "vic's viewer passphrase",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')
COMMAND = "dsgov.consent.withdrawal-submitted"


class ConsoleHarness(ServiceHarness):
    """One console process in its own topic namespace and database, with its web port."""

    def __init__(self, stack: EmbeddedStack, tmp: Path) -> None:
        self.http_port = free_port()
        env = {
            "DSGOV_CONSOLE_SESSION_SECRET": SESSION_SECRET,
            "DSGOV_CONSOLE_INSECURE_COOKIES": "true",  # plain http on 127.0.0.1, as in the embedded runtime
            "DSGOV_HTTP_PORT": str(self.http_port),
        }
        super().__init__(stack, tmp, "services.console", database="console", env=env)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def cli(self, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.console", *args],
            input=stdin,
            env={**os.environ, **self.env, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def create_user(
        self, username: str, role: str, password: str, **env: str
    ) -> subprocess.CompletedProcess[str]:
        return self.cli(
            "create-user",
            "--username",
            username,
            "--role",
            role,
            "--password-stdin",
            stdin=password + "\n",
            **env,
        )

    async def wait_web(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.base_url) as client:
            while time.monotonic() < deadline:
                try:
                    if (await client.get("/login")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"console web not up within {timeout}s:\n{self.service.log_tail()}")


class Browser:
    """An httpx client that keeps cookies and finds the CSRF token in pages, like a browser would."""

    def __init__(self, harness: ConsoleHarness) -> None:
        self.client = httpx.AsyncClient(
            base_url=harness.base_url,
            follow_redirects=False,
            timeout=30,
            headers={"Origin": harness.base_url},  # a browser's form posts carry the page's origin
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def page(self, path: str) -> httpx.Response:
        return await self.client.get(path)

    async def token(self, path: str) -> str:
        match = CSRF.search((await self.page(path)).text)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    async def login(self, username: str, password: str | None = None) -> httpx.Response:
        token = await self.token("/login")
        data = {"username": username, "password": password or PASSWORDS[username], "csrf_token": token}
        return await self.client.post("/login", data=data)

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.client.post(path, data=data)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConsoleHarness]:
    h = ConsoleHarness(stack, tmp_path_factory.mktemp("console"))
    await h.provision()
    for name, role in (("ada", "admin"), ("olga", "operator"), ("vic", "viewer")):
        created = h.create_user(name, role, PASSWORDS[name])
        assert created.returncode == 0, created.stderr
    h.service.start()
    await h.wait_web()
    yield h
    h.service.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(harness: ConsoleHarness) -> AsyncIterator[Recorder]:
    rec = Recorder(
        harness.stack.bootstrap,
        [harness.topic("dsgov.console.commands"), harness.topic("dsgov.deadletter")],
        strip_prefix=harness.prefix,
    )
    await rec.start()
    yield rec
    await rec.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def browser(harness: ConsoleHarness) -> AsyncIterator[Browser]:
    b = Browser(harness)
    yield b
    await b.close()


def consent_data(consent_id: str, subject: str, **extra: Any) -> dict[str, Any]:
    return {
        "consent_id": consent_id,
        "subject_id": subject,
        "grantee_user_id": "grantee-" + consent_id,
        "biometric_types": ["face", "voice"],
        "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "reasons": [],
        "actor": "subject",
        "occurred_at": datetime.now(UTC).isoformat(),
        **extra,
    }


async def publish_consent(
    producer: AIOKafkaProducer, h: ConsoleHarness, type_: str, data: dict[str, Any], **envelope: Any
) -> dict[str, Any]:
    """Play the consent service: publish a `dsgov.consent.*` event onto the prefixed topic."""
    event = cloud_event(type_, data, subject=data["consent_id"], source="dsgov/biometric-consent", **envelope)
    await producer.send_and_wait(h.topic("dsgov.consent"), to_bytes(event), key=data["consent_id"].encode())
    return event


async def poll(check: Any, *, timeout: float = 30.0, what: str = "condition") -> Any:
    """Await `check()` until it returns something truthy or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not met within {timeout}s")


async def granted(producer: AIOKafkaProducer, h: ConsoleHarness, browser: Browser, **extra: Any) -> str:
    """A consent granted and visible in the console; returns its id."""
    consent_id, subject = unique("consent"), unique("subject")
    await publish_consent(producer, h, "dsgov.consent.granted", consent_data(consent_id, subject, **extra))

    async def listed() -> bool:
        return consent_id in (await browser.page(f"/consents?subject={subject}")).text

    await poll(listed, what=f"{consent_id} in the list")
    return consent_id


def commands_for(recorder: Recorder, consent_id: str) -> list[dict[str, Any]]:
    return [
        r.json()
        for r in recorder.matching(lambda r: r.topic == "dsgov.console.commands" and r.key == consent_id)
    ]


async def test_login_and_logout(harness: ConsoleHarness, browser: Browser) -> None:
    assert (await browser.login("olga", "not olga's password")).status_code == 401
    assert (await browser.page("/dashboard")).status_code == 303

    response = await browser.login("olga")

    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("dsgov_console=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    dashboard = await browser.page("/dashboard")
    assert dashboard.status_code == 200
    assert "olga · operator" in dashboard.text
    token = CSRF.search(dashboard.text)
    assert token
    out = await browser.post("/logout", {"csrf_token": token.group(1)})
    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert (await browser.page("/dashboard")).headers["location"] == "/login?next=/dashboard"


async def test_roles_are_enforced_over_http(
    harness: ConsoleHarness, browser: Browser, producer: AIOKafkaProducer, recorder: Recorder
) -> None:
    assert (await browser.page("/consents")).status_code == 303  # anonymous
    await browser.login("vic")
    consent_id = await granted(producer, harness, browser)
    detail = await browser.page(f"/consents/view/{consent_id}")
    assert detail.status_code == 200
    assert 'id="withdraw-form"' not in detail.text
    token = CSRF.search(detail.text)
    assert token
    denied = await browser.post(
        f"/consents/withdraw/{consent_id}",
        {"csrf_token": token.group(1), "reason": "viewer tries", "request_id": str(uuid.uuid4())},
    )
    assert denied.status_code == 403
    assert (await browser.page("/users")).status_code == 403
    assert (await browser.page("/audit")).status_code == 403
    assert (await browser.page(f"/consents/proof/{consent_id}")).status_code == 200

    operator = Browser(harness)
    admin = Browser(harness)
    try:
        await operator.login("olga")
        assert (await operator.page("/users")).status_code == 403
        await admin.login("ada")
        assert (await admin.page("/users")).status_code == 200
        audit = (await admin.page("/audit")).text
        assert "access_denied" in audit
        assert "vic (viewer)" in audit
    finally:
        await operator.close()
        await admin.close()
    assert commands_for(recorder, consent_id) == []


async def test_login_is_rate_limited_per_username_and_address(
    harness: ConsoleHarness, browser: Browser
) -> None:
    assert harness.create_user("lou", "viewer", "lou's viewer passphrase").returncode == 0
    for _ in range(5):
        assert (await browser.login("lou", "wrong passphrase!")).status_code == 401

    refused = await browser.login("lou", "lou's viewer passphrase")

    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 900
    assert (await browser.page("/dashboard")).status_code == 303
    assert (await browser.login("vic")).status_code == 303  # another username from the same address


async def test_the_read_model_shows_a_consent_published_on_the_consent_topic(
    harness: ConsoleHarness, browser: Browser, producer: AIOKafkaProducer
) -> None:
    await browser.login("vic")
    before = await browser.page("/dashboard")
    evidence = {"method": "recorded_statement", "notice_version": "n-7", "artifact_sha256": "b" * 64}
    consent_id = await granted(producer, harness, browser, purpose="voice dubbing", evidence=evidence)

    detail = (await browser.page(f"/consents/view/{consent_id}")).text
    assert 'id="status">granted<' in detail
    assert "voice dubbing" in detail
    assert "recorded statement" in detail
    assert "b" * 64 in detail
    assert "face, voice" in detail
    expiring = (await browser.page("/consents?expiring_days=7")).text
    assert consent_id in expiring
    assert consent_id not in (await browser.page("/consents?expiring_days=2")).text
    after = (await browser.page("/dashboard")).text
    assert _count(after, "granted") == _count(before.text, "granted") + 1
    assert _count(after, "expiring") == _count(before.text, "expiring") + 1


def _count(html: str, which: str) -> int:
    match = re.search(rf'id="count-{which}">\s*<div class="n">(\d+)</div>', html)
    assert match, which
    return int(match.group(1))


async def test_a_withdrawal_sends_exactly_one_command_with_actor_and_reason(
    harness: ConsoleHarness, browser: Browser, producer: AIOKafkaProducer, recorder: Recorder
) -> None:
    await browser.login("olga")
    consent_id = await granted(producer, harness, browser)
    detail = (await browser.page(f"/consents/view/{consent_id}")).text
    token, request_id = CSRF.search(detail), REQUEST_ID.search(detail)
    assert token
    assert request_id
    path = f"/consents/withdraw/{consent_id}"

    forged = await browser.post(
        path, {"csrf_token": "forged", "reason": "forged", "request_id": request_id.group(1)}
    )
    assert forged.status_code == 403
    form = {"csrf_token": token.group(1), "reason": "The subject asked by phone <b>now</b>"}
    form["request_id"] = request_id.group(1)
    first = await browser.post(path, form)
    again = await browser.post(path, form)  # the same form submitted twice

    assert first.status_code == 303
    assert first.headers["location"].endswith("notice=withdrawal_submitted")
    assert again.headers["location"].endswith("notice=withdrawal_duplicate")
    await recorder.wait_for(lambda r: r.topic == "dsgov.console.commands" and r.key == consent_id)
    marker = await granted(producer, harness, browser)  # a later command, to be sure nothing else follows
    marker_detail = (await browser.page(f"/consents/view/{marker}")).text
    marker_rid = REQUEST_ID.search(marker_detail)
    assert marker_rid
    await browser.post(
        f"/consents/withdraw/{marker}", form | {"request_id": marker_rid.group(1), "reason": "marker"}
    )
    await recorder.wait_for(lambda r: r.topic == "dsgov.console.commands" and r.key == marker)

    [command] = commands_for(recorder, consent_id)
    assert command["type"] == COMMAND
    assert command["subject"] == consent_id
    assert command["source"] == "dsgov/console"
    assert command["data"]["actor"] == {"username": "olga", "role": "operator"}
    assert command["data"]["reason"] == "The subject asked by phone <b>now</b>"
    assert command["data"]["subject_id"].startswith("subject-")
    assert command["correlationid"]
    assert command["causationid"]
    page = (await browser.page(f"/consents/view/{consent_id}")).text
    assert "The subject asked by phone &lt;b&gt;now&lt;/b&gt;" in page
    assert f'<meta http-equiv="refresh" content="3; url=/consents/view/{consent_id}">' in page  # waiting
    admin = Browser(harness)
    try:
        await admin.login("ada")
        audit = (await admin.page("/audit")).text
        assert "consent_withdrawal_submitted" in audit
        assert command["id"] in audit
    finally:
        await admin.close()


async def test_the_status_follows_the_withdrawn_event_and_the_proof_verifies(
    harness: ConsoleHarness, browser: Browser, producer: AIOKafkaProducer
) -> None:
    await browser.login("vic")
    consent_id = await granted(producer, harness, browser)
    state = (await browser.page(f"/consents/view/{consent_id}")).text
    subject = re.search(r"Subject \(person edited\)</dt><dd class=\"mono\">([^<]+)<", state)
    assert subject
    await publish_consent(
        producer,
        harness,
        "dsgov.consent.withdrawn",
        consent_data(consent_id, subject.group(1), actor="console:olga", reasons=["withdrawn_by_console"]),
    )

    async def withdrawn() -> bool:
        return 'id="status">withdrawn<' in (await browser.page(f"/consents/view/{consent_id}")).text

    await poll(withdrawn, what="status withdrawn")
    proof = (await browser.page(f"/consents/proof/{consent_id}")).json()
    assert [e["event"]["type"] for e in proof["entries"]] == [
        "dsgov.consent.granted",
        "dsgov.consent.withdrawn",
    ]
    result = verify_proof(proof)
    assert result.ok, result.problems
    proof["entries"][0]["event"]["data"]["subject_id"] = "someone else"
    assert not verify_proof(proof).ok


async def test_identity_decisions_are_counted_on_the_dashboard(
    harness: ConsoleHarness, browser: Browser, producer: AIOKafkaProducer
) -> None:
    await browser.login("vic")
    before = (await browser.page("/dashboard")).text
    for type_ in ("dsgov.identity.verified", "dsgov.identity.verified", "dsgov.identity.rejected"):
        user = unique("user")
        data = {"user_id": user, "method": "mobile", "reasons": [], "age_group": "adult"}
        event = cloud_event(type_, data, subject=user, source="dsgov/identity-verification")
        await producer.send_and_wait(harness.topic("dsgov.identity"), to_bytes(event), key=user.encode())

    async def counted() -> str | None:
        html = (await browser.page("/dashboard")).text
        done = _count(html, "identity-rejected") == _count(before, "identity-rejected") + 1
        return (
            html
            if done and _count(html, "identity-verified") == _count(before, "identity-verified") + 2
            else None
        )

    await poll(counted, what="identity counts")


async def test_a_malformed_consent_event_is_dead_lettered_and_the_next_one_still_shows(
    harness: ConsoleHarness, browser: Browser, producer: AIOKafkaProducer, recorder: Recorder
) -> None:
    key = unique("bad")
    await producer.send_and_wait(harness.topic("dsgov.consent"), b"{not json", key=key.encode())
    await browser.login("vic")
    await granted(producer, harness, browser)
    [dead] = await recorder.wait_for(
        lambda r: r.topic == "dsgov.deadletter" and r.json()["data"].get("key") == key
    )
    assert dead.json()["data"]["service"] == "console"
    assert dead.json()["data"]["error_code"] == "invalid_json"


def test_create_user_refuses_weak_passwords_and_duplicates_and_explains_an_unreachable_store(
    harness: ConsoleHarness,
) -> None:
    short = harness.create_user("shorty", "viewer", "too short")
    assert short.returncode == 2
    assert "at least 12 characters" in short.stderr
    duplicate = harness.create_user("ada", "admin", "another long passphrase")
    assert duplicate.returncode == 1
    assert "already exists" in duplicate.stderr
    nowhere = harness.create_user(
        "newadmin", "admin", "a long enough passphrase", DSGOV_MONGO_URI=f"mongodb://127.0.0.1:{free_port()}/"
    )
    assert nowhere.returncode == 1
    assert "cannot reach MongoDB" in nowhere.stderr
    assert "make run" in nowhere.stderr
    assert "create-user --username NAME --role admin" in nowhere.stderr
    no_terminal = harness.cli("create-user", "--username", "newadmin", "--role", "admin")
    assert no_terminal.returncode == 2
    assert "--password-stdin" in no_terminal.stderr


def test_a_taken_web_port_stops_the_process_instead_of_running_without_its_web_app(
    stack: EmbeddedStack, harness: ConsoleHarness, tmp_path: Path
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        env = harness.env | {
            "DSGOV_HTTP_PORT": str(holder.getsockname()[1]),
            "DSGOV_MONGO_DATABASE": "console_clash",
            "DSGOV_TOPIC_PREFIX": f"clash-{uuid.uuid4().hex[:8]}.",  # not the harness's consumer group
        }
        proc = ServiceProcess("services.console", env, tmp_path / "clash.log").start(wait_ready=False)
        try:
            code = proc.wait_exit(timeout=60)
        finally:
            proc.stop()
    assert code != 0
    assert "console.web_failed" in proc.log_tail(80)
    assert "address already in use" in proc.log_tail(80)


async def test_a_valid_token_from_a_foreign_origin_and_an_unknown_host_are_refused(
    harness: ConsoleHarness, browser: Browser
) -> None:
    """Issue 16: both were accepted (303 and 200) before."""
    await browser.login("vic")
    token = await browser.token("/account")
    foreign = await browser.client.post(
        "/logout", data={"csrf_token": token}, headers={"Origin": "http://evil.example"}
    )
    assert foreign.status_code == 403
    assert (await browser.page("/dashboard")).status_code == 200  # still signed in: nothing happened
    unknown = await browser.client.get("/login", headers={"Host": "evil.example"})
    assert unknown.status_code == 400
    assert (await browser.post("/logout", {"csrf_token": token})).status_code == 303


async def test_reset_password_on_the_command_line_and_create_user_prints_the_consoles_url(
    harness: ConsoleHarness, browser: Browser
) -> None:
    created = harness.create_user("rita", "viewer", "rita's first passphrase")
    assert created.returncode == 0, created.stderr
    assert f"sign in at {harness.base_url}/" in created.stdout  # the URL the console recorded at start
    assert (await browser.login("rita", "rita's first passphrase")).status_code == 303

    reset = harness.cli(
        "reset-password", "--username", "rita", "--password-stdin", stdin="rita's new passphrase\n"
    )

    assert reset.returncode == 0, reset.stderr
    assert "their sessions ended" in reset.stdout
    assert (await browser.page("/dashboard")).status_code == 303  # signed out
    assert (await browser.login("rita", "rita's new passphrase")).status_code == 303
    unknown = harness.cli(
        "reset-password", "--username", "nobody", "--password-stdin", stdin="long enough pass\n"
    )
    assert unknown.returncode == 1
    assert "no user 'nobody'" in unknown.stderr
    admin = Browser(harness)
    try:
        await admin.login("ada")
        audit = (await admin.page("/audit?action=password_reset&actor=cli:" + getpass.getuser())).text
        assert audit.count("<code>password_reset</code>") == 1
        assert "rita" in audit
    finally:
        await admin.close()


async def test_pending_requests_and_audit_filters_on_the_real_store(stack: EmbeddedStack) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    try:
        db = client[f"console_duties_{uuid.uuid4().hex[:8]}"]
        pending = MongoPendingActions(db["pending_actions"])
        action = PendingAction("user:sock", "user_grant", "sock", "ada", "admin", 1_000, {"role": "operator"})
        assert await pending.open(action)
        assert not await pending.open(replace(action, requested_by="ben", requested_ms=2_000))
        assert await pending.get("user:sock") == action
        closes = await asyncio.gather(*(pending.close(action) for _ in range(3)))
        assert sorted(closes) == [False, False, True]  # exactly one confirmer acts
        assert await pending.all() == []

        site = MongoSite(db["site"])
        for url in ("http://127.0.0.1:8000/", "https://console.example.org/"):
            await site.record_url(url)
        assert await site.url() == "https://console.example.org/"
        assert await db["site"].count_documents({}) == 1

        users = MongoUsers(db["users"])
        sock = User(
            "sock", "operator", "h", True, 1, "ada", role_by="ada", password_set_by="ada", confirmed_by="ben"
        )
        assert await users.add(sock)
        assert await users.get("sock") == replace(sock, version=1)

        log = MongoAuditLog(AggregateStore(db["audit"]))
        await log.ensure_indexes()
        t0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
        for minutes, action_name, actor in (
            (0, "login_failed", None),
            (10, "user_created", "ada"),
            (20, "user_created", "ben"),
        ):
            who = Actor(actor, "admin") if actor else None
            await log.record(
                AuditEntry(action_name, who, t0 + timedelta(minutes=minutes), "10.0.0.1", "x", {"k": None})
            )

        def actions(rows: list[dict[str, Any]]) -> list[tuple[str, Any]]:
            return [(r["action"], (r["actor"] or {}).get("username")) for r in rows]

        assert actions(await log.search(AuditQuery(actor="ada"), 10)) == [("user_created", "ada")]
        assert actions(await log.search(AuditQuery(action="user_created"), 10)) == [
            ("user_created", "ben"),
            ("user_created", "ada"),
        ]
        window = AuditQuery(
            since_ms=int((t0 + timedelta(minutes=5)).timestamp() * 1000),
            until_ms=int((t0 + timedelta(minutes=15)).timestamp() * 1000),
        )
        assert actions(await log.search(window, 10)) == [("user_created", "ada")]
        assert len(await log.search(AuditQuery(), 2, skip=2)) == 1
    finally:
        await client.close()
