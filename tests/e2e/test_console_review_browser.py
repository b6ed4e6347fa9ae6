"""The review queue and the feature library in a real headless Chromium, against the REAL review service.

The console and `generation_review` (with its demo library: DSGOV_REVIEW_DEMO_LIBRARY=true) run as
real processes on the embedded broker and store, in one topic namespace. The test plays only the
platform (identity decisions and generation requests) and drives the console in the browser:

- a request whose text hits the demo library's `review` keyword shows up in the queue; an operator
  takes it, sees why it was flagged, approves it with a reason; the item becomes resolved and the
  platform-side topic `dsgov.review` carries `dsgov.generation.approved` with the reviewer (DS-10.1);
- operator A proposes a keyword, operator B approves it (four-eyes), the entry becomes active and
  from then on blocks; an expression RE2 refuses comes back as a refused change (DS-10.2);
- four-eyes holds across accounts (issue 16): an operator account an admin created (with a second
  admin's confirmation) cannot approve that admin's proposal, and a form posted from another
  origin with a valid token is refused.

Needs Debian's Chromium and the `playwright` package, as tests/e2e/test_console_browser.py.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, BrowserContext, Page, expect

from devtools.servers import free_port
from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.kafka import Recorder
from shared.messaging.provisioning import provision_topics

pytestmark = pytest.mark.e2e

PASSWORDS = {
    "olga": "olga's operator passphrase",
    "bob": "bob's operator passphrase",
    "ada": "ada's admin passphrase",
    "ben": "ben's admin passphrase",
}
ROLES = {"olga": "operator", "bob": "operator", "ada": "admin", "ben": "admin"}
SOCK_PASSWORD = "the sock puppet's passphrase"
RESOLVE_TIMEOUT_MS = 60_000
FLAGGED_TEXT = "Write a short story about demo-review-term <script>alert('x')</script> in a harbour town."
REASON = "Fiction; the term is used descriptively <b>not</b> as negative information."


@dataclass
class System:
    """The console and the review service in one topic namespace, each with its own database."""

    stack: EmbeddedStack
    tmp: Path
    prefix: str = field(default_factory=lambda: f"rb-{uuid.uuid4().hex[:8]}.")
    console_db: str = field(default_factory=lambda: f"console_{uuid.uuid4().hex[:8]}")
    review_db: str = field(default_factory=lambda: f"review_{uuid.uuid4().hex[:8]}")
    http_port: int = field(default_factory=free_port)
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def topic(self, name: str) -> str:
        return self.prefix + name

    def console_env(self) -> dict[str, str]:
        return service_env(self.stack, prefix=self.prefix, database=self.console_db) | {
            "DSGOV_CONSOLE_SESSION_SECRET": "review-browser-session-secret-0123456789abcdef",
            "DSGOV_CONSOLE_INSECURE_COOKIES": "true",
            "DSGOV_HTTP_PORT": str(self.http_port),
        }

    def review_env(self) -> dict[str, str]:
        return service_env(self.stack, prefix=self.prefix, database=self.review_db) | {
            "DSGOV_REVIEW_DEMO_LIBRARY": "true",
            "DSGOV_REVIEW_REFRESH_INTERVAL_S": "0.2",
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


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def system(stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[System]:
    s = System(stack, tmp_path_factory.mktemp("review-browser"))
    await provision_topics(stack.bootstrap, prefix=s.prefix)
    try:
        for name in PASSWORDS:
            s.create_user(name, ROLES[name])
        s.start("services.console", s.console_env())
        s.start("services.generation_review", s.review_env())
        yield s
    finally:
        for proc in reversed(s.processes):
            proc.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(system: System) -> AsyncIterator[Recorder]:
    topics = [system.topic("dsgov.review"), system.topic("dsgov.console.commands")]
    rec = Recorder(system.stack.bootstrap, topics, strip_prefix=system.prefix)
    await rec.start()
    yield rec
    await rec.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def contexts(browser: Browser) -> AsyncIterator[list[BrowserContext]]:
    """Two independent browser sessions (two people at two desks)."""
    made = [await browser.new_context(viewport={"width": 1280, "height": 900}) for _ in range(2)]
    yield made
    for ctx in made:
        await ctx.close()


async def sign_in(context: BrowserContext, system: System, username: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{system.base_url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORDS[username])
    await page.click("button:has-text('Sign in')")
    await expect(page).to_have_url(f"{system.base_url}/dashboard")
    return page


def of(type_: str, subject: str) -> Any:
    def pred(r: Any) -> bool:
        event = r.json()
        return bool(r.topic == "dsgov.review" and event["type"] == type_ and event["subject"] == subject)

    return pred


async def verified_user(system: System, producer: AIOKafkaProducer) -> str:
    """A user the platform's identity service verified (DS-9), as the review service sees it."""
    user = unique("user")
    data = {"user_id": user, "method": "mobile", "reasons": [], "age_group": "adult"}
    event = cloud_event("dsgov.identity.verified", data, subject=user, source="dsgov/identity-verification")
    await producer.send_and_wait(system.topic("dsgov.identity"), to_bytes(event), key=user.encode())
    return user


