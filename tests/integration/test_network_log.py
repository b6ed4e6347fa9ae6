"""network_log against the real embedded store (and, for the restart, as a real process).

Retention boundary (CS-1), one user's six months exported and verified (DS-21, SA-5), a tampered
bundle caught, nothing plaintext-sensitive in the store files (PI-28/51, rule 6), a crash and
restart mid-segment with nothing lost or doubled.
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.faults import CRASH_EXIT_CODE
from devtools.testing.embedded import CHECKOUT, TEST_SECRET, EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from services.network_log.adapters.crypto import AesGcmCipher
from services.network_log.adapters.mongo import MongoLogStore
from services.network_log.config import NetworkLogSettings
from services.network_log.domain.bundle import BundleInvalid, verify_bundle
from services.network_log.entrypoints.app import build_handlers
from services.network_log.handlers import NetworkLogHandlers, open_run
from services.network_log.inspection import Exporter, ExportRequest
from shared.messaging.codec import RawRecord
from shared.runtime.settings import CommonSettings

pytestmark = pytest.mark.integration

ACTIVITY = "dsgov.platform.activity"
SEED = base64.b64encode(bytes(range(32))).decode()
ENC_KEY = "netlog-encryption-key-for-tests-0123456789"
T0 = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
ID_CARD = "11010519491231002X"
PROVIDER = "provider-test"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Log:
    handlers: NetworkLogHandlers
    store: MongoLogStore
    clock: Clock
    settings: NetworkLogSettings
    database: str
    offsets: int = 0

    def record(self, topic: str, event: dict[str, Any] | bytes) -> RawRecord:
        self.offsets += 1
        value = event if isinstance(event, bytes) else to_bytes(event)
        return RawRecord(topic=topic, partition=0, offset=self.offsets, key=b"k", value=value)

    def exporter(self) -> Exporter:
        cipher = AesGcmCipher(ENC_KEY)
        return Exporter(self.store, cipher, self.settings.signer(), self.settings.segment_ms, self.clock)

    def keys(self) -> dict[str, str]:
        signer = self.settings.signer()
        return {signer.key_id: signer.public_key}


def activity(user: str, *, ip: str = "198.51.100.7", **extra: Any) -> dict[str, Any]:
    data = {
        "user_id": user,
        "action": "publish",
        "content_id": extra.pop("content_id", None),
        "source_ip": ip,
        "source_port": 51234,
        "device_id": extra.pop("device_id", "device-0001"),
        "user_agent": extra.pop("user_agent", "TestAgent/1.0"),
        "occurred_at": T0.isoformat(),
        **extra,
    }
    return cloud_event("dsgov.activity.recorded", data, subject=user)


@pytest_asyncio.fixture(loop_scope="session")
async def log(stack: EmbeddedStack) -> AsyncIterator[Log]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    database = f"netlog_{uuid.uuid4().hex[:8]}"
    settings = NetworkLogSettings(encryption_key=ENC_KEY, signing_key=SEED, retention_days=184)
    common = CommonSettings(deadletter_key=TEST_SECRET, provider_ids=PROVIDER)
    clock = Clock(T0)
    handlers, store = build_handlers(settings, common, client[database], clock=clock)
    await store.ensure_indexes()
    yield Log(handlers, store, clock, settings, database)
    await client.close()


async def stored_entries(store: MongoLogStore, *users: str) -> list[tuple[str, int]]:
    """(run id, slot) of every stored entry of these users."""
    return [
        (run["_id"], i)
        async for run in store.runs_coll.find({})
        for i, u in enumerate(run["u"])
        if u in users
    ]


async def entry_count(log: Log, *users: str) -> int:
    return len(await stored_entries(log.store, *users))


async def test_a_record_at_183_days_stays_and_the_configured_period_removes_older_ones(log: Log) -> None:
    for age_days, user in ((190, "old-190"), (185, "old-185"), (183, "kept-183"), (0, "today")):
        log.clock.now = T0 - timedelta(days=age_days)
        await log.handlers.append([log.record(ACTIVITY, activity(user))])
    log.clock.now = T0 + timedelta(hours=2)  # every segment closed
    assert len(await log.handlers.seal_due()) == 4

    log.clock.now = T0
    removed = await log.handlers.enforce_retention()

    assert removed == 2
    assert await entry_count(log, "kept-183") == 1  # CS-1: 183 days < six months
    assert await entry_count(log, "today") == 1
    assert await entry_count(log, "old-185", "old-190") == 0
    log.clock.now = T0 + timedelta(days=1)  # a day later the 183-day record is exactly 184 days old
    assert await log.handlers.enforce_retention() == 0  # kept: its segment is not all older than 184 days
    log.clock.now = T0 + timedelta(days=1, hours=1)  # now the whole segment is
    assert await log.handlers.enforce_retention() == 1
    assert await entry_count(log, "kept-183") == 0


async def test_a_longer_configured_period_keeps_what_184_days_would_drop(stack: EmbeddedStack) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    try:
        settings = NetworkLogSettings(encryption_key=ENC_KEY, signing_key=SEED, retention_days=200)
        common = CommonSettings(deadletter_key=TEST_SECRET, provider_ids=PROVIDER)
        clock = Clock(T0 - timedelta(days=190))
        handlers, store = build_handlers(
            settings, common, client[f"netlog_{uuid.uuid4().hex[:8]}"], clock=clock
        )
        await store.ensure_indexes()
        raw = RawRecord(ACTIVITY, 0, 1, b"u", to_bytes(activity("u-190")))
        await handlers.append([raw])
        clock.now = T0 - timedelta(days=201)
        await handlers.append([RawRecord(ACTIVITY, 0, 2, b"u", to_bytes(activity("u-201")))])
        clock.now = T0
        await handlers.seal_due()
        assert await handlers.enforce_retention() == 1
        assert len(await stored_entries(store, "u-190")) == 1
        assert len(await stored_entries(store, "u-201")) == 0
    finally:
        await client.close()


async def seed_six_months(log: Log, user: str, other: str) -> int:
    """One activity a day for `user` over six months, another user's, and dsgov events about `user`."""
    mine = 0
    for day in range(184, 0, -1):
        log.clock.now = T0 - timedelta(days=day, hours=-1)
        batch = [
            log.record(ACTIVITY, activity(user, ip=f"203.0.113.{day % 200}")),
            log.record(ACTIVITY, activity(other)),
        ]
        mine += 1
        if day % 30 == 0:
            review = cloud_event(
                "dsgov.user.sanctioned", {"user_id": user, "level": "warning", "strikes": 1}, subject=user
            )
            batch.append(log.record("dsgov.review", review))
            mine += 1
        await log.handlers.append(batch)
    log.clock.now = T0
    await log.handlers.seal_due()
    return mine


