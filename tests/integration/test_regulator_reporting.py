"""Regulator reporting as a real process on the embedded broker and store (DS-10.3, DS-11, GA-14, DS-12).

Reports for each category, one report per incident however often its events come, resends until
acknowledged, restarts in the middle of a burst, key rotation, and the regulator's CLI verifying
the stream (and catching each kind of tampering in a JSONL copy).
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from devtools.testing.kafka import Recorder, Seen
from services.regulator_reporting import regulator_cli
from services.regulator_reporting.chain import KeyRing, PublicKey, Signer, parse_seed, seal
from services.regulator_reporting.domain.incidents import NEVER
from services.regulator_reporting.verification import StreamRecord, verify_stream
from shared.messaging.provisioning import provision_topics

pytestmark = pytest.mark.integration

MODULE = "services.regulator_reporting"
REPORTS = "dsgov.regulator.reports"
PROVIDER = "provider-test"
ROOT = Path(__file__).resolve().parents[2]


def new_seed() -> str:
    return base64.b64encode(os.urandom(32)).decode()


class ReportingHarness(ServiceHarness):
    """One reporting process in its own topic namespace and database."""

    def __init__(self, stack: EmbeddedStack, tmp: Path, **extra_env: str) -> None:
        env = {
            "DSGOV_REPORTING_SIGNING_KEY": new_seed(),
            "DSGOV_REPORTING_KEY_ID": "key-1",
            "DSGOV_REPORTING_SETTLE_S": "0.5",
            "DSGOV_REPORTING_MAX_DELAY_S": "5",
            "DSGOV_REPORTING_INTERVAL_S": "0.05",
            "DSGOV_REPORTING_ACK_TIMEOUT_S": "3600",
            **extra_env,
        }
        super().__init__(stack, tmp, MODULE, database="reporting", env=env)

    def signer(self) -> Signer:
        return Signer.from_seed(
            self.env["DSGOV_REPORTING_KEY_ID"], parse_seed(self.env["DSGOV_REPORTING_SIGNING_KEY"])
        )

    def cli(self, *args: str) -> list[str]:
        return ["--bootstrap", self.stack.bootstrap, "--topic-prefix", self.prefix, *args]

    async def reports_in_store(self, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.stack.mongo_uri)
        try:
            return await client[self.database]["reports"].find(query or {}).sort("sequence", 1).to_list(None)
        finally:
            await client.close()

    async def admin(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`python -m services.regulator_reporting <args>` with the service's environment."""
        return await run_python("-m", MODULE, *args, env={**os.environ, **self.env})


async def run_python(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Our own interpreter in a thread (the event loop keeps recording meanwhile)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


async def start(harness: ReportingHarness) -> Recorder:
    await provision_topics(harness.stack.bootstrap, prefix=harness.prefix)
    recorder = Recorder(
        harness.stack.bootstrap,
        [harness.topic(REPORTS), harness.topic("dsgov.deadletter")],
        strip_prefix=harness.prefix,
    )
    await recorder.start()
    harness.service.start()
    return recorder


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def harness(
    stack: EmbeddedStack, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ReportingHarness, Recorder]]:
    h = ReportingHarness(stack, tmp_path_factory.mktemp("reporting"))
    recorder = await start(h)
    yield h, recorder
    h.service.stop()
    await recorder.stop()


# --------------------------------------------------------------------------- inputs


def reason(code: str, article: str) -> dict[str, str]:
    return {"code": code, "article": article, "detail": "matched library entry for 张三 (secret detail)"}


def decision(type_: str, request_id: str, *codes: str, **extra: Any) -> dict[str, Any]:
    articles = {"prohibited_content": "DS-10.2", "known_rumour": "DS-11", "identity_unverified": "DS-9"}
    data = {
        "request_id": request_id,
        "user_id": "user-7",
        "decision_id": f"dec-{request_id}-{type_[-7:]}",
        "reasons": [reason(c, articles[c]) for c in codes],
        **extra,
    }
    return cloud_event(type_, data, subject=request_id, source="dsgov/generation-review")


def rejected(request_id: str, *codes: str, **extra: Any) -> dict[str, Any]:
    return decision("dsgov.generation.rejected", request_id, *codes, **extra)


def blocked(request_id: str, *codes: str, **extra: Any) -> dict[str, Any]:
    return decision("dsgov.output.blocked", request_id, *codes, **extra)