async def request_generation(
    system: System, producer: AIOKafkaProducer, recorder: Recorder, user: str, text: str
) -> tuple[str, dict[str, Any]]:
    """Submit a text request; return its id and the review service's first answer other than a DS-9 refusal.

    The identity decision and the request travel on different topics: a request decided before the
    service saw the identity is rejected `identity_unverified` and submitted afresh, as a platform does.
    """
    request_id = unique("req")
    data = {
        "request_id": request_id,
        "user_id": user,
        "service_type": "text_writing",
        "input": {"text": text},
    }
    deadline = time.monotonic() + 60
    answers = ("dsgov.review.queued", "dsgov.generation.approved", "dsgov.generation.rejected")
    while time.monotonic() < deadline:
        seen = len(recorder.matching(lambda r: r.topic == "dsgov.review" and r.key == request_id))
        event = cloud_event("dsgov.generation.requested", data, subject=request_id)
        await producer.send_and_wait(
            system.topic("dsgov.platform.generation"), to_bytes(event), key=request_id.encode()
        )
        found = await recorder.wait_for(
            lambda r: r.topic == "dsgov.review" and r.key == request_id and r.json()["type"] in answers,
            count=seen + 1,
            timeout=30,
        )
        answer = found[-1].json()
        codes = [r["code"] for r in answer["data"].get("reasons", [])]
        if codes != ["identity_unverified"]:
            return request_id, answer
        await asyncio.sleep(0.2)
    raise AssertionError(f"the review service kept refusing {user} as unverified:\n{system.logs()}")


async def open_in_queue(page: Page, system: System, request_id: str) -> None:
    """Open the queue and wait until the console's read model lists the request (it reloads meanwhile)."""
    await page.click("header nav >> text=Review queue")
    row = page.locator("#queue tbody tr", has_text=request_id)
    deadline = time.monotonic() + 30
    while await row.count() == 0:
        assert time.monotonic() < deadline, f"{request_id} not in the queue:\n{system.logs()}"
        await asyncio.sleep(0.3)
        await page.reload()
    await row.locator("a").click()


async def test_a_flagged_request_is_taken_seen_approved_and_the_platform_gets_the_decision(
    system: System,
    producer: AIOKafkaProducer,
    recorder: Recorder,
    contexts: list[BrowserContext],
    tmp_path: Path,
) -> None:
    user = await verified_user(system, producer)
    request_id, answer = await request_generation(system, producer, recorder, user, FLAGGED_TEXT)
    assert answer["type"] == "dsgov.review.queued", answer  # nothing reaches the platform yet
    olga = await sign_in(contexts[0], system, "olga")
    dialogs: list[str] = []
    olga.on("dialog", lambda dialog: dialogs.append(dialog.message))

    await open_in_queue(olga, system, request_id)

    await expect(olga.locator("#status")).to_have_text("pending")
    await expect(olga.locator("#request-id")).to_have_text(request_id)
    hits = olga.locator("#hits tbody tr")
    await expect(hits).to_have_count(1)
    for shown in (
        "demo-kw-review",
        "keyword",
        "demo_negative",
        "review",
        "negative information a person must",
    ):
        await expect(hits).to_contain_text(shown)
    await expect(olga.locator("#checked-text")).to_have_text(FLAGGED_TEXT)  # the script is text, not code
    await olga.click("#take")
    await expect(olga.locator(".notice")).to_contain_text("You hold this item")

    bob = await sign_in(contexts[1], system, "bob")
    await bob.goto(olga.url.split("?", 1)[0])
    await expect(bob.locator("#holder")).to_contain_text("Taken by olga (operator)")
    await expect(bob.locator("#take")).to_have_text("Take over from olga")
    await expect(bob.locator("#decide-form")).to_have_count(0)
    await bob.screenshot(path=str(tmp_path / "review-item-taken-by-another.png"), full_page=True)

    await olga.fill("textarea[name=reason]", REASON)
    await olga.click("#approve")
    await expect(olga.locator(".notice")).to_contain_text("Decision sent")
    # Only the review service's dsgov.review.resolved resolves it; the page refreshes itself meanwhile.
    await expect(olga.locator("#status")).to_have_text("resolved", timeout=RESOLVE_TIMEOUT_MS)
    await expect(olga.locator("#outcome")).to_have_text("dsgov.generation.approved")
    await expect(olga.locator("#reviewer")).to_have_text("olga (operator)")
    await expect(olga.locator("#resolution-reason")).to_have_text(REASON)
    assert dialogs == []
    shot = tmp_path / "review-item.png"
    await olga.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot of the review item page: {shot}")
    assert shot.stat().st_size > 10_000

    [approved] = await recorder.wait_for(of("dsgov.generation.approved", request_id))
    decision = approved.json()
    assert decision["data"]["reviewer"] == {"username": "olga", "role": "operator"}
    assert decision["data"]["user_id"] == user
    assert [h["entry_id"] for h in decision["data"]["hits"]] == ["demo-kw-review"]
    [command] = recorder.matching(lambda r: r.topic == "dsgov.console.commands" and r.key == request_id)
    assert command.json()["data"]["reason"] == REASON
    assert (
        decision["causationid"] == command.json()["id"]
    )  # the platform's decision came from the console's command
    await bob.reload()
    await expect(bob.locator("#status")).to_have_text("resolved")
    await expect(bob.locator("#take-form")).to_have_count(0)


