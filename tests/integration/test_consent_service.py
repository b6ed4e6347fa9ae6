"""The biometric consent service as a real process on the embedded broker and store (DS-14.2, PI-14/15/31).

One service process serves the whole module (its own topic prefix and database); the restart
test, last in the module, replaces it. Everything is observed on the output topics or in the
service's own store, by polling with deadlines.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
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
from services.biometric_consent.domain.history import verify_proof

pytestmark = pytest.mark.integration

PROVIDER = "provider-test"
MODULE = "services.biometric_consent"
GRANT = "dsgov.consent.grant-submitted"
WITHDRAWAL = "dsgov.consent.withdrawal-submitted"
ARTIFACT = "0123456789abcdef" * 4


class ConsentHarness(ServiceHarness):
    """One consent service process in its own topic namespace and database."""

    def __init__(self, stack: EmbeddedStack, tmp: Path) -> None:
        env = {"DSGOV_CONSENT_EXPIRY_INTERVAL_S": "1"}
        super().__init__(stack, tmp, MODULE, database="consent", env=env, provider_id=PROVIDER)
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)

    def restart(self) -> ServiceProcess:
        """A new process on the same namespace and database."""
        self.service.stop()
        return self.restart_with()

    async def doc(self, key: str) -> dict[str, Any] | None:
        result: dict[str, Any] | None = await self.mongo[self.database]["consents"].find_one({"_id": key})
        return result


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ConsentHarness]:
    h = ConsentHarness(stack, tmp_path_factory.mktemp("consent"))
    await h.provision()
    h.service.start()
    yield h
    h.service.stop()
    await h.mongo.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(harness: ConsentHarness) -> AsyncIterator[Recorder]:
    rec = harness.recorder("dsgov.consent", "dsgov.deadletter")
    await rec.start()
    yield rec
    await rec.stop()


# --- helpers --------------------------------------------------------------------------------


async def send(producer: AIOKafkaProducer, h: ConsentHarness, topic: str, event: dict[str, Any]) -> None:
    await producer.send_and_wait(h.topic(topic), to_bytes(event), key=event["subject"].encode())


async def identity(
    producer: AIOKafkaProducer,
    h: ConsentHarness,
    *users: str,
    age_group: str = "adult",
    verified: bool = True,
) -> None:
    """Publish identity decisions (as the identity service would) and wait until projected."""
    kind = "verified" if verified else "rejected"
    for user in users:
        data = {"user_id": user, "method": "id_card", "age_group": age_group if verified else "unknown"}
        data["decided_at"] = datetime.now(UTC).isoformat()
        event = cloud_event(
            f"dsgov.identity.{kind}", data, subject=user, source="dsgov/identity-verification"
        )
        await send(producer, h, "dsgov.identity", event)
    for user in users:

        async def projected(user: str = user) -> bool:
            doc = await h.doc(f"user:{PROVIDER}/{user}")
            return bool(doc and doc["state"]["identity_status"] == kind)

        assert await eventually(projected), f"identity of {user} not projected"


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30) -> Any:
    """Poll `check` until it returns something truthy (returned) or the deadline passes (None)."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result or None
        await asyncio.sleep(0.05)


def grant_data(consent_id: str, subject: str, grantee: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "consent_id": consent_id,
        "subject_id": subject,
        "grantee_user_id": grantee,
        "biometric_types": ["face"],
        "purpose": "face swap into a birthday video",
        "service_types": ["face_swap"],
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "evidence": {
            "method": "in_app_confirmation",
            "notice_version": "notice-2026-11",
            "artifact_sha256": ARTIFACT,
            "captured_at": datetime.now(UTC).isoformat(),
        },
    }
    evidence = changes.pop("evidence", {})
    data["evidence"].update(evidence)
    data.update(changes)
    return data


def grant(consent_id: str, subject: str, grantee: str, **changes: Any) -> dict[str, Any]:
    return cloud_event(GRANT, grant_data(consent_id, subject, grantee, **changes), subject=consent_id)


def platform_withdrawal(consent_id: str, subject: str, reason: str | None = None) -> dict[str, Any]:
    data = {"consent_id": consent_id, "subject_id": subject, **({"reason": reason} if reason else {})}
    return cloud_event(WITHDRAWAL, data, subject=consent_id)