def sanctioned(user: str, level: str, strikes: int) -> dict[str, Any]:
    data = {
        "user_id": user,
        "level": level,
        "strikes": strikes,
        "decision_id": unique("dec"),
        "reasons": [reason("prohibited_content", "DS-10.2")],
        "until": "2026-12-01T00:00:00+08:00",
    }
    return cloud_event("dsgov.user.sanctioned", data, subject=user)


def recorded(notice: str, rumour: str, *content: str) -> dict[str, Any]:
    data = {
        "rumour_id": rumour,
        "notice_id": notice,
        "claim_text": "假消息 水库决堤了",
        "refutation_text": "水库安全",
        "matched_content_ids": list(content),
        "fingerprints": ["ab12", "cd34"],
    }
    return cloud_event("dsgov.rumour.recorded", data, subject=rumour, source="dsgov/rumour-refutation")


def refutation(notice: str, rumour: str, recipient: str) -> dict[str, Any]:
    data = {
        "recipient_user_id": recipient,
        "rumour_id": rumour,
        "notice_id": notice,
        "refutation_text": "水库安全",
    }
    return cloud_event("dsgov.refutation.notice", data, subject=recipient, source="dsgov/rumour-refutation")


def takedown_required(notice: str, content: str, rumour: str | None = None) -> dict[str, Any]:
    data = {"content_id": content, "notice_id": notice, "rumour_id": rumour, "reason": "rumour"}
    return cloud_event(
        "dsgov.content.takedown-required", data, subject=content, source="dsgov/rumour-refutation"
    )


def takedown_ordered(notice: str, *content: str) -> dict[str, Any]:
    data = {"notice_id": notice, "content_ids": list(content), "reason": "违法内容 立即删除"}
    return cloud_event("dsgov.takedown.ordered", data, subject=notice, source="regulator/cac")


TOPIC_OF = {
    "dsgov.generation.rejected": "dsgov.review",
    "dsgov.output.blocked": "dsgov.review",
    "dsgov.user.sanctioned": "dsgov.review",
    "dsgov.rumour.recorded": "dsgov.rumour",
    "dsgov.refutation.notice": "dsgov.rumour",
    "dsgov.content.takedown-required": "dsgov.rumour",
    "dsgov.takedown.ordered": "dsgov.regulator.notices",
    "dsgov.report.acknowledged": "dsgov.regulator.acks",
    "dsgov.complaint.received": "dsgov.complaint",
    "dsgov.complaint.resolved": "dsgov.complaint",
    "dsgov.complaint.overdue": "dsgov.complaint",
}


async def send(producer: AIOKafkaProducer, h: ReportingHarness, *events: dict[str, Any]) -> None:
    for event in events:
        topic = h.topic(TOPIC_OF[event["type"]])
        await producer.send_and_wait(topic, to_bytes(event), key=event["subject"].encode())


# --------------------------------------------------------------------------- observing reports


def is_report(r: Seen) -> bool:
    return r.topic == REPORTS


def report_data(r: Seen) -> dict[str, Any]:
    data: dict[str, Any] = r.json()["data"]
    return data


def of_incident(key: str) -> Callable[[Seen], bool]:
    return lambda r: is_report(r) and report_data(r)["facts"]["incident_key"] == key


def distinct(records: list[Seen]) -> dict[int, dict[str, Any]]:
    """Reports by sequence (re-sent copies once)."""
    return {report_data(r)["sequence"]: report_data(r) for r in records}


async def one_report(recorder: Recorder, key: str, timeout: float = 30) -> dict[str, Any]:
    [report] = distinct(await recorder.wait_for(of_incident(key), timeout=timeout)).values()
    return report


def stream(recorder: Recorder) -> list[StreamRecord]:
    return [StreamRecord(f"offset {r.offset}", r.value) for r in recorder.matching(is_report)]


def keyring(*signers: Signer) -> KeyRing:
    return KeyRing(PublicKey(s.key_id, s.public_key) for s in signers)


async def cli(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = await regulator_cli.run(list(argv), out)
    return code, out.getvalue()


async def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout}s")


# --------------------------------------------------------------------------- reports per category


