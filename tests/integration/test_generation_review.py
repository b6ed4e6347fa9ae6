"""The generation review service as a real process on the embedded broker and store.

DS-9, DS-10.1-10.3, DS-11, DS-14.2, DS-17. One service process serves the module (its own topic
prefix and database). The test plays the other services: it publishes identity decisions,
consent events and recorded rumours as they would, and console commands as the console would.
Everything is observed on `dsgov.review` / `dsgov.deadletter` or in the service's own store,
by polling with deadlines.
"""

from __future__ import annotations

import asyncio
import base64
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack, ServiceProcess
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder

pytestmark = pytest.mark.integration

PROVIDER = "provider-test"
MODULE = "services.generation_review"
REQUESTED = "dsgov.generation.requested"
COMPLETED = "dsgov.generation.completed"
SHA = "ab" * 32


class ReviewHarness(ServiceHarness):
    """One review service process in its own topic namespace and database."""

    def __init__(
        self, stack: EmbeddedStack, tmp: Path, provider_id: str = PROVIDER, demo_library: bool = True
    ) -> None:
        env = {
            "DSGOV_REVIEW_REFRESH_INTERVAL_S": "0.2",
            "DSGOV_REVIEW_DEMO_LIBRARY": str(demo_library).lower(),
        }
        super().__init__(stack, tmp, MODULE, database="review", env=env, provider_id=provider_id)
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)

    async def doc(self, key: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.mongo[self.database]["reviews"].find_one({"_id": key})
        return result


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ReviewHarness]:
    h = ReviewHarness(stack, tmp_path_factory.mktemp("review"))
    await h.provision()
    h.service.start()
    yield h
    h.service.stop()
    await h.mongo.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(harness: ReviewHarness) -> AsyncIterator[Recorder]:
    rec = Recorder(
        harness.stack.bootstrap,
        [harness.topic("dsgov.review"), harness.topic("dsgov.deadletter")],
        strip_prefix=harness.prefix,
    )
    await rec.start()
    yield rec
    await rec.stop()