def console_withdrawal(
    consent_id: str, subject: str, username: str, role: str = "operator"
) -> dict[str, Any]:
    data = {
        "consent_id": consent_id,
        "subject_id": subject,
        "reason": "the subject asked by phone (ticket 4711)",
        "actor": {"username": username, "role": role},
    }
    return cloud_event(WITHDRAWAL, data, subject=consent_id, source="dsgov/console")


def decisions(recorder: Recorder, consent_id: str) -> list[dict[str, Any]]:
    return [r.json() for r in recorder.matching(lambda r: r.topic == "dsgov.consent" and r.key == consent_id)]


async def decided(
    recorder: Recorder, consent_id: str, count: int = 1, timeout: float = 30
) -> list[dict[str, Any]]:
    await recorder.wait_for(
        lambda r: r.topic == "dsgov.consent" and r.key == consent_id, count=count, timeout=timeout
    )
    return decisions(recorder, consent_id)


async def caused_by(recorder: Recorder, event: dict[str, Any]) -> dict[str, Any]:
    """The one decision caused by `event` (waits for it)."""
    [seen] = await recorder.wait_for(
        lambda r: r.topic == "dsgov.consent" and r.json().get("causationid") == event["id"]
    )
    return seen.json()


async def history(h: ConsentHarness, consent_id: str) -> list[dict[str, Any]]:
    doc = await h.doc(f"consent:{PROVIDER}/{consent_id}")
    assert doc is not None
    entries: list[dict[str, Any]] = doc["state"]["history"]
    return entries