async def test_each_category_is_reported_with_its_articles_and_without_plaintext(
    harness: tuple[ReportingHarness, Recorder], producer: AIOKafkaProducer
) -> None:
    h, rec = harness
    req_in, req_out, user = unique("req-in"), unique("req-out"), unique("user")
    sanction = sanctioned(user, "suspended", 3)
    n_rumour, rumour, n_order = unique("notice-r"), unique("rumour"), unique("notice-t")
    await send(
        producer,
        h,
        rejected(req_out, "identity_unverified"),  # not reportable: a refusal, not illegal content
        blocked(req_out, "known_rumour", content_id="content-9"),  # same key: decided after the refusal
        rejected(req_in, "prohibited_content", "identity_unverified"),
        sanction,
        recorded(n_rumour, rumour, "content-1", "content-2"),
        refutation(n_rumour, rumour, "viewer-1"),
        refutation(n_rumour, rumour, "viewer-2"),
        takedown_required(n_rumour, "content-1", rumour),
        takedown_ordered(n_order, "content-5", "content-6"),
        takedown_required(n_order, "content-5"),
    )

    blocked_in = await one_report(rec, f"illegal_content/input/{req_in}")
    blocked_out = await one_report(rec, f"illegal_content/output/{req_out}")
    [sanction_report] = [await one_report(rec, f"user_sanction/{user}/{sanction['data']['decision_id']}")]
    rumour_report = await one_report(rec, f"rumour/{n_rumour}")
    rumour_takedown = await one_report(rec, f"takedown/{n_rumour}")
    ordered = await one_report(rec, f"takedown/{n_order}")

    assert (blocked_in["category"], blocked_in["articles"]) == (
        "illegal_content",
        ["DS-10.2", "DS-10.3", "GA-14.1"],
    )
    assert blocked_in["actions_taken"] == ["generation_blocked"]
    codes = {r["code"]: r["article"] for r in blocked_in["facts"]["reasons"]}
    assert codes == {"prohibited_content": "DS-10.2", "identity_unverified": "DS-9"}
    assert blocked_out["articles"] == ["DS-10.3", "DS-11", "GA-14.1"]
    assert blocked_out["actions_taken"] == ["output_blocked"]
    assert blocked_out["facts"]["content_id"] == "content-9"
    assert rec.matching(of_incident(f"illegal_content/input/{req_out}")) == []  # the refusal made no report

    assert sanction_report["articles"] == ["DS-10.2", "DS-10.3", "GA-14.2"]
    assert sanction_report["actions_taken"] == ["service_suspended", "strike_recorded"]
    assert (sanction_report["facts"]["level"], sanction_report["facts"]["strikes"]) == ("suspended", 3)

    assert rumour_report["category"] == "rumour"
    assert rumour_report["articles"] == ["DS-11"]
    assert rumour_report["facts"]["recipients_reached"] == 2
    assert rumour_report["facts"]["matched_content"]["ids"] == ["content-1", "content-2"]
    assert "refutation_sent" in rumour_report["actions_taken"]
    assert rumour_takedown["articles"] == ["DS-10.3", "DS-11", "GA-14.1"]
    assert rumour_takedown["facts"]["takedown_required_content"]["ids"] == ["content-1"]
    assert ordered["facts"]["ordered_by_regulator"] is True
    assert ordered["articles"] == ["DS-10.3", "DS-21", "GA-14.1"]
    assert ordered["facts"]["ordered_content"]["ids"] == ["content-5", "content-6"]
    assert ordered["actions_taken"] == ["takedown_order_received", "takedown_required"]

    everything = b"".join(r.value for r in rec.matching(is_report)).decode()
    for plaintext in ("张三", "secret detail", "水库", "违法内容", "viewer-1"):
        assert plaintext not in everything
    result = verify_stream(stream(rec), keyring(h.signer()))
    assert result.ok, result.failure


async def test_redelivered_and_re_emitted_events_make_one_report(
    harness: tuple[ReportingHarness, Recorder], producer: AIOKafkaProducer
) -> None:
    h, rec = harness
    req = unique("dup")
    event = rejected(req, "prohibited_content")
    re_emitted = {**event, "id": str(uuid.uuid4())}  # the review service sent the same decision again
    await send(producer, h, event, event, re_emitted)
    await one_report(rec, f"illegal_content/input/{req}")
    await send(
        producer, h, event, re_emitted, blocked(req, "prohibited_content")
    )  # same key: processed in order

    await one_report(rec, f"illegal_content/output/{req}")

    assert len(distinct(rec.matching(of_incident(f"illegal_content/input/{req}")))) == 1
    assert len(await h.reports_in_store({"incident_key": {"$regex": f"^illegal_content/input/{req}"}})) == 1