async def test_a_keyword_proposed_by_one_operator_and_approved_by_another_becomes_active_and_blocks(
    system: System,
    producer: AIOKafkaProducer,
    recorder: Recorder,
    contexts: list[BrowserContext],
    tmp_path: Path,
) -> None:
    term = f"e2e-fraud-bait-{uuid.uuid4().hex[:6]}"
    entry_id = unique("kw-e2e")
    olga = await sign_in(contexts[0], system, "olga")
    await olga.click("header nav >> text=Feature library")
    await expect(olga.locator("#library")).to_contain_text("demo-kw-review")  # the demo library is there
    await olga.screenshot(path=str(tmp_path / "library.png"), full_page=True)
    await olga.click("#propose-link")
    await olga.fill("input[name=entry_id]", entry_id)
    await olga.select_option("select[name=kind]", "keyword")
    await olga.fill("input[name=pattern]", term)
    await olga.fill("input[name=category]", "fraud")
    await olga.select_option("select[name=action]", "block")
    await olga.fill("textarea[name=reason]", "criterion 4.2: investment fraud bait seen in complaints")
    await olga.click("button:has-text('Propose entry')")
    await expect(olga.locator(".notice")).to_contain_text("Change sent")
    await expect(olga.locator("#status")).to_have_text("proposed", timeout=RESOLVE_TIMEOUT_MS)
    await expect(olga.locator("#proposed-by")).to_have_text("console:olga")
    await expect(olga.locator("#approve-form")).to_have_count(0)  # four-eyes: not for the proposer
    await expect(olga.locator("#own-proposal")).to_be_visible()

    bob = await sign_in(contexts[1], system, "bob")
    await bob.goto(f"{system.base_url}/library?q={term}")
    await bob.click(f"#library >> text={entry_id}")
    await bob.fill("#approve-form textarea[name=reason]", "agreed: matches criterion 4.2")
    await bob.click("button:has-text('Approve entry')")
    await expect(bob.locator("#status")).to_have_text("active", timeout=RESOLVE_TIMEOUT_MS)
    await expect(bob.locator("#approved-by")).to_have_text("console:bob")
    await expect(bob.locator("#history tbody tr").first).to_contain_text("console:bob (operator)")
    await bob.screenshot(path=str(tmp_path / "library-entry.png"), full_page=True)
    print(f"\nscreenshot of the library entry page: {tmp_path / 'library-entry.png'}")

    user = await verified_user(system, producer)
    deadline = time.monotonic() + 30  # the service picks library changes up within its refresh interval
    while True:
        _, answer = await request_generation(system, producer, recorder, user, f"buy now: {term}!")
        if answer["type"] == "dsgov.generation.rejected" or time.monotonic() > deadline:
            break
    assert answer["type"] == "dsgov.generation.rejected", answer
    assert [r["code"] for r in answer["data"]["reasons"]] == ["prohibited_content"]
    assert [h["entry_id"] for h in answer["data"]["hits"]] == [entry_id]


async def test_an_expression_the_review_service_refuses_is_shown_as_a_refused_change(
    system: System, contexts: list[BrowserContext], tmp_path: Path
) -> None:
    entry_id = unique("re-e2e")
    olga = await sign_in(contexts[0], system, "olga")
    await olga.goto(f"{system.base_url}/library/new")
    await olga.fill("input[name=entry_id]", entry_id)
    await olga.select_option("select[name=kind]", "regex")
    await olga.fill("input[name=pattern]", "(?=look)ahead")  # RE2 has no look-arounds
    await olga.fill("input[name=category]", "fraud")
    await olga.fill("textarea[name=reason]", "criterion 4.2")
    await olga.click("button:has-text('Propose entry')")

    await expect(olga.locator("#status")).to_have_text("refused", timeout=RESOLVE_TIMEOUT_MS)
    await expect(olga.locator("#refusal")).to_contain_text("entry_invalid")
    await expect(olga.locator("#history tr.refused")).to_have_count(1)
    await olga.screenshot(path=str(tmp_path / "library-refused.png"), full_page=True)
    print(f"\nscreenshot of a refused proposal: {tmp_path / 'library-refused.png'}")