async def run_cli(h: ConsentHarness, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    env = {"DSGOV_MONGO_URI": h.stack.mongo_uri, "DSGOV_MONGO_DATABASE": h.database, "PATH": "/usr/bin:/bin"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        MODULE,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout=30)
    return proc.returncode or 0, out.decode(), err.decode()


# --- tests ----------------------------------------------------------------------------------


async def test_a_verified_subject_consents_and_the_proof_of_it_can_be_exported(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    subject, grantee, consent = unique("subject"), unique("grantee"), unique("consent")
    await identity(producer, harness, subject, grantee)
    sent = grant(consent, subject, grantee)
    await send(producer, harness, "dsgov.platform.consent", sent)

    [event] = await decided(recorder, consent)

    assert event["type"] == "dsgov.consent.granted"
    assert event["subject"] == consent
    assert event["causationid"] == sent["id"]
    assert event["correlationid"] == sent["id"]
    assert event["source"] == "dsgov/biometric-consent"
    data = event["data"]
    assert (data["consent_id"], data["subject_id"], data["grantee_user_id"]) == (consent, subject, grantee)
    assert data["biometric_types"] == ["face"]
    assert data["service_types"] == ["face_swap"]
    assert datetime.fromisoformat(data["expires_at"]) == datetime.fromisoformat(sent["data"]["expires_at"])
    assert data["reasons"] == []
    assert data["actor"] == "subject"
    assert data["purpose"] == sent["data"]["purpose"]
    assert data["evidence"]["artifact_sha256"] == ARTIFACT
    assert data["evidence"]["notice_version"] == "notice-2026-11"

    code, out, err = await run_cli(harness, "proof", consent, "--provider", PROVIDER)
    assert code == 0, err
    proof = json.loads(out)
    assert verify_proof(proof) == []
    assert proof["status"] == "granted"
    [entry] = proof["entries"]
    assert entry["event"] == "granted"
    assert entry["details"]["identities"][subject] == {"known": True, "verified": True, "age_group": "adult"}

    code, out, _ = await run_cli(
        harness, "verify", "-", stdin=out.replace('"granted"', '"rejected"').encode()
    )
    assert code == 1  # tampered: the CLI verifier finds it
    code, _, err = await run_cli(harness, "proof", unique("unknown"), "--provider", PROVIDER)
    assert code == 1
    assert "no consent" in err


async def test_every_rejection_reason_is_published_with_its_article(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    adult, grantee, child, teen, parent, refused, mobile = (
        unique(x) for x in ("adult", "grantee", "child", "teen", "parent", "refused", "mobile")
    )
    await identity(producer, harness, adult, grantee, parent)
    await identity(producer, harness, child, age_group="under_14")
    await identity(producer, harness, mobile, age_group="unknown")
    await identity(producer, harness, teen, age_group="14_to_17")
    await identity(producer, harness, refused, verified=False)
    now = datetime.now(UTC)
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "subject_unverified": (grant_data("", unique("nobody"), grantee), "DS-14.2"),
        "subject_rejected": (grant_data("", refused, grantee), "DS-14.2"),
        "grantee_unverified": (grant_data("", adult, unique("nobody")), "DS-9"),
        "guardian_missing": (grant_data("", child, grantee), "PI-31"),
        "guardian_unverified": (grant_data("", child, grantee, guardian_user_id=unique("nobody")), "PI-31"),
        "guardian_not_adult": (grant_data("", child, grantee, guardian_user_id=teen), "PI-31"),
        # issue 14 correction 1: a subject of unknown age may be under 14
        "guardian_missing_age_unknown": (grant_data("", mobile, grantee), "PI-31"),
        "biometric_types_missing": (grant_data("", adult, grantee, biometric_types=[]), "DS-14.2"),
        "expiry_not_in_future": (
            grant_data("", adult, grantee, expires_at=(now - timedelta(minutes=1)).isoformat()),
            "PI-14",
        ),
        "expiry_too_far": (
            grant_data("", adult, grantee, expires_at=(now + timedelta(days=400)).isoformat()),
            "PI-19",
        ),
        "notice_version_missing": (
            grant_data("", adult, grantee, evidence={"notice_version": None}),
            "PI-30",
        ),
        "evidence_artifact_missing": (
            grant_data("", adult, grantee, evidence={"artifact_sha256": None}),
            "PI-29",
        ),
        "evidence_artifact_invalid": (
            grant_data("", adult, grantee, evidence={"artifact_sha256": "not-a-hash"}),
            "PI-29",
        ),
        "evidence_captured_in_future": (
            grant_data("", adult, grantee, evidence={"captured_at": (now + timedelta(hours=1)).isoformat()}),
            "PI-14",
        ),
    }
    ids = {}
    for label, (data, _) in cases.items():
        ids[label] = data["consent_id"] = unique(label)
        await send(producer, harness, "dsgov.platform.consent", cloud_event(GRANT, data, subject=ids[label]))
    # and two that pass: a child with a verified adult guardian, an unverified subject's signed form
    # (which proves no age: the platform declares the subject adult with evidence, PI-31)
    with_guardian, signed = unique("with-guardian"), unique("signed-form")
    await send(
        producer,
        harness,
        "dsgov.platform.consent",
        grant(with_guardian, child, grantee, guardian_user_id=parent),
    )
    declaration = {"method": "signed_form", "artifact_sha256": ARTIFACT}
    offline = grant(
        signed,
        unique("offline"),
        grantee,
        evidence={"method": "signed_form"},
        subject_adult_declaration=declaration,
    )
    await send(producer, harness, "dsgov.platform.consent", offline)

    for label, (_, article) in cases.items():
        [event] = await decided(recorder, ids[label])
        code = "subject_unverified" if label == "subject_rejected" else label
        assert event["type"] == "dsgov.consent.rejected", (label, event["data"])
        assert event["data"]["reasons"] == [code], (label, event["data"]["reasons"])
        assert event["data"]["reason_details"][0]["article"] == article
        assert event["data"]["actor"] == "system"
    [guarded] = await decided(recorder, with_guardian)
    assert guarded["type"] == "dsgov.consent.granted"
    assert guarded["data"]["actor"] == "guardian"
    [by_form] = await decided(recorder, signed)
    assert by_form["type"] == "dsgov.consent.granted"


async def test_the_subject_withdraws_from_the_platform_and_nobody_else_can(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    subject, grantee, consent = unique("subject"), unique("grantee"), unique("consent")
    await identity(producer, harness, subject, grantee)
    await send(producer, harness, "dsgov.platform.consent", grant(consent, subject, grantee))
    await decided(recorder, consent)

    stranger = platform_withdrawal(consent, unique("mallory"))
    own = platform_withdrawal(consent, subject, reason="changed my mind")
    await send(producer, harness, "dsgov.platform.consent", stranger)
    await send(producer, harness, "dsgov.platform.consent", own)

    withdrawn = await caused_by(recorder, own)
    assert withdrawn["type"] == "dsgov.consent.withdrawn"
    assert withdrawn["data"]["actor"] == "subject"
    assert withdrawn["data"]["reasons"] == ["consent_withdrawn"]
    assert [e["type"] for e in decisions(recorder, consent)] == [
        "dsgov.consent.granted",
        "dsgov.consent.withdrawn",
    ]
    entries = await history(harness, consent)
    assert [e["event"] for e in entries] == ["granted", "withdrawal_refused", "withdrawn"]
    assert entries[1]["reasons"] == ["withdrawal_not_by_subject"]
    assert entries[2]["details"]["reason_text"] == "changed my mind"


async def test_an_operator_withdraws_from_the_console_and_withdrawing_again_says_nothing_new(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    subject, grantee, consent = unique("subject"), unique("grantee"), unique("consent")
    await identity(producer, harness, subject, grantee)
    await send(producer, harness, "dsgov.platform.consent", grant(consent, subject, grantee))
    await decided(recorder, consent)

    viewer = console_withdrawal(consent, subject, "peeker", role="viewer")
    command = console_withdrawal(consent, subject, "ops-li")
    await send(producer, harness, "dsgov.console.commands", viewer)
    await send(producer, harness, "dsgov.console.commands", command)
    withdrawn = await caused_by(recorder, command)
    assert withdrawn["type"] == "dsgov.consent.withdrawn"
    assert withdrawn["data"]["actor"] == "console:ops-li"

    await send(producer, harness, "dsgov.platform.consent", platform_withdrawal(consent, subject))
    await send(producer, harness, "dsgov.console.commands", console_withdrawal(consent, subject, "ops-wang"))
    marker = grant(consent, subject, grantee, biometric_types=["voice"])  # same key: decided after them
    await send(producer, harness, "dsgov.platform.consent", marker)
    reused = await caused_by(recorder, marker)

    assert reused["type"] == "dsgov.consent.rejected"
    assert reused["data"]["reasons"] == ["consent_id_reused"]
    assert [e["type"] for e in decisions(recorder, consent)] == [
        "dsgov.consent.granted",
        "dsgov.consent.withdrawn",
        "dsgov.consent.rejected",
    ]
    entries = await history(harness, consent)
    assert [e["event"] for e in entries] == ["granted", "withdrawal_refused", "withdrawn", "rejected"]
    assert entries[1]["reasons"] == ["withdrawal_actor_not_permitted"]
    assert entries[2]["actor"] == "console:ops-li"
    assert entries[2]["details"]["reason_text"] == "the subject asked by phone (ticket 4711)"
    doc = await harness.doc(f"consent:{PROVIDER}/{consent}")
    assert doc is not None
    assert doc["state"]["status"] == "withdrawn"


async def test_duplicate_events_give_one_decision(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    subject, grantee, consent = unique("subject"), unique("grantee"), unique("consent")
    await identity(producer, harness, subject, grantee)
    event = grant(consent, subject, grantee)
    await send(producer, harness, "dsgov.platform.consent", event)
    await send(producer, harness, "dsgov.platform.consent", event)
    await decided(recorder, consent)
    await send(producer, harness, "dsgov.platform.consent", event)  # redelivered in a later batch
    resent = dict(event, id=str(uuid.uuid4()))  # the platform re-sends the same grant under a new id
    await send(producer, harness, "dsgov.platform.consent", resent)
    marker = grant(consent, subject, grantee, purpose="something else")
    await send(producer, harness, "dsgov.platform.consent", marker)
    await caused_by(recorder, marker)

    assert [(e["type"], e["causationid"]) for e in decisions(recorder, consent)] == [
        ("dsgov.consent.granted", event["id"]),
        ("dsgov.consent.rejected", marker["id"]),
    ]


async def test_a_withdrawal_that_overtakes_its_grant_is_remembered(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    subject, grantee, consent = unique("subject"), unique("grantee"), unique("consent")
    await identity(producer, harness, subject, grantee)
    early = platform_withdrawal(consent, subject)
    await send(producer, harness, "dsgov.platform.consent", early)
    # the withdrawal publishes nothing; wait until the service has recorded it
    assert await eventually(lambda: harness.doc(f"consent:{PROVIDER}/{consent}")), "withdrawal not recorded"
    await send(producer, harness, "dsgov.platform.consent", grant(consent, subject, grantee))

    [event] = await decided(recorder, consent)
    assert event["type"] == "dsgov.consent.rejected"
    assert event["data"]["reasons"] == ["consent_withdrawn_before_grant"]
    assert event["data"]["reason_details"][0]["article"] == "PI-15"
    assert [e["event"] for e in await history(harness, consent)] == ["withdrawal_before_grant", "rejected"]


async def test_a_grant_that_overtakes_the_identity_decision_is_rejected_and_can_be_resubmitted(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    subject, grantee, consent = unique("subject"), unique("grantee"), unique("consent")
    await identity(producer, harness, grantee)
    first = grant(consent, subject, grantee)
    await send(producer, harness, "dsgov.platform.consent", first)
    rejected = await caused_by(recorder, first)
    assert rejected["type"] == "dsgov.consent.rejected"
    assert rejected["data"]["reasons"] == ["subject_unverified"]

    await identity(producer, harness, subject)  # identity.verified arrives late
    again = dict(first, id=str(uuid.uuid4()))  # the platform submits the same grant again
    await send(producer, harness, "dsgov.platform.consent", again)
    granted = await caused_by(recorder, again)
    assert granted["type"] == "dsgov.consent.granted"
    assert [e["event"] for e in await history(harness, consent)] == ["rejected", "granted"]


async def test_a_malformed_grant_is_dead_lettered_and_the_next_one_is_decided(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    subject, grantee, consent = unique("subject"), unique("grantee"), unique("consent")
    await identity(producer, harness, subject, grantee)
    bad = grant(consent, subject, grantee, biometric_types=["fingerprint"])
    await send(producer, harness, "dsgov.platform.consent", bad)
    good = grant(consent, subject, grantee)
    await send(producer, harness, "dsgov.platform.consent", good)

    [dead] = await recorder.wait_for(
        lambda r: r.topic == "dsgov.deadletter" and r.json()["data"].get("key") == consent
    )
    assert dead.json()["data"]["error_code"] == "schema_violation"
    assert dead.json()["data"]["service"] == "biometric_consent"
    assert (await caused_by(recorder, good))["type"] == "dsgov.consent.granted"


async def test_expiry_is_published_after_a_restart(
    harness: ConsentHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    """Last in the module: it replaces the service process."""
    subject, grantee = unique("subject"), unique("grantee")
    expiring, withdrawn = unique("expiring"), unique("withdrawn")
    await identity(producer, harness, subject, grantee)
    expires_at = datetime.now(UTC) + timedelta(seconds=8)
    await send(
        producer,
        harness,
        "dsgov.platform.consent",
        grant(expiring, subject, grantee, expires_at=expires_at.isoformat()),
    )
    # expires earlier, but is withdrawn first: it must never expire
    earlier = (expires_at - timedelta(seconds=1)).isoformat()
    await send(
        producer, harness, "dsgov.platform.consent", grant(withdrawn, subject, grantee, expires_at=earlier)
    )
    await decided(recorder, expiring)
    await send(producer, harness, "dsgov.platform.consent", platform_withdrawal(withdrawn, subject))
    await decided(recorder, withdrawn, count=2)

    harness.service.stop()
    assert datetime.now(UTC) < expires_at, "too slow: the consent expired before the service stopped"
    # waiting for the wall clock to pass expires_at (not a synchronisation with the service)
    await asyncio.sleep((expires_at + timedelta(milliseconds=500) - datetime.now(UTC)).total_seconds())
    assert [e["type"] for e in decisions(recorder, expiring)] == ["dsgov.consent.granted"]

    harness.restart().start()
    expired = await recorder.wait_for(
        lambda r: r.key == expiring and r.json()["type"] == "dsgov.consent.expired", timeout=60
    )
    event = expired[0].json()
    assert event["data"]["actor"] == "system"
    assert event["data"]["reasons"] == ["consent_expired"]
    assert datetime.fromisoformat(event["data"]["occurred_at"]) == expires_at.replace(
        microsecond=expires_at.microsecond // 1000 * 1000
    )
    granted = decisions(recorder, expiring)[0]
    assert event["correlationid"] == granted["correlationid"]
    assert [e["type"] for e in decisions(recorder, withdrawn)] == [
        "dsgov.consent.granted",
        "dsgov.consent.withdrawn",
    ]
    doc = await harness.doc(f"consent:{PROVIDER}/{expiring}")
    assert doc is not None
    assert doc["state"]["status"] == "expired"
    assert f"expire:{expiring}" in doc["processed"]