async def test_later_facts_of_a_rumour_case_make_a_second_part(
    harness: tuple[ReportingHarness, Recorder], producer: AIOKafkaProducer
) -> None:
    h, rec = harness
    notice, rumour = unique("notice"), unique("rumour")
    await send(producer, h, recorded(notice, rumour, "c-1"), refutation(notice, rumour, "v-1"))
    first = await one_report(rec, f"rumour/{notice}")
    await send(producer, h, refutation(notice, rumour, "v-2"), refutation(notice, rumour, "v-1"))

    second = await one_report(rec, f"rumour/{notice}#2")

    assert first["facts"]["recipients_reached"] == 1
    assert second["facts"]["recipients_reached"] == 2  # v-1 twice counts once
    assert second["facts"]["part"] == 2
    assert second["facts"]["previous_report_id"] == first["report_id"]
    assert second["sequence"] > first["sequence"]


async def test_bad_input_is_dead_lettered_and_reporting_goes_on(
    harness: tuple[ReportingHarness, Recorder], producer: AIOKafkaProducer
) -> None:
    h, rec = harness
    key = unique("nasty")
    huge = blocked(key, "prohibited_content", library_version=2**60)  # beyond RFC 8785's integers
    cases: list[tuple[str, bytes, str]] = [
        ("dsgov.review", b"{not json", "invalid_json"),
        (
            "dsgov.review",
            to_bytes({**rejected(key, "prohibited_content"), "time": "yesterday"}),
            "invalid_envelope",
        ),
        (
            "dsgov.review",
            to_bytes(cloud_event("dsgov.output.blocked", {"request_id": key}, subject=key)),
            "schema_violation",
        ),
        ("dsgov.review", to_bytes(huge), "processing_failed"),
        ("dsgov.regulator.acks", to_bytes(ack_event(key, 0)), "schema_violation"),
        ("dsgov.regulator.acks", to_bytes(ack_event(key, 1)), "processing_failed"),  # no such report
    ]
    for topic, value, _ in cases:
        await producer.send_and_wait(h.topic(topic), value, key=key.encode())
    await producer.send_and_wait(
        h.topic("dsgov.review"), to_bytes(rejected(key, "prohibited_content")), key=key.encode()
    )

    await one_report(rec, f"illegal_content/input/{key}")
    letters = await rec.wait_for(
        lambda r: r.topic == "dsgov.deadletter" and r.json()["data"].get("key") == key, count=len(cases)
    )
    by_payload = {base64.b64decode(r.json()["data"]["payload"]): r.json()["data"] for r in letters}
    for topic, value, code in cases:
        letter = by_payload[value]
        assert (letter["error_code"], letter["original_topic"]) == (code, topic), letter["error_detail"]
        assert letter["service"] == "regulator_reporting"
    assert "RFC 8785" in by_payload[to_bytes(huge)]["error_detail"]


def ack_event(report_id: str, sequence: int, status: str = "accepted") -> dict[str, Any]:
    data = {"report_id": report_id, "sequence": sequence, "status": status}
    return cloud_event("dsgov.report.acknowledged", data, subject=report_id, source="regulator/cac")


async def test_acknowledged_reports_are_kept_and_a_rejection_stays_visible(
    harness: tuple[ReportingHarness, Recorder], producer: AIOKafkaProducer
) -> None:
    h, rec = harness
    ok_req, bad_req = unique("acked"), unique("rejected")
    await send(producer, h, rejected(ok_req, "prohibited_content"), rejected(bad_req, "prohibited_content"))
    good = await one_report(rec, f"illegal_content/input/{ok_req}")
    bad = await one_report(rec, f"illegal_content/input/{bad_req}")

    assert (await cli(*h.cli("ack", "--report-id", good["report_id"])))[0] == 0
    code, out = await cli(
        *h.cli("ack", "--sequence", str(bad["sequence"]), "--reject", "--error", "facts incomplete")
    )
    assert code == 0, out

    async def answered() -> list[dict[str, Any]]:
        docs = await h.reports_in_store({"report_id": {"$in": [good["report_id"], bad["report_id"]]}})
        return docs if all(d["ack_status"] != "pending" for d in docs) else []

    docs = {d["report_id"]: d for d in await eventually(answered)}
    assert docs[good["report_id"]]["ack_status"] == "accepted"
    assert docs[bad["report_id"]]["ack_status"] == "rejected"
    assert docs[bad["report_id"]]["ack_errors"] == ["facts incomplete"]
    assert all(d["next_send_ms"] == NEVER for d in docs.values())  # neither is sent again

    listing = await h.admin("reports", "--status", "rejected")
    assert listing.returncode == 0, listing.stderr
    assert bad["report_id"] in listing.stdout
    assert "facts incomplete" in listing.stdout
    assert good["report_id"] not in listing.stdout