def write_bundle(tmp: Path, lines: list[bytes], name: str = "bundle.jsonl") -> Path:
    path = tmp / name
    path.write_bytes(b"".join(lines))
    return path


async def test_one_users_six_months_are_exported_with_proofs_and_verify_with_only_public_keys(
    log: Log, tmp_path: Path
) -> None:
    user, other = unique("inspected"), unique("bystander")
    expected = await seed_six_months(log, user, other)
    request = ExportRequest(
        start=T0 - timedelta(days=185),
        end=T0,
        actor="inspector-li",
        reason="CAC inspection notice 2026-17 (DS-21)",
        user_id=user,
    )
    path = tmp_path / "bundle.jsonl"
    progressed: list[int] = []
    with path.open("wb") as out:
        manifest = await log.exporter().export(request, out, progressed.append)

    assert manifest["entries"] == expected
    assert sum(progressed) == (await log.exporter().plan(request))[2] == 2 * 184 + 6  # scanned entries
    result = verify_bundle(path.read_bytes().splitlines(keepends=True), log.keys())
    assert result.entries == expected
    assert result.segments == 184  # one segment a day
    entries = [json.loads(x) for x in path.read_bytes().splitlines() if b'"kind":"entry"' in x]
    assert {e["entry"]["user_id"] for e in entries} == {user}
    assert entries[0]["entry"]["event"]["data"]["source_ip"].startswith("203.0.113.")  # SA-5: the address
    recorded = await log.store.exports_coll.find_one({"sha256": manifest["sha256"]})
    assert recorded is not None
    assert (recorded["actor"], recorded["reason"]) == (
        "inspector-li",
        "CAC inspection notice 2026-17 (DS-21)",
    )

    by_ip = ExportRequest(start=request.start, end=T0, actor="a", reason="r", ip="203.0.113.17")
    with (tmp_path / "ip.jsonl").open("wb") as out:
        assert (await log.exporter().export(by_ip, out))["entries"] == 1