async def test_an_admin_cannot_approve_their_own_proposal_with_an_operator_account_they_created(
    system: System, recorder: Recorder, contexts: list[BrowserContext], tmp_path: Path
) -> None:
    """The issue's bypass, replayed in the browser: it made the entry active before."""
    ada = await sign_in(contexts[0], system, "ada")
    await ada.click("header nav >> text=Users")
    await ada.fill("form[action='/users'] input[name=username]", "sock")
    await ada.select_option("form[action='/users'] select[name=role]", "operator")
    await ada.fill("form[action='/users'] input[name=password]", SOCK_PASSWORD)
    await ada.click("button:has-text('Add user')")
    await expect(ada.locator(".notice")).to_contain_text("another admin must confirm")
    await expect(ada.locator("#users")).not_to_contain_text("sock")
    await expect(ada.locator("#pending-users form[action='/users/confirm/sock']")).to_have_count(0)

    ben = await sign_in(contexts[1], system, "ben")
    await expect(ben.locator("#pending-alerts")).to_contain_text("create sock as operator, asked by ada")
    await ben.click("header nav >> text=Users")
    await ben.click("form[action='/users/confirm/sock'] button")
    await expect(ben.locator(".notice")).to_contain_text("Confirmed")
    await expect(ben.locator("#users")).to_contain_text("(confirmed by ben)")

    entry_id = unique("kw-sod")
    await ada.goto(f"{system.base_url}/library/new")
    await ada.fill("input[name=entry_id]", entry_id)
    await ada.fill("input[name=pattern]", f"sock-puppet-{uuid.uuid4().hex[:6]}")
    await ada.fill("input[name=category]", "fraud")
    await ada.select_option("select[name=action]", "block")
    await ada.fill("textarea[name=reason]", "criterion 4.2")
    await ada.click("button:has-text('Propose entry')")
    await expect(ada.locator("#status")).to_have_text("proposed", timeout=RESOLVE_TIMEOUT_MS)

    await ben.click("button:has-text('Sign out')")  # ben's desk, now ada's sock puppet
    sock = ben
    await expect(sock).to_have_url(f"{system.base_url}/login")
    await sock.fill("input[name=username]", "sock")
    await sock.fill("input[name=password]", SOCK_PASSWORD)
    await sock.click("button:has-text('Sign in')")
    await sock.goto(f"{system.base_url}/library/entry/{entry_id}")
    await expect(sock.locator("#approve-form")).to_have_count(0)
    await expect(sock.locator("#tied-proposer")).to_contain_text("ada created")
    token = await sock.locator("header input[name=csrf_token]").get_attribute("value")
    assert token
    forged = await contexts[1].request.post(
        f"{system.base_url}/library/approve/{entry_id}",
        form={"csrf_token": token, "reason": "looks fine to me", "request_id": str(uuid.uuid4())},
        headers={"Origin": system.base_url},
        max_redirects=0,
    )
    assert forged.status == 409
    assert "separation" in (await forged.text()) or "four-eyes" in (await forged.text())
    await sock.screenshot(path=str(tmp_path / "library-tied-approver.png"), full_page=True)

    # A form on another origin of the same site (127.0.0.1, another port: the SameSite cookie goes
    # along) that somehow holds a valid token is refused for its Origin.
    elsewhere = f"http://127.0.0.1:{free_port()}/page"
    form = (
        f'<form method="post" action="{system.base_url}/library/approve/{entry_id}">'
        f'<input name="csrf_token" value="{token}"><input name="reason" value="x">'
        f'<input name="request_id" value="{uuid.uuid4()}"><button id="go">go</button></form>'
    )
    await sock.route(elsewhere, lambda route: route.fulfill(content_type="text/html", body=form))
    await sock.goto(elsewhere)
    async with sock.expect_response(lambda r: "/library/approve/" in r.url) as answer:
        await sock.click("#go")
    assert (await answer.value).status == 403
    await expect(sock.locator("h1")).to_have_text("Request refused")

    await ada.goto(f"{system.base_url}/audit?action=csrf_rejected&actor=sock")
    await expect(ada.locator("#audit")).to_contain_text("foreign_origin")  # the cookie went along
    await ada.goto(f"{system.base_url}/library/entry/{entry_id}")
    await expect(ada.locator("#status")).to_have_text("proposed")
    sent = recorder.matching(lambda r: r.topic == "dsgov.console.commands" and r.key == entry_id)
    assert [r.json()["data"]["change"] for r in sent] == ["propose"]  # no approval ever left the console
