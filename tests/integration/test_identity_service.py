"""The identity verification service as a real process on the embedded broker and store (DS-9, NI-1..4)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import TEST_SECRET, EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder, Seen, start_producer
from shared.messaging.deadletter import decrypt_payload

pytestmark = pytest.mark.integration

ID_CARD = "11010519491231002X"  # GB 11643 vector, born 1949-12-31
SUBMITTED = "dsgov.identity.submitted"


class IdentityHarness(ServiceHarness):
    """One identity service process in its own topic namespace and database."""

    def __init__(self, stack: EmbeddedStack, tmp: Path, **extra_env: str) -> None:
        env = {
            "DSGOV_IDENTITY_HMAC_KEY": "hmac-key-for-tests-only-0123456789abcdef",
            "DSGOV_IDENTITY_AUTHORITY_MODE": "simulator",
            **extra_env,
        }
        super().__init__(stack, tmp, "services.identity_verification", database="identity", env=env)


def submission(user_id: str, **fields: Any) -> dict[str, Any]:
    return cloud_event(SUBMITTED, {"user_id": user_id, **fields}, subject=user_id)


def id_card(user_id: str, name: str = "张三", number: str = ID_CARD) -> dict[str, Any]:
    return submission(user_id, method="id_card", full_name=name, id_card_number=number)


async def send(
    producer: AIOKafkaProducer, h: IdentityHarness, event: dict[str, Any] | bytes, key: str
) -> None:
    value = event if isinstance(event, bytes) else to_bytes(event)
    await producer.send_and_wait(h.topic("dsgov.platform.identity"), value, key=key.encode())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[IdentityHarness]:
    h = IdentityHarness(stack, tmp_path_factory.mktemp("identity"))
    await h.provision()
    h.service.start()
    yield h
    h.service.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def recorder(harness: IdentityHarness) -> AsyncIterator[Recorder]:
    rec = harness.recorder("dsgov.identity", "dsgov.deadletter")
    await rec.start()
    yield rec
    await rec.stop()


def decisions_for(recorder: Recorder, user_id: str) -> list[dict[str, Any]]:
    return [r.json() for r in recorder.matching(lambda r: r.topic == "dsgov.identity" and r.key == user_id)]


async def decision(recorder: Recorder, user_id: str, count: int = 1) -> list[dict[str, Any]]:
    await recorder.wait_for(lambda r: r.topic == "dsgov.identity" and r.key == user_id, count=count)
    return decisions_for(recorder, user_id)


async def test_valid_id_card_is_verified_as_adult_without_any_plaintext_leaving_the_service(
    harness: IdentityHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    user = unique("golden")
    sent = id_card(user)
    await send(producer, harness, sent, user)

    [event] = await decision(recorder, user)

    assert event["type"] == "dsgov.identity.verified"
    assert event["subject"] == user
    assert event["causationid"] == sent["id"]
    assert event["correlationid"] == sent["id"]
    assert event["data"]["age_group"] == "adult"
    assert event["data"]["reasons"] == []
    assert event["data"]["masked_identifier"] == "110***********002X"
    raw = json.dumps(event, ensure_ascii=False)
    assert ID_CARD not in raw
    assert "张三" not in raw

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(harness.stack.mongo_uri, tz_aware=True)
    try:
        doc = await client[harness.database]["verifications"].find_one({"_id": f"provider-test/{user}"})
    finally:
        await client.close()
    assert doc is not None
    assert doc["state"]["status"] == "verified"
    assert len(doc["state"]["identifier_hmac"]) == 64
    stored = json.dumps(doc, default=str, ensure_ascii=False)
    assert ID_CARD not in stored
    assert "张三" not in stored


def _otp(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


REJECTIONS: list[tuple[str, dict[str, Any], str]] = [
    ("mobile-missing", {"method": "mobile", "mobile_otp_verified_at": _otp(1)}, "mobile_missing"),
    (
        "mobile-bad",
        {"method": "mobile", "mobile": "12345", "mobile_otp_verified_at": _otp(1)},
        "mobile_invalid",
    ),
    ("otp-missing", {"method": "mobile", "mobile": "+86 138-0013-8000"}, "mobile_otp_missing"),
    (
        "otp-stale",
        {"method": "mobile", "mobile": "13800138000", "mobile_otp_verified_at": _otp(60)},
        "mobile_otp_stale",
    ),
    (
        "otp-future",
        {"method": "mobile", "mobile": "13800138000", "mobile_otp_verified_at": _otp(-30)},
        "mobile_otp_in_future",
    ),
    ("name-missing", {"method": "id_card", "id_card_number": ID_CARD}, "full_name_missing"),
    ("idno-missing", {"method": "id_card", "full_name": "李四"}, "id_card_number_missing"),
    (
        "idno-format",
        {"method": "id_card", "full_name": "李四", "id_card_number": "1101051949"},
        "id_card_format_invalid",
    ),
    (
        "idno-check",
        {"method": "id_card", "full_name": "李四", "id_card_number": "530102192005080119"},
        "id_card_checksum_invalid",
    ),
    (
        "idno-date",
        # 31 April does not exist; a real date before 1900 is valid (GB 11643, issue 14 correction 2).
        {"method": "id_card", "full_name": "李四", "id_card_number": "440524199904310011"},
        "id_card_birth_date_invalid",
    ),
    (
        "idno-mismatch",
        {"method": "id_card", "full_name": "王五MISMATCH", "id_card_number": ID_CARD},
        "id_card_name_mismatch",
    ),
    ("org-missing", {"method": "uscc", "uscc": "91440300708461136T"}, "organization_name_missing"),
    ("uscc-missing", {"method": "uscc", "organization_name": "Acme"}, "uscc_missing"),
    (
        "uscc-format",
        {"method": "uscc", "organization_name": "Acme", "uscc": "91440300708461136I"},
        "uscc_format_invalid",
    ),
    (
        "uscc-check",
        {"method": "uscc", "organization_name": "Acme", "uscc": "91440300708461136A"},
        "uscc_checksum_invalid",
    ),
    ("token-missing", {"method": "national_network_id"}, "network_id_token_missing"),
    (
        "token-malformed",
        {"method": "national_network_id", "network_id_token": "has space"},
        "network_id_token_malformed",
    ),
    (
        "token-invalid",
        {"method": "national_network_id", "network_id_token": "invalid-abc"},
        "network_id_token_invalid",
    ),
]


async def test_every_rejection_reason_is_published_with_its_article(
    harness: IdentityHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    users = {}
    for label, fields, _ in REJECTIONS:
        user = unique(label)
        users[label] = user
        await send(producer, harness, submission(user, **fields), user)

    for label, fields, code in REJECTIONS:
        [event] = await decision(recorder, users[label])
        assert event["type"] == "dsgov.identity.rejected", label
        assert code in event["data"]["reasons"], (label, event["data"]["reasons"])
        details = {d["code"]: d["article"] for d in event["data"]["reason_details"]}
        assert details[code] in {"DS-9", "NI-1", "NI-3", "NI-4"}
        assert event["data"]["method"] == fields["method"]


async def test_other_methods_verify_and_minors_get_their_age_group(
    harness: IdentityHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    today = datetime.now(UTC).date()
    child = _id_number(today.replace(year=today.year - 10))
    teen = _id_number(today.replace(year=today.year - 15))
    cases = {
        unique("mobile"): (
            submission("", method="mobile", mobile="13800138000", mobile_otp_verified_at=_otp(1)),
            "unknown",
        ),
        unique("org"): (
            submission("", method="uscc", organization_name="Acme", uscc="91110000802100433B"),
            "unknown",
        ),
        unique("nnid"): (
            submission("", method="national_network_id", network_id_token="nnid-OPAQUE-123"),
            "unknown",
        ),
        unique("child"): (id_card("", number=child), "under_14"),
        unique("teen"): (id_card("", number=teen), "14_to_17"),
    }
    for user, (event, _) in cases.items():
        event["subject"] = event["data"]["user_id"] = user
        await send(producer, harness, event, user)
    for user, (_, group) in cases.items():
        [event] = await decision(recorder, user)
        assert event["type"] == "dsgov.identity.verified", event["data"]
        assert event["data"]["age_group"] == group


def _id_number(birth: Any) -> str:
    from shared.standards.identifiers import id_card_check_character

    body = f"110105{birth:%Y%m%d}123"
    return body + id_card_check_character(body)


async def test_a_later_submission_after_a_rejection_is_decided_afresh(
    harness: IdentityHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    user = unique("retry")
    await send(producer, harness, id_card(user, number="530102192005080119"), user)
    await send(producer, harness, id_card(user), user)

    first, second = await decision(recorder, user, count=2)

    assert first["type"] == "dsgov.identity.rejected"
    assert second["type"] == "dsgov.identity.verified"


async def test_the_same_event_id_twice_gives_one_decision(
    harness: IdentityHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    user = unique("dup")
    event = id_card(user)
    await send(producer, harness, event, user)
    await decision(recorder, user)
    await send(producer, harness, event, user)  # a redelivery, in a later batch
    await send(producer, harness, event, user)
    marker = submission(user, method="uscc", organization_name="Acme", uscc="91110000802100433B")
    await send(producer, harness, marker, user)  # same key, so decided after the duplicates

    events = await decision(recorder, user, count=2)
    await recorder.wait_for(lambda r: r.key == user and r.json()["causationid"] == marker["id"])

    caused_by_first = [e for e in decisions_for(recorder, user) if e["causationid"] == event["id"]]
    assert len(caused_by_first) == 1
    assert len(events) == 2


def _dead_letters(recorder: Recorder, key: str) -> list[Seen]:
    return recorder.matching(lambda r: r.topic == "dsgov.deadletter" and _dl_key(r) == key)


def _dl_key(r: Seen) -> str | None:
    data: dict[str, Any] = r.json()["data"]
    return data.get("key")


BAD_INPUTS: list[tuple[str, Any, str]] = [
    ("not-json", b"{not json", "invalid_json"),
    ("not-utf8", b"\xff\xfe\x00garbage", "invalid_json"),
    ("array", b"[1, 2, 3]", "invalid_envelope"),
    ("no-specversion", {"id": "x", "type": SUBMITTED}, "invalid_envelope"),
    ("bad-time", "TIME", "invalid_envelope"),
    ("unknown-type", "TYPE", "unknown_type"),
    ("wrong-types", {"user_id": 123, "method": ["id_card"]}, "schema_violation"),
    ("missing-method", {"user_id": "SUBJECT"}, "schema_violation"),
    ("subject-mismatch", {"user_id": "someone-else", "method": "mobile"}, "schema_violation"),
    ("oversized", "BIG", "payload_too_large"),
]


def _bad_value(key: str, spec: Any) -> bytes:
    if isinstance(spec, bytes):
        return spec
    if spec == "TIME":
        event = submission(key, method="mobile")
        event["time"] = "yesterday"
        return to_bytes(event)
    if spec == "TYPE":
        return to_bytes(cloud_event("dsgov.identity.teleported", {"user_id": key}, subject=key))
    if spec == "BIG":
        return to_bytes(submission(key, method="id_card", full_name="x" * 1_100_000))
    if "specversion" not in json.dumps(spec) and "type" in spec:
        return to_bytes(spec)
    data = {k: (key if v == "SUBJECT" else v) for k, v in spec.items()}
    return to_bytes(cloud_event(SUBMITTED, data, subject=key))


async def test_bad_input_is_dead_lettered_with_its_code_and_original_bytes_and_processing_goes_on(
    harness: IdentityHarness, recorder: Recorder, producer: AIOKafkaProducer
) -> None:
    sent: dict[str, tuple[bytes, str]] = {}
    for label, spec, code in BAD_INPUTS:
        key = unique(label)
        value = _bad_value(key, spec)
        sent[key] = (value, code)
        await send(producer, harness, value, key)
        follower = unique("after-" + label)
        await send(producer, harness, id_card(follower), key)  # same partition, right behind the bad one
        sent[follower] = (b"", "")

    for key, (value, code) in sent.items():
        if not code:
            [ok] = await decision(recorder, key)
            assert ok["type"] == "dsgov.identity.verified"
            continue
        await recorder.wait_for(lambda r, k=key: r.topic == "dsgov.deadletter" and _dl_key(r) == k)
        [dl] = [r.json()["data"] for r in _dead_letters(recorder, key)]
        assert dl["error_code"] == code, (key, dl["error_detail"])
        assert dl["original_topic"] == "dsgov.platform.identity"
        assert dl["service"] == "identity_verification"
        # The identity topic is sensitive: the original bytes are kept, but encrypted (rule 6).
        assert dl["payload_encryption"] == "aes-256-gcm"
        assert value not in base64.b64decode(dl["payload"])
        kept = decrypt_payload(dl["payload"], TEST_SECRET)
        assert dl["payload_sha256"] == hashlib.sha256(value).hexdigest()
        assert dl["payload_size"] == len(value)
        if code == "payload_too_large":  # a dead letter must not itself be too large to publish
            assert dl["payload_truncated"] is True
            assert kept == value[: len(kept)]
            assert len(kept) == 64 * 1024
        else:
            assert kept == value
        assert ID_CARD not in dl["error_detail"]


async def test_a_crash_between_store_write_and_publish_leaves_exactly_one_decision(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    h = IdentityHarness(stack, tmp_path, DSGOV_TEST_FAULT="crash_after_store_write")
    await h.provision()
    rec = h.recorder("dsgov.identity")
    await rec.start()
    producer = await start_producer(stack.bootstrap)
    try:
        h.service.start()
        user = unique("crash")
        first = id_card(user)
        await send(producer, h, first, user)

        assert h.service.wait_exit(timeout=60) == 86  # died right after the store write
        assert decisions_for(rec, user) == []  # ... and before publishing anything

        h.restart_with(DSGOV_TEST_FAULT="").start()
        later = submission(user, method="uscc", organization_name="Acme", uscc="91110000802100433B")
        await send(producer, h, later, user)
        await rec.wait_for(lambda r: r.key == user and r.json()["causationid"] == later["id"], timeout=60)

        from_first = [e for e in decisions_for(rec, user) if e["causationid"] == first["id"]]
        assert len(from_first) == 1
        assert from_first[0]["type"] == "dsgov.identity.verified"
        assert [e["causationid"] for e in decisions_for(rec, user)] == [first["id"], later["id"]]
    finally:
        h.service.stop()
        await producer.stop()
        await rec.stop()


async def test_submissions_dead_lettered_while_the_authority_was_down_are_decided_after_a_replay(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    from devtools.servers import free_port
    from shared.messaging.replay import ReplayFilter, replay_dead_letters

    down = {
        "DSGOV_IDENTITY_AUTHORITY_MODE": "http",
        "DSGOV_IDENTITY_AUTHORITY_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "DSGOV_IDENTITY_AUTHORITY_TOKEN": "token-for-tests",
        "DSGOV_IDENTITY_AUTHORITY_TIMEOUT_S": "0.5",
        "DSGOV_MAX_ATTEMPTS": "2",
    }
    h = IdentityHarness(stack, tmp_path, **down)
    await h.provision()
    rec = h.recorder("dsgov.identity", "dsgov.deadletter")
    await rec.start()
    producer = await start_producer(stack.bootstrap)
    try:
        h.service.start()
        user = unique("outage")
        sent = id_card(user)
        await send(producer, h, sent, user)
        [dead] = await rec.wait_for(lambda r: r.topic == "dsgov.deadletter", timeout=60)
        data = dead.json()["data"]
        assert data["error_code"] == "processing_failed"
        assert data["attempts"] == 2
        assert "AuthorityUnavailable" in data["error_detail"]
        assert decisions_for(rec, user) == []

        h.service.stop()
        h.restart_with(DSGOV_IDENTITY_AUTHORITY_MODE="simulator", DSGOV_IDENTITY_AUTHORITY_URL="").start()
        report = await replay_dead_letters(
            stack.bootstrap,
            which=ReplayFilter(service="identity_verification", error_code="processing_failed"),
            secret=TEST_SECRET,
            prefix=h.prefix,
        )
        assert len(report.replayed) == 1

        [event] = await decision(rec, user)
        assert event["type"] == "dsgov.identity.verified"
        assert event["causationid"] == sent["id"]
    finally:
        h.service.stop()
        await producer.stop()
        await rec.stop()