async def test_a_tampered_bundle_is_caught_and_the_line_is_named(log: Log, tmp_path: Path) -> None:
    user = unique("tamper")
    await seed_six_months(log, user, unique("other"))
    request = ExportRequest(start=T0 - timedelta(days=40), end=T0, actor="a", reason="r", user_id=user)
    path = tmp_path / "good.jsonl"
    with path.open("wb") as out:
        await log.exporter().export(request, out)
    lines = path.read_bytes().splitlines(keepends=True)
    keys = log.keys()
    assert verify_bundle(lines, keys).entries > 0
    entry_at = next(i for i, x in enumerate(lines) if b'"kind":"entry"' in x)

    changed_ip = lines.copy()
    changed_ip[entry_at] = lines[entry_at].replace(b"203.0.113.", b"192.0.2.")
    with pytest.raises(BundleInvalid, match=f"line {entry_at + 1}: entry .* is not in segment"):
        verify_bundle(changed_ip, keys)

    segment_at = next(i for i, x in enumerate(lines) if b'"kind":"segment"' in x)

    def with_segment(change: Any) -> list[bytes]:
        obj = json.loads(lines[segment_at])
        change(obj)
        return [*lines[:segment_at], json.dumps(obj).encode() + b"\n", *lines[segment_at + 1 :]]

    assert json.loads(lines[segment_at])["consistency"]["path"]  # sealed before the newest checkpoint
    other_root = with_segment(lambda o: o["sealed_checkpoint"].update(root="00" * 32))
    with pytest.raises(BundleInvalid, match=f"line {segment_at + 1}: the checkpoint that sealed"):
        verify_bundle(other_root, keys)  # its signature no longer holds
    bad_path = with_segment(lambda o: o["consistency"]["path"].__setitem__(-1, "00" * 32))
    with pytest.raises(BundleInvalid, match=f"line {segment_at + 1}: the log was rewritten"):
        verify_bundle(bad_path, keys)

    dropped = lines[:entry_at] + lines[entry_at + 1 :]
    with pytest.raises(BundleInvalid):
        verify_bundle(dropped, keys)

    manifest = json.loads(lines[-1])
    manifest["reason"] = "nothing to see"
    with pytest.raises(BundleInvalid, match="manifest signature invalid"):
        verify_bundle([*lines[:-1], json.dumps(manifest).encode() + b"\n"], keys)

    with pytest.raises(BundleInvalid, match="checkpoint signature invalid"):
        verify_bundle(lines, {"netlog-1": base64.b64encode(bytes(32)).decode()})

    with pytest.raises(BundleInvalid, match="incomplete"):
        verify_bundle(lines[:-1], keys)

    cli = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "services.network_log.entrypoints.inspect_cli",
            "verify",
            str(write_bundle(tmp_path, changed_ip, "bad.jsonl")),
            "--keys",
            str(write_keys(tmp_path, keys)),
        ],
        capture_output=True,
        text=True,
        cwd=CHECKOUT,
        check=False,
        timeout=60,
    )
    assert cli.returncode == 1
    assert f"line {entry_at + 1}" in cli.stderr


def write_keys(tmp: Path, keys: dict[str, str]) -> Path:
    path = tmp / "keys.json"
    path.write_text(json.dumps(keys))
    return path


