"""The console's feature-library pages and human review queue as a real process (DS-10.1, DS-10.2).

The console runs on the embedded broker and store, driven over HTTP. The test plays the review
service: it publishes `dsgov.library.updated`, `dsgov.review.queued|resolved` and decisions on the
prefixed `dsgov.review` topic, and observes the console's commands on `dsgov.console.commands`.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.kafka import Recorder
from services.console.adapters.mongo import MongoAuditLog, MongoReviewDesk
from services.console.ports import Actor
from shared.messaging.provisioning import provision_topics
from shared.storage.aggregates import AggregateStore
from tests.integration.test_console_service import CSRF, PASSWORDS, Browser, ConsoleHarness, poll

pytestmark = pytest.mark.integration

SOURCE = "dsgov/generation-review"
LIBRARY_COMMAND = "dsgov.library.change-submitted"
REVIEW_COMMAND = "dsgov.review.decision-submitted"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConsoleHarness]:
    h = ConsoleHarness(stack, tmp_path_factory.mktemp("console-review"))
    await provision_topics(stack.bootstrap, prefix=h.prefix)
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
async def olga(harness: ConsoleHarness) -> AsyncIterator[Browser]:
    b = Browser(harness)
    await b.login("olga")
    yield b
    await b.close()


@pytest_asyncio.fixture(loop_scope="session")
async def ada(harness: ConsoleHarness) -> AsyncIterator[Browser]:
    b = Browser(harness)
    await b.login("ada")
    yield b
    await b.close()


@pytest_asyncio.fixture(loop_scope="session")
async def vic(harness: ConsoleHarness) -> AsyncIterator[Browser]:
    b = Browser(harness)
    await b.login("vic")
    yield b
    await b.close()


async def publish(
    producer: AIOKafkaProducer, h: ConsoleHarness, type_: str, data: dict[str, Any], subject: str, **env: Any
) -> dict[str, Any]:
    """Play the review service: one event on the prefixed `dsgov.review`."""
    event = cloud_event(
        type_, data, subject=subject, source=SOURCE, correlationid=env.pop("correlationid", None)
    )
    event |= env
    await producer.send_and_wait(h.topic("dsgov.review"), to_bytes(event), key=subject.encode())
    return event


def entry_snapshot(entry_id: str, status: str, version: int, **fields: Any) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "kind": "keyword",
        "pattern": "guaranteed Returns",
        "category": "fraud",
        "action": "review",
        "status": status,
        "proposed_by": "console:alice",
        "proposed_reason": "criterion 4.2: investment fraud bait",
        "created_version": 1,
        "updated_version": version,
        **fields,
    }


def library_data(
    entry_id: str, change: str, version: int, entry: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    data = {
        "entry_id": entry_id,
        "library_version": version,
        "change": change,
        "applied": extra.pop("applied", True),
        "actor": extra.pop("actor", "console:alice"),
        "actor_role": "operator",
        "reason": extra.pop("reason", "criterion 4.2: investment fraud bait"),
        "changed_at": datetime.now(UTC).isoformat(),
        **extra,
    }
    if entry is not None:
        data["entry"] = entry
    return data


def queued_data(item_id: str, request_id: str, queued_at: datetime, text: str) -> dict[str, Any]:
    return {
        "item_id": item_id,
        "request_id": request_id,
        "user_id": "user-" + request_id,
        "service_type": "text_writing",
        "stage": "input",
        "hits": [
            {
                "entry_id": "demo-kw-review",
                "kind": "keyword",
                "category": "demo_negative",
                "action": "review",
                "where": "text",
                "why": "demo: negative information a person must look at",
            }
        ],
        "text": text,
        "text_sha256": "ab" * 32,
        "library_version": 7,
        "queued_at": queued_at.isoformat(),
    }


def count(html: str, which: str) -> int:
    match = re.search(rf'id="count-{which}">\s*<div class="n">(\d+)</div>', html)
    assert match, which
    return int(match.group(1))


def commands(recorder: Recorder, type_: str, key: str) -> list[dict[str, Any]]:
    return [
        r.json()
        for r in recorder.matching(lambda r: r.topic == "dsgov.console.commands" and r.key == key)
        if r.json().get("type") == type_
    ]


async def form(browser: Browser, path: str, form_id: str, field: str = "request_id") -> dict[str, str]:
    html = (await browser.page(path)).text
    match = re.search(rf'id="{form_id}".*?name="{field}" value="([^"]*)"', html, re.S)
    assert match, f"no {form_id} on {path}"
    token = CSRF.search(html)
    assert token
    return {"csrf_token": token.group(1), field: match.group(1)}


async def test_library_events_become_entries_with_their_history_and_refusals(
    harness: ConsoleHarness, producer: AIOKafkaProducer, vic: Browser
) -> None:
    before = (await vic.page("/dashboard")).text
    entry_id = unique("kw")
    await publish(
        producer,
        harness,
        "dsgov.library.updated",
        library_data(entry_id, "propose", 41, entry_snapshot(entry_id, "proposed", 41)),
        entry_id,
    )
    await publish(
        producer,
        harness,
        "dsgov.library.updated",
        library_data(
            entry_id,
            "approve",
            41,
            entry_snapshot(entry_id, "proposed", 41),
            applied=False,
            refusal="four_eyes",
            refusal_detail="the proposer may not approve their own entry",
            reason="approving my own <b>entry</b>",
        ),
        entry_id,
    )
    active = entry_snapshot(entry_id, "active", 42, approved_by="console:bob", approval_reason="agreed")
    await publish(
        producer,
        harness,
        "dsgov.library.updated",
        library_data(entry_id, "approve", 42, active, actor="console:bob", reason="agreed"),
        entry_id,
    )

    async def shown() -> str | None:
        page = (await vic.page(f"/library/entry/{entry_id}")).text
        return page if 'id="status">active<' in page else None

    page = await poll(shown, what=f"{entry_id} active")
    history = re.search(r'<table id="history">(.*?)</table>', page, re.S)
    assert history
    assert history.group(1).count("<tr") == 4  # the header and three changes, newest first
    assert '<tr class="refused">' in history.group(1)
    assert "four_eyes" in history.group(1)
    assert "approving my own &lt;b&gt;entry&lt;/b&gt;" in history.group(1)
    assert 'id="refusal"' not in page  # the newest change applied: no refusal banner
    assert entry_id in (await vic.page("/library?q=GUARANTEED+returns&status=active")).text
    assert entry_id not in (await vic.page("/library?status=proposed")).text
    assert entry_id in (await vic.page(f"/library?q={entry_id.upper()}")).text  # case-insensitive
    after = (await vic.page("/dashboard")).text
    assert count(after, "library-active") == count(before, "library-active") + 1
    assert count(after, "library-version") >= 42


async def test_a_proposal_and_an_approval_from_the_console_become_commands_with_actor_and_reason(
    harness: ConsoleHarness, producer: AIOKafkaProducer, recorder: Recorder, olga: Browser, ada: Browser
) -> None:
    entry_id = unique("kw-console")
    proposal = await form(olga, "/library/new", "propose-form")
    response = await olga.post(
        "/library/propose",
        proposal
        | {
            "entry_id": entry_id,
            "kind": "phash",
            "pattern": "de000000000000aa",
            "category": "fraud",
            "action": "block",
            "max_distance": "5",
            "reason": "criterion 4.7: <i>known</i> scam image",
        },
    )
    assert response.status_code == 303

    [command] = await recorder.wait_for(lambda r: r.key == entry_id)
    sent = command.json()
    assert sent["type"] == LIBRARY_COMMAND
    assert sent["source"] == "dsgov/console"
    assert sent["data"] == {
        "change": "propose",
        "entry_id": entry_id,
        "entry": {
            "kind": "phash",
            "pattern": "de000000000000aa",
            "category": "fraud",
            "action": "block",
            "max_distance": 5,
        },
        "reason": "criterion 4.7: <i>known</i> scam image",
        "actor": {"username": "olga", "role": "operator"},
    }
    waiting = (await olga.page(f"/library/entry/{entry_id}")).text
    assert "sent, waiting for the review service" in waiting
    assert f'<meta http-equiv="refresh" content="3; url=/library/entry/{entry_id}">' in waiting

    snapshot = entry_snapshot(
        entry_id,
        "proposed",
        50,
        kind="phash",
        pattern="de000000000000aa",
        action="block",
        max_distance=5,
        proposed_by="console:olga",
        proposed_reason="criterion 4.7: <i>known</i> scam image",
    )
    await publish(
        producer,
        harness,
        "dsgov.library.updated",
        library_data(entry_id, "propose", 50, snapshot, actor="console:olga"),
        entry_id,
        causationid=sent["id"],
        correlationid=sent["correlationid"],
    )

    async def answered() -> str | None:
        page = (await olga.page(f"/library/entry/{entry_id}")).text
        return page if 'id="status">proposed<' in page and "answered" in page else None

    page = await poll(answered, what="the proposal answered")
    assert 'id="approve-form"' not in page  # olga proposed it: four-eyes
    assert 'id="own-proposal"' in page
    approval = await form(ada, f"/library/entry/{entry_id}", "approve-form")
    assert (
        await ada.post(f"/library/approve/{entry_id}", approval | {"reason": "matches the scam report"})
    ).status_code == 303

    approvals = await recorder.wait_for(lambda r: r.key == entry_id, count=2)
    approve = approvals[1].json()
    assert approve["data"]["change"] == "approve"
    assert approve["data"]["actor"] == {"username": "ada", "role": "admin"}
    assert approve["data"]["reason"] == "matches the scam report"
    assert approve["correlationid"] == sent["correlationid"]  # the entry's flow continues
    assert "entry" not in approve["data"]
    store: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(harness.stack.mongo_uri)
    try:
        doc = await store[harness.database]["audit"].find_one(
            {"_id": f"library_change/{uuid.UUID(approval['request_id'])}"}
        )
    finally:
        await store.close()
    assert doc is not None
    assert doc["processed"] == [approve["id"]]  # audit record and command: one document
    assert doc["outbox_pending"] == 0
    assert doc["state"]["actor"] == {"username": "ada", "role": "admin"}
    audit = (await ada.page("/audit")).text
    assert "library_change_submitted" in audit
    assert approve["id"] in audit


async def test_a_queued_item_is_taken_decided_and_resolved(
    harness: ConsoleHarness,
    producer: AIOKafkaProducer,
    recorder: Recorder,
    olga: Browser,
    ada: Browser,
    vic: Browser,
) -> None:
    before = (await vic.page("/dashboard")).text
    now = datetime.now(UTC)
    older, newer = unique("item"), unique("item")
    old_request, new_request = unique("req"), unique("req")
    await publish(
        producer,
        harness,
        "dsgov.review.queued",
        queued_data(newer, new_request, now, "newer one"),
        new_request,
    )
    queued = await publish(
        producer,
        harness,
        "dsgov.review.queued",
        queued_data(
            older, old_request, now - timedelta(days=400), "about demo-review-term <script>x()</script>"
        ),
        old_request,
        correlationid="corr-" + old_request,
    )

    async def listed() -> str | None:
        html = (await vic.page("/review")).text
        return html if older in html and newer in html else None

    html = await poll(listed, what="both items in the queue")
    assert html.index(old_request) < html.index(new_request)  # oldest first
    item_path = f"/review/item/{quote(older, safe='')}"
    item = (await vic.page(item_path)).text
    assert "about demo-review-term &lt;script&gt;x()&lt;/script&gt;" in item
    assert "demo: negative information a person must look at" in item
    assert 'id="take-form"' not in item  # a viewer reads only

    take = await form(olga, item_path, "take-form", "expected_seq")
    assert (await olga.post(f"/review/take/{quote(older, safe='')}", take)).status_code == 303
    assert "Taken by <strong>olga</strong> (operator)" in (await ada.page(item_path)).text
    csrf = CSRF.search((await ada.page(item_path)).text)
    assert csrf
    refused = await ada.post(
        f"/review/decide/{quote(older, safe='')}",
        {
            "csrf_token": csrf.group(1),
            "decision": "reject",
            "reason": "mine",
            "request_id": str(uuid.uuid4()),
        },
    )
    assert refused.status_code == 409  # ada must take it over first

    decision = await form(olga, item_path, "decide-form")
    answer = await olga.post(
        f"/review/decide/{quote(older, safe='')}",
        decision | {"decision": "approve", "reason": "satire, not negative"},
    )
    assert answer.headers["location"].endswith("notice=decision_submitted")
    [command] = await recorder.wait_for(lambda r: r.key == old_request)
    sent = command.json()
    assert sent["type"] == REVIEW_COMMAND
    assert sent["data"] == {
        "item_id": older,
        "request_id": old_request,
        "decision": "approve",
        "reason": "satire, not negative",
        "actor": {"username": "olga", "role": "operator"},
    }
    assert sent["correlationid"] == "corr-" + old_request
    assert sent["causationid"] == queued["id"]
    again = await olga.post(
        f"/review/decide/{quote(older, safe='')}",
        decision | {"decision": "reject", "reason": "second thoughts", "request_id": str(uuid.uuid4())},
    )
    assert again.status_code == 409
    assert "already sent by olga" in again.text
    assert 'id="status">decision sent<' in (await vic.page(item_path)).text

    resolved = {
        "item_id": older,
        "request_id": old_request,
        "user_id": "user-" + old_request,
        "stage": "input",
        "decision": "approve",
        "outcome_type": "dsgov.generation.approved",
        "decision_id": unique("decision"),
        "reviewer": {"username": "olga", "role": "operator"},
        "reason": "satire, not negative",
        "resolved_at": datetime.now(UTC).isoformat(),
    }
    await publish(producer, harness, "dsgov.review.resolved", resolved, old_request, causationid=sent["id"])

    async def done() -> str | None:
        page = (await vic.page(item_path)).text
        return page if 'id="status">resolved<' in page else None

    page = await poll(done, what="the item resolved")
    assert 'id="outcome">dsgov.generation.approved<' in page
    assert older not in (await vic.page("/review")).text
    assert older in (await vic.page("/review?status=resolved")).text
    after = (await vic.page("/dashboard")).text
    assert count(after, "review-pending") == count(before, "review-pending") + 1  # the newer one
    assert len(commands(recorder, REVIEW_COMMAND, old_request)) == 1


async def test_decisions_and_sanctions_are_counted_on_the_dashboard(
    harness: ConsoleHarness, producer: AIOKafkaProducer, vic: Browser
) -> None:
    before = (await vic.page("/dashboard")).text
    for type_, reviewer in [
        ("dsgov.generation.approved", None),
        ("dsgov.generation.rejected", {"username": "olga", "role": "operator"}),
        ("dsgov.output.blocked", None),
    ]:
        request_id = unique("req")
        data: dict[str, Any] = {"request_id": request_id, "user_id": "u-1", "decision_id": unique("d")}
        if reviewer:
            data["reviewer"] = reviewer
        await publish(producer, harness, type_, data, request_id)
    await publish(
        producer,
        harness,
        "dsgov.user.sanctioned",
        {"user_id": "u-1", "level": "restricted", "strikes": 2},
        "u-1",
    )

    async def counted() -> str | None:
        html = (await vic.page("/dashboard")).text
        return (
            html if count(html, "sanctions-restricted") == count(before, "sanctions-restricted") + 1 else None
        )

    html = await poll(counted, what="the sanction counted")
    for key in ("generation_approved", "generation_rejected", "output_blocked"):
        assert count(html, f"decisions-{key}") == count(before, f"decisions-{key}") + 1, key
    assert count(html, "decisions-human") == count(before, "decisions-human") + 1


async def test_a_malformed_review_event_is_dead_lettered_and_the_next_one_still_shows(
    harness: ConsoleHarness, producer: AIOKafkaProducer, recorder: Recorder, vic: Browser
) -> None:
    bad_key = unique("bad")
    spoiled = cloud_event(
        "dsgov.review.queued", {"item_id": "x", "request_id": bad_key}, subject=bad_key, source=SOURCE
    )
    await producer.send_and_wait(harness.topic("dsgov.review"), to_bytes(spoiled), key=bad_key.encode())
    await producer.send_and_wait(harness.topic("dsgov.review"), b"\xff\xfe not json", key=bad_key.encode())
    item_id, request_id = unique("item"), unique("req")
    await publish(
        producer,
        harness,
        "dsgov.review.queued",
        queued_data(item_id, request_id, datetime.now(UTC), "ok"),
        request_id,
    )

    dead = await recorder.wait_for(
        lambda r: r.topic == "dsgov.deadletter" and r.json()["data"].get("key") == bad_key, count=2
    )
    assert sorted(d.json()["data"]["error_code"] for d in dead) == ["invalid_json", "schema_violation"]
    assert {d.json()["data"]["service"] for d in dead} == {"console"}

    async def shown() -> bool:
        return item_id in (await vic.page("/review")).text

    await poll(shown, what="the valid item after the bad ones")


async def test_two_reviewers_taking_the_same_item_at_once_only_one_holds_it(stack: EmbeddedStack) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    try:
        store = AggregateStore(client[f"console_desk_{uuid.uuid4().hex[:8]}"]["audit"])
        await MongoAuditLog(store).ensure_indexes()
        desk = MongoReviewDesk(store)
        now = datetime.now(UTC)
        results = await asyncio.gather(
            *(
                desk.take("item-1", actor=Actor(name, "operator"), expected_seq=0, client=None, now=now)
                for name in ("olga", "bob", "carl")
            )
        )
        assert sorted(r.taken for r in results) == [False, False, True]
        [winner] = [r.holder for r in results if r.taken]
        assert winner is not None
        assert all(r.holder == winner for r in results)  # the losers are told who won
        assert [t.username for t in await desk.takes("item-1")] == [winner.username]

        over = await desk.take(
            "item-1", actor=Actor("dora", "admin"), expected_seq=1, client="10.0.0.1", now=now
        )
        assert over.taken
        assert over.holder is not None
        assert (over.holder.seq, over.holder.username, over.holder.took_over_from) == (
            2,
            "dora",
            winner.username,
        )
        assert (await desk.holders(["item-1", "item-2"])) == {"item-1": over.holder}
        [latest, *_] = await MongoAuditLog(store).recent(10)
        assert (latest["action"], latest["target"], latest["actor"]) == (
            "review_taken",
            "item-1",
            {"username": "dora", "role": "admin"},
        )
    finally:
        await client.close()


async def test_the_review_pages_need_a_login_and_roles(harness: ConsoleHarness, vic: Browser) -> None:
    anonymous = Browser(harness)
    try:
        assert (await anonymous.page("/review")).headers["location"] == "/login?next=/review"
        assert (await anonymous.page("/library")).status_code == 303
    finally:
        await anonymous.close()
    assert (await vic.page("/library/new")).status_code == 403
    token = CSRF.search((await vic.page("/library")).text)
    assert token
    denied = await vic.post("/review/take/whatever", {"csrf_token": token.group(1), "expected_seq": "0"})
    assert denied.status_code == 403