async def test_the_regulator_cli_tails_verifies_and_catches_tampering_in_a_copy(
    harness: tuple[ReportingHarness, Recorder], producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    h, rec = harness
    await send(producer, h, *(rejected(unique("tamper"), "prohibited_content") for _ in range(4)))
    await rec.wait_for(lambda r: is_report(r) and report_data(r)["sequence"] >= 5)
    keys_file = tmp_path / "keys.json"
    exported = await h.admin("export-keys")
    assert exported.returncode == 0, exported.stderr
    keys_file.write_text(exported.stdout)
    copy = tmp_path / "copy.jsonl"

    assert (await cli(*h.cli("dump", "--out", str(copy))))[0] == 0
    code, out = await cli(*h.cli("verify", "--keys", str(keys_file)))
    assert code == 0, out
    assert "gap-free and chained" in out
    code, out = await cli("verify", "--keys", str(keys_file), "--file", str(copy))
    assert code == 0, out
    code, out = await cli(*h.cli("tail", "--keys", str(keys_file), "--max", "2"))
    assert code == 0
    assert "#1 " in out
    assert "signature ok, key key-1" in out

    lines = copy.read_bytes().splitlines()
    events = [json.loads(line) for line in lines]
    for kind, tampered_lines, where in tamperings(events, h.signer()):
        tampered = tmp_path / f"{kind}.jsonl"
        tampered.write_bytes(b"\n".join(tampered_lines) + b"\n")
        code, out = await cli("verify", "--keys", str(keys_file), "--file", str(tampered))
        assert code == 1, (kind, out)
        assert f"FAILED at line {where}" in out, (kind, out)
        assert f": {kind}:" in out, (kind, out)

    gap = str(tmp_path / "gap.jsonl")  # the module entry point, as the regulator runs it
    proc = await run_python(
        "-m", "services.regulator_reporting.regulator_cli", "verify", "--keys", str(keys_file), "--file", gap
    )
    assert proc.returncode == 1
    assert "gap" in proc.stdout


def tamperings(events: list[dict[str, Any]], key: Signer) -> list[tuple[str, list[bytes], int]]:
    """(kind, the tampered copy's lines, the line verify must name) for each kind of tampering."""

    def dump(e: dict[str, Any]) -> bytes:
        return json.dumps(e, ensure_ascii=False).encode()

    def with_data(e: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        return {**e, "data": data}

    def resigned(e: dict[str, Any], signer: Signer, **changes: Any) -> dict[str, Any]:
        unsigned = {
            k: v for k, v in {**e["data"], **changes}.items() if k not in ("hash", "signature", "key_id")
        }
        return with_data(e, seal(unsigned, signer))

    base = [dump(e) for e in events]
    third = events[2]
    stranger = Signer.from_seed(key.key_id, b"\x07" * 32)
    cases = [
        ("tampered", 3, with_data(third, {**third["data"], "actions_taken": []})),
        ("bad_signature", 3, resigned(third, stranger, actions_taken=[])),
        ("unknown_key", 3, resigned(third, Signer.from_seed("someone-else", b"\x08" * 32))),
        ("broken_chain", 3, resigned(third, key, prev_hash="0" * 64)),
    ]
    out = [(kind, [*base[:2], dump(e), *base[3:]], line) for kind, line, e in cases]
    out.append(("gap", [*base[:2], *base[3:]], 3))
    out.append(("reordered", [base[0], base[2], base[1], *base[3:]], 2))
    # The provider's own key signing a second, different report 3: both verify alone, not together.
    other = resigned(third, key, facts={**third["data"]["facts"], "request_id": "another"})
    out.append(("conflict", [*base[:3], dump(other), *base[3:]], 4))
    out.append(("malformed", [*base[:1], b"{oops", *base[1:]], 2))
    return out


# --------------------------------------------------------------------------- resends, restarts, keys


async def test_an_unacknowledged_report_is_sent_again_byte_identical_until_acknowledged(
    stack: EmbeddedStack, tmp_path: Path, producer: AIOKafkaProducer
) -> None:
    h = ReportingHarness(stack, tmp_path, DSGOV_REPORTING_ACK_TIMEOUT_S="1")
    rec = await start(h)
    try:
        req = unique("resend")
        await send(producer, h, rejected(req, "prohibited_content"))

        copies = await rec.wait_for(of_incident(f"illegal_content/input/{req}"), count=3, timeout=30)

        assert len({c.value for c in copies}) == 1  # same id, same sequence, same bytes
        assert len({c.key for c in copies}) == 1
        [report] = distinct(copies).values()
        result = verify_stream(stream(rec), keyring(h.signer()))
        assert result.ok, result.failure
        assert result.providers[PROVIDER].resends >= 2

        assert (await cli(*h.cli("ack", "--all")))[0] == 0

        async def acknowledged() -> bool:
            [doc] = await h.reports_in_store({"report_id": report["report_id"]})
            return doc["ack_status"] == "accepted" and doc["next_send_ms"] == NEVER

        await eventually(acknowledged)
        [doc] = await h.reports_in_store({"report_id": report["report_id"]})
        assert doc["resend_count"] >= 2
    finally:
        h.service.stop()
        await rec.stop()


async def assert_gap_free(h: ReportingHarness, rec: Recorder, n: int, *signers: Signer) -> None:
    """The store holds reports 1..n, one per incident; the topic carries all of them, verifiable."""
    docs = await h.reports_in_store()
    assert [d["sequence"] for d in docs] == list(range(1, n + 1))
    assert len({d["incident_key"] for d in docs}) == n
    await rec.wait_for(lambda r: is_report(r) and report_data(r)["sequence"] == n, timeout=60)
    result = verify_stream(stream(rec), keyring(*(signers or (h.signer(),))))
    assert result.ok, result.failure
    assert result.providers[PROVIDER].reports == n


async def test_a_kill_in_the_middle_of_a_burst_leaves_no_gap_no_duplicate_and_an_intact_chain(
    stack: EmbeddedStack, tmp_path: Path, producer: AIOKafkaProducer
) -> None:
    h = ReportingHarness(stack, tmp_path)
    rec = await start(h)
    try:
        n = 400
        for i in range(n):  # a burst on one partition (same key), so it is processed in batches
            event = rejected(f"burst-{h.prefix}{i}", "prohibited_content")
            await producer.send(h.topic("dsgov.review"), to_bytes(event), key=b"burst")
        await producer.flush()

        async def some_numbered() -> bool:
            return len(await h.reports_in_store()) >= 20

        await eventually(some_numbered)
        assert h.service.popen is not None
        h.service.popen.kill()  # SIGKILL: no graceful shutdown
        h.service.popen.wait(timeout=10)
        numbered_before = len(await h.reports_in_store())

        h.restart_with().start()

        async def all_numbered() -> bool:
            return len(await h.reports_in_store()) >= n

        await eventually(all_numbered, timeout=120)
        assert numbered_before < n  # the kill really happened mid-burst
        await assert_gap_free(h, rec, n)
    finally:
        h.service.stop()
        await rec.stop()


async def test_a_crash_between_the_report_insert_and_the_incident_mark_is_repaired(
    stack: EmbeddedStack, tmp_path: Path, producer: AIOKafkaProducer
) -> None:
    h = ReportingHarness(stack, tmp_path, DSGOV_TEST_FAULT="crash_after_report_insert")
    rec = await start(h)
    try:
        await send(producer, h, *(rejected(unique("crash"), "prohibited_content") for _ in range(3)))
        assert h.service.wait_exit(timeout=60) == 86  # died right after inserting the first reports
        inserted = len(await h.reports_in_store())
        assert inserted >= 1

        h.restart_with(DSGOV_TEST_FAULT="").start()
        await send(producer, h, rejected(unique("after"), "prohibited_content"))

        async def four() -> bool:
            return len(await h.reports_in_store()) >= 4

        await eventually(four)
        await assert_gap_free(h, rec, 4)
    finally:
        h.service.stop()
        await rec.stop()


async def test_keys_rotate_without_breaking_verification_of_older_reports(
    stack: EmbeddedStack, tmp_path: Path, producer: AIOKafkaProducer
) -> None:
    h = ReportingHarness(stack, tmp_path)
    rec = await start(h)
    try:
        old = h.signer()
        await send(producer, h, *(rejected(unique("old-key"), "prohibited_content") for _ in range(2)))
        await rec.wait_for(lambda r: is_report(r) and report_data(r)["sequence"] == 2)
        h.service.stop()

        reused = h.restart_with(DSGOV_REPORTING_SIGNING_KEY=new_seed())  # same key id, another key
        with pytest.raises(RuntimeError, match="exited"):
            reused.start()
        assert "signing_key_refused" in reused.log_tail()

        h.restart_with(DSGOV_REPORTING_SIGNING_KEY=new_seed(), DSGOV_REPORTING_KEY_ID="key-2").start()
        new = h.signer()
        await send(producer, h, *(rejected(unique("new-key"), "prohibited_content") for _ in range(2)))
        await rec.wait_for(lambda r: is_report(r) and report_data(r)["sequence"] == 4)

        exported = await h.admin("export-keys")
        assert exported.returncode == 0, exported.stderr
        keys = json.loads(exported.stdout)
        assert {k["key_id"]: k["public_key"] for k in keys["keys"]} == {
            "key-1": old.public_key,
            "key-2": new.public_key,
        }
        keys_file = tmp_path / "keys.json"
        keys_file.write_text(exported.stdout)
        code, out = await cli(*h.cli("verify", "--keys", str(keys_file)))
        assert code == 0, out
        assert "reports 1..4 gap-free and chained" in out
        assert "keys key-1,key-2" in out

        only_new = tmp_path / "only-new.json"
        only_new.write_text(json.dumps({**keys, "keys": [k for k in keys["keys"] if k["key_id"] == "key-2"]}))
        code, out = await cli(*h.cli("verify", "--keys", str(only_new)))
        assert code == 1
        assert "unknown_key" in out
        assert "report 1 " in out
        await assert_gap_free(h, rec, 4, old, new)
    finally:
        h.service.stop()
        await rec.stop()


# --------------------------------------------------------------------------- cybersecurity incidents


def incident_event(type_: str, incident_id: str, **data: Any) -> dict[str, Any]:
    return cloud_event(
        type_, {"incident_id": incident_id, **data}, subject=incident_id, source="platform/soc"
    )


TOPIC_OF.update(
    dict.fromkeys(("dsgov.incident.detected", "dsgov.incident.closed"), "dsgov.platform.incidents")
)


async def test_an_incident_is_reported_at_once_and_its_summary_timer_fires_after_a_restart(
    stack: EmbeddedStack, tmp_path: Path, producer: AIOKafkaProducer
) -> None:
    # CIR-4: a CII operator reports within 1 hour; the summary is due 30 days after handling ended.
    h = ReportingHarness(stack, tmp_path, DSGOV_REPORTING_TIMER_INTERVAL_S="3600")  # timers idle
    rec = await start(h)
    try:
        incident, now = unique("inc"), datetime.now(UTC).replace(microsecond=0)
        detected_at = now - timedelta(minutes=5)
        await send(
            producer,
            h,
            incident_event(
                "dsgov.incident.detected",
                incident,
                kind="data_leak",
                occurred_at=(detected_at - timedelta(hours=1)).isoformat(),
                detected_at=detected_at.isoformat(),
                cii=True,
                affected_people=12_000_000,
                description="用户表泄露",
            ),
        )
        initial = await one_report(rec, f"incident/{incident}")
        assert (initial["category"], initial["severity"], initial["late"]) == ("incident", "major", False)
        assert datetime.fromisoformat(initial["due_at"]) == detected_at + timedelta(hours=1)

        closed_at = now - timedelta(days=29, hours=12)  # the summary is due in 12 hours
        await send(
            producer, h, incident_event("dsgov.incident.closed", incident, closed_at=closed_at.isoformat())
        )
        closure = await one_report(rec, f"incident/{incident}#2")
        assert closure["facts"]["stage"] == "closure"

        h.service.stop()  # the timer is in the store only
        h.restart_with(DSGOV_REPORTING_TIMER_INTERVAL_S="0.1").start()

        summary = await one_report(rec, f"incident/{incident}#3")
        assert summary["facts"]["stage"] == "summary"
        assert datetime.fromisoformat(summary["due_at"]) == closed_at + timedelta(days=30)
        assert summary["late"] is False
        result = verify_stream(stream(rec), keyring(h.signer()))
        assert result.ok, result.failure
    finally:
        h.service.stop()
        await rec.stop()


# --------------------------------------------------------------------------- complaints (DS-12, GA-15, PI-50)

BEIJING = timezone(timedelta(hours=8))


def complaint_event(type_: str, complaint_id: str, **data: Any) -> dict[str, Any]:
    payload = {"complaint_id": complaint_id, **data}
    return cloud_event(type_, payload, subject=complaint_id, source="dsgov/complaints")


def stats_of(day: str) -> Callable[[Seen], bool]:
    return lambda r: (
        is_report(r)
        and report_data(r)["category"] == "complaint_statistics"
        and report_data(r)["facts"]["period_id"] == day
    )


async def test_overdue_complaints_and_daily_statistics_are_reported_also_after_a_restart(
    stack: EmbeddedStack, tmp_path: Path, producer: AIOKafkaProducer
) -> None:
    # Days cut in Beijing time, counted at once after the day ended; the first tick (at start)
    # reports yesterday with nothing in it, the recount after a restart reports what came since.
    # The other tests' deployments start fresh: no period ended after their first start, no statistics.
    settings = {
        "DSGOV_REPORTING_COMPLAINT_STATISTICS_PERIOD": "day",
        "DSGOV_REPORTING_COMPLAINT_STATISTICS_DELAY_S": "0",
    }
    h = ReportingHarness(stack, tmp_path, DSGOV_REPORTING_COMPLAINT_STATISTICS_INTERVAL_S="3600", **settings)
    today = datetime.now(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri)
    try:  # a deployment counting since three days ago (a fresh one reports no period that ended before it)
        since = int((today - timedelta(days=3)).timestamp() * 1000)
        await client[h.database]["statistics_since"].insert_one({"_id": PROVIDER, "since_ms": since})
    finally:
        await client.close()
    rec = await start(h)
    try:
        yesterday = (today - timedelta(days=1)).date().isoformat()
        [empty] = distinct(await rec.wait_for(stats_of(yesterday), timeout=30)).values()
        assert empty["facts"]["totals"] == {
            "received": 0,
            "resolved_in_time": 0,
            "resolved_late": 0,
            "overdue": 0,
        }

        noon = today - timedelta(hours=12)  # yesterday 12:00 in Beijing
        late, rights = unique("cmp"), unique("pi")
        rule = {"working_days": 15, "calendar": "test", "source": "README"}
        target = {"type": "content", "id": "content-1"}
        await send(
            producer,
            h,
            complaint_event(
                "dsgov.complaint.received",
                late,
                kind="complaint",
                target=target,
                complainant_user_id="user-1",
                received_at=(noon - timedelta(days=20)).isoformat(),
                due_at=(noon - timedelta(hours=1)).isoformat(),
                due_rule=rule,
            ),
            complaint_event(
                "dsgov.complaint.received",
                rights,
                kind="rights_request",
                target={"type": "personal_information", "id": "user-2"},
                complainant_user_id="user-2",
                received_at=noon.isoformat(),
                due_at=(noon + timedelta(days=20)).isoformat(),
                due_rule=rule,
            ),
            complaint_event(
                "dsgov.complaint.overdue",
                late,
                kind="complaint",
                due_at=(noon - timedelta(hours=1)).isoformat(),
                detected_at=noon.isoformat(),
            ),
            complaint_event(
                "dsgov.complaint.resolved",
                late,
                kind="complaint",
                outcome="upheld",
                reasons=["checked"],
                resolver={"username": "op", "role": "operator"},
                resolved_at=(noon + timedelta(hours=2)).isoformat(),
                due_at=(noon - timedelta(hours=1)).isoformat(),
                in_time=False,
            ),
        )
        overdue = await one_report(rec, f"complaint_overdue/{late}")
        assert overdue["articles"] == ["DS-12", "GA-15"]
        assert (overdue["facts"]["complaint_id"], overdue["facts"]["kind"]) == (late, "complaint")
        assert datetime.fromisoformat(overdue["facts"]["detected_at"]) == noon

        h.service.stop()  # the period is counted from the stored tickets, nothing kept in memory
        h.restart_with(DSGOV_REPORTING_COMPLAINT_STATISTICS_INTERVAL_S="0.2").start()

        second = await one_report(rec, f"complaint_statistics/day/{yesterday}#2")
        assert second["facts"]["previous_report_id"] == empty["report_id"]
        assert second["facts"]["totals"] == {
            "received": 1,
            "resolved_in_time": 0,
            "resolved_late": 1,
            "overdue": 1,
        }
        assert second["facts"]["by_kind"]["rights_request"]["received"] == 1
        assert second["facts"]["by_kind"]["complaint"]["received"] == 0  # received 20 days earlier
        assert second["articles"] == ["DS-12", "GA-15", "PI-50"]
        result = verify_stream(stream(rec), keyring(h.signer()))
        assert result.ok, result.failure
    finally:
        h.service.stop()
        await rec.stop()