async def test_bad_activity_is_rejected_with_a_code_and_a_redelivery_is_not_kept_twice(log: Log) -> None:
    user = unique("dup")
    good = log.record(ACTIVITY, activity(user))
    foreign = log.record(
        ACTIVITY,
        cloud_event("dsgov.activity.recorded", activity(user)["data"], subject=user, providerid="nobody"),
    )
    broken = log.record(ACTIVITY, b"{not json")
    no_action = log.record(
        ACTIVITY,
        cloud_event(
            "dsgov.activity.recorded", {"user_id": user, "occurred_at": T0.isoformat()}, subject=user
        ),
    )
    first = await log.handlers.append([good, foreign, broken, no_action])
    again = await log.handlers.append([good])

    assert (first.appended, again.appended, again.duplicates) == (1, 0, 1)
    assert sorted(r.code for r in first.rejected) == ["invalid_json", "schema_violation", "unknown_provider"]
    assert await entry_count(log, user) == 1


async def test_nothing_plaintext_sensitive_reaches_the_store_files(log: Log, stack: EmbeddedStack) -> None:
    marker = uuid.uuid4().hex[:10]
    ip, device, agent = "198.18.77.231", f"device-{marker}", f"SecretAgent/{marker}"
    await log.handlers.append(
        [
            log.record(ACTIVITY, activity("pi-user", ip=ip, device_id=device, user_agent=agent)),
            log.record(
                "dsgov.platform.identity",
                cloud_event(
                    "dsgov.identity.submitted",
                    {
                        "user_id": "pi-user",
                        "method": "id_card",
                        "full_name": "张三",
                        "id_card_number": ID_CARD,
                    },
                    subject="pi-user",
                ),
            ),
        ]
    )
    log.clock.now = T0 + timedelta(hours=2)
    await log.handlers.seal_due()
    with (Path(stack.workdir) / "export.jsonl").open("wb") as out:  # an export is recorded in the store too
        await log.exporter().export(
            ExportRequest(
                start=T0 - timedelta(days=1), end=T0 + timedelta(hours=1), actor="a", reason="r", ip=ip
            ),
            out,
        )

    files = [p for p in (Path(stack.workdir) / "mongo").rglob("*") if p.is_file() and log.database in p.name]
    assert files, "the store keeps this database in its own files"
    for path in files:
        data = path.read_bytes()
        for secret in (ip, device, agent, ID_CARD, "张三"):
            assert secret.encode() not in data, f"{secret!r} in plaintext in {path.name}"
    run = await log.store.runs_coll.find_one({"topic": "dsgov.platform.identity"})
    assert run is not None
    assert run["u"] == ["pi-user"]
    [body] = open_run(run, AesGcmCipher(ENC_KEY))
    assert ID_CARD.encode() not in body  # never entered, not even encrypted
    assert json.loads(body)["event"] is None


# -- the service as a real process: crash and restart mid-segment --------------------------------


class NetworkLogHarness(ServiceHarness):
    def __init__(self, stack: EmbeddedStack, tmp: Path) -> None:
        env = {
            "DSGOV_NETLOG_ENCRYPTION_KEY": ENC_KEY,
            "DSGOV_NETLOG_SIGNING_KEY": SEED,
            "DSGOV_NETLOG_SEGMENT_S": "20",
            "DSGOV_NETLOG_SEAL_INTERVAL_S": "0.5",
        }
        super().__init__(stack, tmp, "services.network_log", database="netlog", env=env)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.network_log.entrypoints.inspect_cli", *args],
            capture_output=True,
            text=True,
            cwd=CHECKOUT,
            env={**self.env, "PATH": "/usr/bin:/bin"},
            check=False,
            timeout=120,
        )


async def poll(check: Any, deadline_s: float, what: str) -> Any:
    end = time.monotonic() + deadline_s
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)  # polling interval, not synchronisation