# --- helpers --------------------------------------------------------------------------------


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    """Poll `check` until it returns something truthy (returned) or the deadline passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result or None
        await asyncio.sleep(0.05)


class World:
    """Publishes what the platform, the other services and the console would."""

    def __init__(self, h: ReviewHarness, producer: AIOKafkaProducer, recorder: Recorder) -> None:
        self.h, self.producer, self.recorder = h, producer, recorder

    async def send(self, topic: str, event: dict[str, Any] | bytes, key: str | None = None) -> None:
        value = event if isinstance(event, bytes) else to_bytes(event)
        subject = key if key is not None else event["subject"]  # type: ignore[index]
        await self.producer.send_and_wait(self.h.topic(topic), value, key=subject.encode())

    async def verified(self, *users: str, outcome: str = "verified") -> None:
        for user in users:
            data = {"user_id": user, "method": "mobile", "decided_at": datetime.now(UTC).isoformat()}
            event = cloud_event(
                f"dsgov.identity.{outcome}", data, subject=user, source="dsgov/identity-verification"
            )
            await self.send("dsgov.identity", event)
        for user in users:

            async def projected(user: str = user) -> bool:
                doc = await self.h.doc(f"user:{PROVIDER}/{user}")
                return bool(doc and (doc["state"].get("identity") or {}).get("status") == outcome)

            assert await eventually(projected), f"identity of {user} not projected"

    async def consent(
        self,
        kind: str,
        consent_id: str,
        subject: str,
        grantee: str,
        *,
        types: list[str] | None = None,
        service_types: list[str] | None = None,
        expires_in: timedelta = timedelta(days=30),
    ) -> None:
        data: dict[str, Any] = {
            "consent_id": consent_id,
            "subject_id": subject,
            "grantee_user_id": grantee,
            "biometric_types": types or ["face"],
            "expires_at": (datetime.now(UTC) + expires_in).isoformat(),
        }
        if service_types is not None:
            data["service_types"] = service_types
        event = cloud_event(
            f"dsgov.consent.{kind}", data, subject=consent_id, source="dsgov/biometric-consent"
        )
        await self.send("dsgov.consent", event)

        async def projected() -> bool:
            doc = await self.h.doc(f"consent:{PROVIDER}/{consent_id}")
            return bool(doc and doc["state"].get("status") == kind)

        assert await eventually(projected), f"consent {consent_id} not {kind}"

    async def request(
        self,
        request_id: str,
        user: str,
        service_type: str = "text_dialogue",
        *,
        text: str | None = "write a poem about the sea",
        media: list[dict[str, Any]] | None = None,
        subjects: list[str] | None = None,
        event_id: str | None = None,
        model: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "request_id": request_id,
            "user_id": user,
            "service_type": service_type,
            "input": {"text": text, "media": media or []},
            "biometric_subjects": subjects or [],
        }
        if model is not None:
            data["model"] = model
        event = cloud_event(REQUESTED, data, subject=request_id, event_id=event_id)
        await self.send("dsgov.platform.generation", event)
        return event

    async def completed(
        self,
        request_id: str,
        content_id: str,
        text: str | None = "a poem",
        media: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        output = {"text": text, "media": media or [{"media_id": "m-1", "kind": "image", "sha256": SHA}]}
        data = {"request_id": request_id, "content_id": content_id, "output": output}
        event = cloud_event(COMPLETED, data, subject=request_id)
        await self.send("dsgov.platform.generation", event)
        return event

    async def command(self, type_: str, data: dict[str, Any], subject: str) -> dict[str, Any]:
        event = cloud_event(type_, data, subject=subject, source="dsgov/console")
        await self.send("dsgov.console.commands", event)
        return event

    async def caused_by(
        self, event: dict[str, Any], type_: str | None = None, timeout: float = 30
    ) -> dict[str, Any]:
        """The one review event of `type_` caused by `event` (waits for it)."""

        def pred(r: Any) -> bool:
            e = r.json()
            return bool(e.get("causationid") == event["id"] and (type_ is None or e["type"] == type_))

        [seen] = await self.recorder.wait_for(pred, timeout=timeout)
        return seen.json()

    async def of_type(self, type_: str, subject: str, count: int = 1) -> list[dict[str, Any]]:
        found = await self.recorder.wait_for(
            lambda r: r.topic == "dsgov.review" and r.key == subject and r.json()["type"] == type_,
            count=count,
        )
        return [r.json() for r in found]

    async def processed(self, request_id: str, event_id: str) -> bool:
        """Wait until the service recorded `event_id` as handled for the request (a precise barrier)."""

        async def seen() -> bool:
            doc = await self.h.doc(f"request:{PROVIDER}/{request_id}")
            return bool(doc and event_id in doc["processed"])

        return bool(await eventually(seen))

    def review_events(self, subject: str) -> list[dict[str, Any]]:
        return [
            r.json() for r in self.recorder.matching(lambda r: r.topic == "dsgov.review" and r.key == subject)
        ]


@pytest_asyncio.fixture(loop_scope="session")
async def world(harness: ReviewHarness, producer: AIOKafkaProducer, recorder: Recorder) -> World:
    return World(harness, producer, recorder)


def codes(event: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["code"], r["article"]) for r in event["data"]["reasons"]]


# --- golden path ------------------------------------------------------------------------------


async def test_a_face_swap_with_consent_is_approved_labelled_and_its_output_carries_its_hashes(
    world: World, harness: ReviewHarness
) -> None:
    user, subject, consent, rid = unique("user"), unique("subject"), unique("consent"), unique("req")
    await world.verified(user)
    await world.consent("granted", consent, subject, user, service_types=["face_swap"])
    media = [{"media_id": "in-1", "kind": "image", "sha256": SHA, "phash": "0123456789abcdef"}]
    model = {"id": "demo-faceswap", "version": "3.1.0"}
    sent = await world.request(
        rid, user, "face_swap", text="swap my friend's face", media=media, subjects=[subject], model=model
    )

    approved = await world.caused_by(sent)
    assert approved["type"] == "dsgov.generation.approved"
    assert approved["subject"] == rid
    assert approved["correlationid"] == sent["id"]
    data = approved["data"]
    assert data["label_required"] is True  # DS-17.1 item 3
    assert data["reasons"] == []
    assert data["library_version"] >= 7  # the demo library is loaded
    assert data["rule_set_version"].startswith("generation-review-rules/1+")
    assert data["model"] == model  # DS-10.1, DS-15.1

    done = await world.completed(rid, unique("content"), text="here is the video")
    out = await world.caused_by(done)
    assert out["type"] == "dsgov.output.approved"
    assert out["data"]["output"]["media"][0]["sha256"] == SHA
    assert out["data"]["output"]["text"] == "here is the video"
    assert out["data"]["content_id"] == done["data"]["content_id"]

    doc = await harness.doc(f"request:{PROVIDER}/{rid}")
    assert doc is not None
    [first, second] = doc["state"]["decisions"]
    assert first["outcome"] == "approved"
    assert first["consents"] == [consent]
    assert first["model"] == model  # the decision record names the model (DS-10.1)
    assert len(first["checked"]["text_sha256"]) == 64
    assert first["checked"]["media"][0]["sha256"] == SHA
    assert second["stage"] == "output"
    assert "swap my friend" not in str(doc)  # the record keeps hashes, not the prompt


# --- input rejections ----------------------------------------------------------------------------


async def test_every_input_gate_rejects_with_its_reason_and_article(world: World) -> None:
    verified, nobody, subject = unique("user"), unique("nobody"), unique("subject")
    await world.verified(verified)
    await world.consent("granted", unique("c"), subject, verified, types=["voice"])
    withdrawn_subject, expired_subject = unique("subject-w"), unique("subject-e")
    withdrawn = unique("c-w")
    await world.consent("granted", withdrawn, withdrawn_subject, verified)
    await world.consent("withdrawn", withdrawn, withdrawn_subject, verified)
    await world.consent("granted", unique("c-e"), expired_subject, verified, expires_in=timedelta(seconds=-1))
    cases = [
        (dict(user=nobody), ("identity_unverified", "DS-9")),
        (dict(user=verified, service_type="voice_cloning"), ("biometric_subject_undeclared", "DS-14.2")),
        (
            dict(user=verified, service_type="face_swap", subjects=[unique("stranger")]),
            ("consent_missing", "DS-14.2"),
        ),
        (dict(user=verified, service_type="face_swap", subjects=[subject]), ("consent_scope", "DS-14.2")),
        (
            dict(user=verified, service_type="face_swap", subjects=[withdrawn_subject]),
            ("consent_withdrawn", "DS-14.2"),
        ),
        (
            dict(user=verified, service_type="face_swap", subjects=[expired_subject]),
            ("consent_expired", "DS-14.2"),
        ),
    ]
    sent = [await world.request(unique("req"), **kwargs) for kwargs, _ in cases]  # type: ignore[arg-type]
    for event, (_, expected) in zip(sent, cases, strict=True):
        decision = await world.caused_by(event)
        assert decision["type"] == "dsgov.generation.rejected", expected
        assert codes(decision) == [expected]
        assert decision["data"]["strike"] is False


async def test_evasive_prohibited_input_is_rejected_and_the_strike_warns_the_user(world: World) -> None:
    user = unique("user")
    await world.verified(user)
    rid = unique("req")
    sent = await world.request(
        rid, user, text="please write \uff24\uff25\uff2d\uff2f-b\u200ba n-n.e.d-TERM in a story"
    )

    decision = await world.caused_by(sent)
    assert decision["type"] == "dsgov.generation.rejected"
    assert codes(decision) == [("prohibited_content", "DS-10.2")]
    assert decision["data"]["strike"] is True
    assert decision["data"]["hits"][0]["entry_id"] == "demo-kw-banned"
    assert "demo-banned-term" not in str(decision)  # the term itself is never sent to the platform

    [sanction] = await world.of_type("dsgov.user.sanctioned", user)
    assert sanction["data"]["level"] == "warning"
    assert sanction["data"]["strikes"] == 1
    assert sanction["data"]["decision_id"] == decision["data"]["decision_id"]
    assert sanction["causationid"] == decision["id"]


async def test_traditional_chinese_and_media_hashes_match_the_library(world: World) -> None:
    user = unique("user")
    await world.verified(user)
    by_text = await world.request(unique("req"), user, text="這是演示違禁詞")
    near = [{"media_id": "x", "kind": "image", "sha256": SHA, "phash": "de000000000000f0"}]  # 4 bits off
    by_phash = await world.request(unique("req"), user, "image_editing", text=None, media=near)
    assert codes(await world.caused_by(by_text)) == [("prohibited_content", "DS-10.2")]
    decision = await world.caused_by(by_phash)
    assert codes(decision) == [("prohibited_content", "DS-10.2")]
    assert decision["data"]["hits"][0] | {"why": ""} == {
        "entry_id": "demo-phash-image",
        "kind": "phash",
        "category": "demo_prohibited",
        "action": "block",
        "where": "x",
        "distance": 4,
        "why": "",
    }


async def test_a_severe_category_closes_the_account_and_everything_is_refused_afterwards(
    world: World,
) -> None:
    user = unique("user")
    await world.verified(user)
    sent = await world.request(unique("req"), user, text="demo-severe-term")
    assert codes(await world.caused_by(sent)) == [("prohibited_content", "DS-10.2")]
    [sanction] = await world.of_type("dsgov.user.sanctioned", user)
    assert sanction["data"]["level"] == "closed"
    assert "until" not in sanction["data"]
    assert sanction["data"]["category"] == "terrorism"

    async def refused() -> bool:
        later = await world.request(unique("req"), user, text="a harmless poem")
        return codes(await world.caused_by(later)) == [("user_sanctioned", "DS-10.3")]

    assert await eventually(refused, timeout=20)


async def test_a_request_before_the_identity_decision_is_rejected_and_a_resubmission_is_approved(
    world: World,
) -> None:
    user, rid = unique("late-user"), unique("req")
    first = await world.request(rid, user)
    assert codes(await world.caused_by(first)) == [("identity_unverified", "DS-9")]
    await world.verified(user)
    again = await world.request(rid, user)  # same request id, new event id
    assert (await world.caused_by(again))["type"] == "dsgov.generation.approved"
    await world.request(rid, user, event_id=again["id"])  # redelivered: no second effect
    third = await world.request(rid, user)  # approved already: nothing new is decided
    assert await world.processed(rid, third["id"])  # handled, and the duplicate before it
    marker = await world.completed(rid, unique("content"))  # published after anything those two caused
    assert (await world.caused_by(marker))["type"] == "dsgov.output.approved"
    causes = [e["causationid"] for e in world.review_events(rid)]
    assert sorted(causes) == sorted([first["id"], again["id"], marker["id"]])  # nothing for the rest
    assert third["id"] not in causes


# --- known rumours -----------------------------------------------------------------------------


async def test_a_recorded_rumour_blocks_matching_inputs_and_outputs(world: World) -> None:
    user = unique("user")
    await world.verified(user)
    rumour_id = unique("rumour")
    claim = f"The moon landing of {rumour_id} was staged in a studio"
    media_sha = "cd" * 32
    data = {
        "rumour_id": rumour_id,
        "notice_id": unique("notice"),
        "claim_text": claim,
        "claim_media": [{"sha256": media_sha}],
        "fingerprints": ["00ff"],
    }
    await world.send(
        "dsgov.rumour",
        cloud_event("dsgov.rumour.recorded", data, subject=rumour_id, source="dsgov/rumour-refutation"),
    )

    async def input_blocked() -> dict[str, Any] | None:
        sent = await world.request(
            unique("req"),
            user,
            text=f"Tell everyone: THE MOON landing of {rumour_id} was, staged in a studio!",
        )
        decision = await world.caused_by(sent)
        return decision if decision["type"] == "dsgov.generation.rejected" else None

    decision = await eventually(input_blocked, timeout=20)
    assert decision is not None
    assert codes(decision) == [("known_rumour", "DS-11")]
    assert decision["data"]["rumour_ids"] == [rumour_id]

    rid = unique("req")
    assert (await world.caused_by(await world.request(rid, user)))["type"] == "dsgov.generation.approved"
    out = await world.caused_by(
        await world.completed(
            rid,
            unique("content"),
            text="fine",
            media=[{"media_id": "v", "kind": "video", "sha256": media_sha}],
        )
    )
    assert out["type"] == "dsgov.output.blocked"
    assert codes(out) == [("known_rumour", "DS-11")]


# --- output review and consent races --------------------------------------------------------------


async def test_an_output_without_an_approved_request_is_blocked(world: World) -> None:
    out = await world.caused_by(await world.completed(unique("never-requested"), unique("content")))
    assert out["type"] == "dsgov.output.blocked"
    assert codes(out) == [("no_approved_request", "DS-10.1")]


async def test_a_withdrawal_processed_before_the_output_blocks_it(world: World) -> None:
    user, subject, consent, rid = unique("user"), unique("subject"), unique("consent"), unique("req")
    await world.verified(user)
    await world.consent("granted", consent, subject, user)
    sent = await world.request(rid, user, "face_swap", subjects=[subject])
    assert (await world.caused_by(sent))["type"] == "dsgov.generation.approved"
    await world.consent("withdrawn", consent, subject, user)  # waits until projected

    out = await world.caused_by(await world.completed(rid, unique("content")))
    assert out["type"] == "dsgov.output.blocked"
    assert codes(out) == [("consent_withdrawn", "DS-14.2")]
    assert out["data"]["strike"] is False
    assert "output" not in out["data"]


async def test_an_output_approved_before_the_withdrawal_stays_approved(
    world: World, harness: ReviewHarness
) -> None:
    user, subject, consent, rid = unique("user"), unique("subject"), unique("consent"), unique("req")
    await world.verified(user)
    await world.consent("granted", consent, subject, user)
    assert (await world.caused_by(await world.request(rid, user, "face_swap", subjects=[subject])))[
        "type"
    ] == ("dsgov.generation.approved")
    out = await world.caused_by(await world.completed(rid, unique("content")))
    assert out["type"] == "dsgov.output.approved"
    await world.consent("withdrawn", consent, subject, user)
    # PI-15: processing before the withdrawal stays valid; a new output of the request is blocked.
    later = await world.caused_by(await world.completed(rid, unique("content")))
    assert later["type"] == "dsgov.output.blocked"
    assert [e["type"] for e in world.review_events(rid)].count("dsgov.output.approved") == 1


# --- human review queue -------------------------------------------------------------------------------


async def test_the_human_review_queue_round_trip_approve_and_reject(world: World) -> None:
    user = unique("user")
    await world.verified(user)
    approve_rid, reject_rid = unique("req"), unique("req")
    await world.request(approve_rid, user, text="a story with demo-review-term in it")
    await world.request(reject_rid, user, text="another demo-review-term story")
    [queued] = await world.of_type("dsgov.review.queued", approve_rid)
    [queued_2] = await world.of_type("dsgov.review.queued", reject_rid)
    q = queued["data"]
    assert (q["stage"], q["request_id"], q["user_id"], q["service_type"]) == (
        "input",
        approve_rid,
        user,
        "text_dialogue",
    )
    assert q["hits"][0]["entry_id"] == "demo-kw-review"
    assert q["hits"][0]["why"].startswith("demo:")
    assert q["text"] == "a story with demo-review-term in it"
    assert q["library_version"] >= 7
    assert not [e for e in world.review_events(approve_rid) if e["type"].startswith("dsgov.generation.")]

    viewer = {
        "item_id": q["item_id"],
        "request_id": approve_rid,
        "decision": "approve",
        "reason": "fine",
        "actor": {"username": "vic", "role": "viewer"},
    }
    await world.command("dsgov.review.decision-submitted", viewer, approve_rid)  # not permitted: no effect
    approve = {**viewer, "reason": "satire, allowed", "actor": {"username": "rita", "role": "operator"}}
    cmd = await world.command("dsgov.review.decision-submitted", approve, approve_rid)
    final = await world.caused_by(cmd, "dsgov.generation.approved")
    resolved = await world.caused_by(cmd, "dsgov.review.resolved")
    assert final["data"]["reviewer"] == {"username": "rita", "role": "operator"}
    assert final["data"]["label_required"] is True
    assert resolved["data"]["outcome_type"] == "dsgov.generation.approved"
    assert resolved["data"]["decision_id"] == final["data"]["decision_id"]
    assert resolved["data"]["item_id"] == q["item_id"]

    reject = {
        "item_id": queued_2["data"]["item_id"],
        "request_id": reject_rid,
        "decision": "reject",
        "reason": "prohibited",
        "actor": {"username": "rita", "role": "operator"},
    }
    cmd = await world.command("dsgov.review.decision-submitted", reject, reject_rid)
    rejected = await world.caused_by(cmd, "dsgov.generation.rejected")
    assert codes(rejected) == [("prohibited_content", "DS-10.2")]
    assert rejected["data"]["strike"] is True
    assert (await world.caused_by(cmd, "dsgov.review.resolved"))["data"]["decision"] == "reject"
    [sanction] = await world.of_type("dsgov.user.sanctioned", user)  # a reviewer's rejection is a strike
    assert sanction["data"]["level"] == "warning"
    # A second decision on a resolved item changes nothing.
    again = await world.command(
        "dsgov.review.decision-submitted", {**reject, "decision": "approve"}, reject_rid
    )
    assert await world.processed(reject_rid, again["id"])
    marker = await world.completed(reject_rid, unique("content"))  # published after anything `again` caused
    assert codes(await world.caused_by(marker)) == [("no_approved_request", "DS-10.1")]
    assert again["id"] not in {e["causationid"] for e in world.review_events(reject_rid)}


async def test_an_output_sent_to_review_is_approved_with_its_output(world: World) -> None:
    user, rid = unique("user"), unique("req")
    await world.verified(user)
    assert (await world.caused_by(await world.request(rid, user)))["type"] == "dsgov.generation.approved"
    content = unique("content")
    await world.completed(rid, content, text="generated demo-review-term text")
    [queued] = await world.of_type("dsgov.review.queued", rid)
    assert (queued["data"]["stage"], queued["data"]["content_id"]) == ("output", content)
    decision = {
        "item_id": queued["data"]["item_id"],
        "request_id": rid,
        "decision": "approve",
        "reason": "ok",
        "actor": {"username": "rita", "role": "admin"},
    }
    cmd = await world.command("dsgov.review.decision-submitted", decision, rid)
    out = await world.caused_by(cmd, "dsgov.output.approved")
    assert out["data"]["output"]["text"] == "generated demo-review-term text"
    assert out["data"]["content_id"] == content


# --- the feature library by command ------------------------------------------------------------------


async def test_a_library_entry_needs_a_second_person_and_then_matches(world: World) -> None:
    user = unique("user")
    await world.verified(user)
    term = f"forbidden-{uuid.uuid4().hex[:8]}"
    entry_id = unique("kw")
    propose = {
        "change": "propose",
        "entry_id": entry_id,
        "reason": "criterion 4.2: fraud scripts",
        "entry": {"kind": "keyword", "pattern": term, "category": "fraud", "action": "block"},
        "actor": {"username": "alice", "role": "operator"},
    }
    proposed = await world.caused_by(await world.command("dsgov.library.change-submitted", propose, entry_id))
    assert proposed["type"] == "dsgov.library.updated"
    assert proposed["data"]["applied"] is True
    assert proposed["data"]["entry"]["status"] == "proposed"
    version = proposed["data"]["library_version"]

    own = {**propose, "change": "approve", "entry": None, "reason": "looks right"}
    refused = await world.caused_by(await world.command("dsgov.library.change-submitted", own, entry_id))
    assert (refused["data"]["applied"], refused["data"]["refusal"]) == (False, "four_eyes")
    assert refused["data"]["library_version"] == version
    assert (await world.caused_by(await world.request(unique("req"), user, text=f"x {term} y")))["type"] == (
        "dsgov.generation.approved"
    )  # proposed entries match nothing

    other = {**own, "actor": {"username": "bob", "role": "admin"}}
    approved = await world.caused_by(await world.command("dsgov.library.change-submitted", other, entry_id))
    assert approved["data"]["applied"] is True
    assert approved["data"]["library_version"] == version + 1
    assert approved["data"]["entry"]["approved_by"] == "console:bob"

    async def blocked() -> dict[str, Any] | None:
        decision = await world.caused_by(await world.request(unique("req"), user, text=f"x {term.upper()} y"))
        return decision if decision["type"] == "dsgov.generation.rejected" else None

    decision = await eventually(blocked, timeout=20)
    assert decision is not None
    assert decision["data"]["library_version"] >= version + 1
    assert decision["data"]["hits"][0]["entry_id"] == entry_id
    assert decision["data"]["violation_category"] == "fraud"


async def test_the_cli_lists_the_demo_library_and_submits_changes_through_the_service(
    harness: ReviewHarness,
) -> None:
    env = {
        "DSGOV_MONGO_URI": harness.stack.mongo_uri,
        "DSGOV_MONGO_DATABASE": harness.database,
        "DSGOV_PROVIDER_ID": PROVIDER,
        "DSGOV_KAFKA_BOOTSTRAP": harness.stack.bootstrap,
        "DSGOV_TOPIC_PREFIX": harness.prefix,
        "PATH": "/usr/bin:/bin",
    }

    async def cli(*args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            MODULE,
            "library",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
        return proc.returncode or 0, out.decode()

    code, out = await cli("list", "--status", "active")
    assert code == 0, out
    assert "demo-kw-banned\tactive\tkeyword\tblock\tdemo_prohibited\tdemo-banned-term [demo]" in out
    entry_id = unique("cli")
    code, out = await cli(
        "propose",
        entry_id,
        "--kind",
        "regex",
        "--pattern",
        "(unclosed",
        "--category",
        "x",
        "--reason",
        "test",
        "--actor",
        "carol",
    )
    assert code == 1
    assert "refused (entry_invalid" in out
    code, out = await cli(
        "propose",
        entry_id,
        "--kind",
        "sha256",
        "--pattern",
        "ef" * 32,
        "--category",
        "x",
        "--reason",
        "test",
        "--actor",
        "carol",
    )
    assert code == 0, out
    assert f"propose {entry_id}: applied" in out


# --- bad input ---------------------------------------------------------------------------------------


async def test_bad_input_is_dead_lettered_with_its_original_bytes(world: World) -> None:
    not_json = b'{"specversion": "1.0", "id": '
    rid = unique("bad")
    wrong_type = cloud_event(
        REQUESTED,
        {"request_id": rid, "user_id": "u", "service_type": "mind_reading", "input": {}},
        subject=rid,
    )
    wrong_subject = cloud_event(
        REQUESTED,
        {"request_id": rid, "user_id": "u", "service_type": "other", "input": {}},
        subject="someone-else",
    )
    unknown = cloud_event("dsgov.generation.teleported", {"request_id": rid}, subject=rid)
    for value in (not_json, to_bytes(wrong_type), to_bytes(wrong_subject), to_bytes(unknown)):
        await world.send("dsgov.platform.generation", value, key=rid)
    letters = await world.recorder.wait_for(
        lambda r: (
            r.topic == "dsgov.deadletter"
            and r.key is not None
            and r.json()["data"]["original_topic"] == "dsgov.platform.generation"
            and r.json()["data"].get("key") == rid
        ),
        count=4,
    )
    by_code = {r.json()["data"]["error_code"]: r.json()["data"] for r in letters}
    assert set(by_code) == {"invalid_json", "schema_violation", "unknown_type"}
    assert base64.b64decode(by_code["invalid_json"]["payload"]) == not_json
    assert not world.review_events(rid)


# --- tenant safety: a provider without an approved library (issue 10 item 6; DS-10.2, GA-14.1) ----------


async def health(process: ServiceProcess) -> tuple[int, str]:
    """The status and body of /health/ready (0 while nothing answers)."""

    def get() -> tuple[int, str]:
        url = f"http://127.0.0.1:{process.health_port}/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return 0, ""

    return await asyncio.to_thread(get)


async def test_a_provider_without_an_approved_library_is_held_for_review_and_not_ready(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory, producer: AIOKafkaProducer
) -> None:
    empty = "provider-empty"
    h = ReviewHarness(stack, tmp_path_factory.mktemp("review-empty"), provider_id=empty, demo_library=False)
    await h.provision()
    rec = h.recorder("dsgov.review")
    await rec.start()
    h.service.start(wait_ready=False)
    try:

        async def not_ready() -> str | None:
            status, body = await health(h.service)
            return body if status == 503 and "feature library" in body else None

        body = await eventually(not_ready)
        assert body == (
            f"not ready: provider {empty} has no approved feature library "
            "(requests held for review: library_empty)"
        )
        world = World(h, producer, rec)
        user, rid = unique("user"), unique("req")
        verified = cloud_event(
            "dsgov.identity.verified",
            {"user_id": user, "method": "mobile", "decided_at": datetime.now(UTC).isoformat()},
            subject=user,
            source="dsgov/identity-verification",
            providerid=empty,
        )
        await world.send("dsgov.identity", verified)
        request = {
            "request_id": rid,
            "user_id": user,
            "service_type": "text_dialogue",
            "input": {"text": "hi"},
        }
        sent = cloud_event(REQUESTED, request, subject=rid, providerid=empty)

        async def held() -> dict[str, Any] | None:  # the identity projection may still be on its way
            again = {**sent, "id": str(uuid.uuid4())}
            await world.send("dsgov.platform.generation", again)
            decision = await world.caused_by(again)
            return decision if decision["type"] == "dsgov.review.queued" else None

        queued = await eventually(held)
        assert queued is not None
        assert [(r["code"], r["article"]) for r in queued["data"]["reasons"]] == [
            ("library_empty", "DS-10.2")
        ]
        assert queued["data"]["hits"] == []
        assert not [e for e in world.review_events(rid) if e["type"] == "dsgov.generation.approved"]

        # Operators approve a first entry (four-eyes): the provider is served normally from then on.
        entry = {"kind": "keyword", "pattern": "first-real-term", "category": "fraud", "action": "block"}
        for change, who in (("propose", "alice"), ("approve", "bob")):
            data = {
                "change": change,
                "entry_id": "kw-first",
                "reason": "criterion 1",
                "entry": entry if change == "propose" else None,
                "actor": {"username": who, "role": "admin"},
            }
            cmd = cloud_event(
                "dsgov.library.change-submitted",
                data,
                subject="kw-first",
                source="dsgov/console",
                providerid=empty,
            )
            await world.send("dsgov.console.commands", cmd)
            assert (await world.caused_by(cmd))["data"]["applied"] is True

        async def ready() -> bool:
            return (await health(h.service))[0] == 200

        assert await eventually(ready)
        approved = {**sent, "id": str(uuid.uuid4()), "data": {**request, "request_id": unique("req")}}
        approved["subject"] = approved["data"]["request_id"]
        await world.send("dsgov.platform.generation", approved)
        assert (await world.caused_by(approved))["type"] == "dsgov.generation.approved"
    finally:
        h.service.stop()
        await rec.stop()
        await h.mongo.close()


async def test_an_upheld_appeal_lifts_the_sanction_and_the_next_strike_starts_from_the_named_level(
    world: World,
) -> None:
    # DS-10.3 / DS-12: the complaints service resolves the appeal; this service lifts the sanction.
    user = unique("user")
    await world.verified(user)
    for _ in range(3):
        await world.caused_by(await world.request(unique("req"), user, text="a demo-banned-term story"))
    sanctions = await world.of_type("dsgov.user.sanctioned", user, count=3)
    assert [s["data"]["level"] for s in sanctions] == ["warning", "restricted", "suspended"]

    complaint_id = unique("appeal")
    now = datetime.now(UTC).isoformat()
    resolved = cloud_event(
        "dsgov.complaint.resolved",
        {
            "complaint_id": complaint_id,
            "kind": "appeal",
            "outcome": "upheld",
            "reasons": ["DS-10.3: the strikes were false positives"],
            "actions": [{"type": "lift_sanction", "user_id": user, "level_after": "warning"}],
            "resolver": {"username": "olga", "role": "operator"},
            "resolved_at": now,
            "due_at": now,
            "in_time": True,
        },
        subject=complaint_id,
        source="dsgov/complaints",
    )
    await world.send("dsgov.complaint", resolved, key=complaint_id)
    await world.send("dsgov.complaint", resolved, key=complaint_id)  # a redelivery lifts nothing twice
    [lifted] = await world.of_type("dsgov.user.sanction-lifted", user)
    assert lifted["data"] == {
        "user_id": user,
        "complaint_id": complaint_id,
        "level_before": "suspended",
        "level_after": "warning",
    }
    assert lifted["causationid"] == resolved["id"]

    after = await world.caused_by(await world.request(unique("req"), user, text="a demo-banned-term story"))
    assert codes(after) == [("prohibited_content", "DS-10.2")]  # no longer refused as suspended
    sanctions = await world.of_type("dsgov.user.sanctioned", user, count=4)
    assert sanctions[-1]["data"]["level"] == "restricted"  # warning was the restart level: one more rung
    assert len(world.review_events(user)) == 5  # four sanctions and one lifting, nothing doubled