async def test_a_crash_and_restart_mid_segment_loses_and_doubles_nothing(
    stack: EmbeddedStack, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    h = NetworkLogHarness(stack, tmp_path)
    h.restart_with(DSGOV_TEST_FAULT="crash_after_log_append")
    await h.provision()
    h.service.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    runs = client[h.database]["runs"]
    checkpoints = client[h.database]["checkpoints"]
    user = unique("restart")

    async def send(n: int, tag: str) -> None:
        for i in range(n):
            event = activity(user, ip=f"203.0.113.{i}", request_id=f"{tag}-{i}")
            await producer.send(h.topic(ACTIVITY), to_bytes(event), key=user.encode())
        review = cloud_event(
            "dsgov.user.sanctioned", {"user_id": user, "level": "warning", "strikes": 1}, subject=user
        )
        await producer.send_and_wait(h.topic("dsgov.review"), to_bytes(review), key=user.encode())

    async def count() -> int:
        return len([u async for run in runs.find({}) for u in run["u"] if u == user])

    try:
        await send(30, "before")
        # The fault stops the process right after its first append, before the offsets are committed.
        assert await asyncio.to_thread(h.service.wait_exit, 60) == CRASH_EXIT_CODE
        appended_before_crash = await count()
        assert appended_before_crash >= 1
        h.restart_with(DSGOV_TEST_FAULT="").start()  # the same segment is still open
        await send(30, "after")
        await poll(lambda: _at_least(count, 62), 60, "both batches in the log")

        async def all_sealed() -> bool:
            sealed = [int(d["seal"]["segment"]) async for d in checkpoints.find({})]
            newest = [d async for d in runs.find({}, {"seg": 1}, sort=[("pos", -1)], limit=1)]
            return bool(sealed and newest and max(sealed) >= newest[0]["seg"])

        await poll(all_sealed, 60, "every segment sealed")
        assert await count() == 62  # nothing redelivered was kept twice, nothing lost
    finally:
        h.service.stop()
        await client.close()

    keys = h.cli("keys")
    assert keys.returncode == 0, keys.stderr
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(keys.stdout)
    start = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    end = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    out = tmp_path / "restart.jsonl"
    exported = h.cli(
        "export",
        "--from",
        start,
        "--to",
        end,
        "--user",
        user,
        "--reason",
        "test",
        "--actor",
        "ci",
        "--out",
        str(out),
    )
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["entries"] == 62
    verified = h.cli("verify", str(out), "--keys", str(keys_file))
    assert verified.returncode == 0, verified.stderr
    assert "62 entries" in verified.stdout
    assert "203.0.113." not in h.service.log_tail(400)  # PI never logged


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)


async def test_the_open_segment_is_never_sealed_and_a_restart_continues_it(
    log: Log, stack: EmbeddedStack
) -> None:
    user = unique("open")
    log.clock.now = T0 + timedelta(minutes=5)
    first = [log.record(ACTIVITY, activity(user)) for _ in range(3)]
    await log.handlers.append(first)
    log.clock.now = T0 + timedelta(minutes=59)
    assert await log.handlers.seal_due() == []  # the hour is still open

    # A new process on the same store (a restart mid-segment): the redelivered records are not
    # kept twice, new ones join the same segment, and the segment is sealed once it closes.
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    try:
        common = CommonSettings(deadletter_key=TEST_SECRET, provider_ids=PROVIDER)
        restarted, store = build_handlers(log.settings, common, client[log.database], clock=log.clock)
        report = await restarted.append([*first, log.record(ACTIVITY, activity(user))])
        assert (report.appended, report.duplicates) == (1, 3)
        assert len(await stored_entries(store, user)) == 4
        log.clock.now = T0 + timedelta(hours=1)
        [checkpoint] = await restarted.seal_due()
        assert checkpoint.size == 1
        [doc] = await store.checkpoints()
        assert doc["seal"]["records"] == 4
        assert doc["seal"]["segment"] == int((T0.timestamp() * 1000) // log.settings.segment_ms)
    finally:
        await client.close()
