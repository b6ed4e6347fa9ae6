"""network_log on the embedded stack: records ingested per second, and a streamed export.

`make bench` (or `python -m bench.network_log_throughput`) starts its own embedded broker and store,
then:

1. ingest: one network_log process; N activity records (default 100,000) are published as fast as
   the producer can; records/s is measured from the first publish to the last record durable in the
   log (and from the first to the last record stored, "sustained");
2. export: M records (default 100,000) are appended straight into a fresh log over hourly segments
   (M / 2,000 of them), sealed, then exported whole with `dsgov-inspect export` in its own process
   (wall time, peak RSS of that process, bundle size) and checked with `dsgov-inspect verify`. The
   issue asks for 1,000,000 records; that takes several minutes here, so the default measures M and
   extrapolates linearly (the export streams: its memory does not grow with M, only with the largest
   segment). `--export-n 1000000` runs the full count.

Target (issue 13, on a 2-core machine shared with other work): >= 10,000 records/s ingested.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import CHECKOUT, TEST_SECRET, EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from services.network_log.config import NetworkLogSettings
from services.network_log.entrypoints.app import build_handlers
from shared.messaging.codec import RawRecord
from shared.messaging.provisioning import provision_topics
from shared.runtime.settings import CommonSettings

PREFIX = "bench."
SEED = base64.b64encode(bytes(range(32))).decode()
ENC_KEY = "bench-netlog-encryption-key-0123456789abcdef"
BATCH = 2_000


def activity(i: int, run: str) -> tuple[str, bytes]:
    user = f"{run}-u{i % 5000}"
    data = {
        "user_id": user,
        "action": ("login", "generate", "publish", "share")[i % 4],
        "content_id": f"c-{i}" if i % 4 else None,
        "request_id": f"r-{i}",
        "source_ip": f"203.0.{(i >> 8) % 256}.{i % 256}",
        "source_port": 1024 + i % 60000,
        "device_id": f"dev-{i % 9000}",
        "user_agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0 Mobile",
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    return user, to_bytes(cloud_event("dsgov.activity.recorded", data, subject=user, event_id=f"{run}-{i}"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def stored(client: AsyncMongoClient[dict[str, Any]], database: str) -> int:
    pipeline: list[dict[str, Any]] = [{"$group": {"_id": None, "n": {"$sum": "$n"}}}]
    rows = [r async for r in await client[database]["runs"].aggregate(pipeline)]
    return int(rows[0]["n"]) if rows else 0


async def wait_stored(
    client: AsyncMongoClient[dict[str, Any]], database: str, n: int, timeout: float
) -> float:
    """Poll until `n` entries are stored; return when (time.monotonic) they were seen."""
    deadline = time.monotonic() + timeout
    while (count := await stored(client, database)) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} of {n} entries stored after {timeout} s")
        await asyncio.sleep(0.1)
    return time.monotonic()


async def ingest(stack: EmbeddedStack, tmp: Path, n: int) -> dict[str, float]:
    database = "bench_netlog_ingest"
    env = service_env(stack, prefix=PREFIX, database=database) | {
        "DSGOV_NETLOG_ENCRYPTION_KEY": ENC_KEY,
        "DSGOV_NETLOG_SIGNING_KEY": SEED,
        "DSGOV_MAX_BATCH": "5000",
        "DSGOV_LOG_LEVEL": "WARNING",
    }
    service = ServiceProcess("services.network_log", env, tmp / "network_log.log").start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri)
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=512 * 1024)
    await producer.start()
    try:
        warm = [activity(i, "warm") for i in range(5_000)]
        await asyncio.gather(
            *[await producer.send(PREFIX + "dsgov.platform.activity", v, key=k.encode()) for k, v in warm]
        )
        await wait_stored(client, database, len(warm), 120)
        run = "b" + uuid.uuid4().hex[:6]
        messages = [activity(i, run) for i in range(n)]
        assert service.popen is not None
        assert stack.mongo is not None
        pids = (service.popen.pid, stack.mongo.pid)
        cpu_before = [cpu_seconds(p) for p in pids]
        start = time.monotonic()
        futures = [
            await producer.send(PREFIX + "dsgov.platform.activity", v, key=k.encode()) for k, v in messages
        ]
        await asyncio.gather(*futures)
        published = time.monotonic()
        first_seen = None
        while first_seen is None:  # the first new entry stored (polling, 50 ms)
            if await stored(client, database) > len(warm):
                first_seen = time.monotonic()
            else:
                await asyncio.sleep(0.05)
        done = await wait_stored(client, database, len(warm) + n, 600)
        service_cpu, store_cpu = (cpu_seconds(p) - b for p, b in zip(pids, cpu_before, strict=True))
    finally:
        await producer.stop()
        await client.close()
        service.stop()
    return {
        "n": n,
        "publish_s": published - start,
        "end_to_end_per_s": n / (done - start),
        "sustained_per_s": n / max(done - first_seen, 1e-9),
        "total_s": done - start,
        "per_service_cpu_s": n / service_cpu,
        "per_store_cpu_s": n / store_cpu,
    }


async def seed(stack: EmbeddedStack, database: str, m: int) -> float:
    """Append `m` records straight into a log, BATCH per hourly segment, and seal them; seconds taken."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)
    settings = NetworkLogSettings(encryption_key=ENC_KEY, signing_key=SEED)
    common = CommonSettings(deadletter_key=TEST_SECRET, provider_ids="provider-test")
    now = [datetime(2026, 6, 1, tzinfo=UTC)]
    handlers, store = build_handlers(settings, common, client[database], clock=lambda: now[0])
    await store.ensure_indexes()
    start = time.monotonic()
    run = "e" + uuid.uuid4().hex[:6]
    try:
        for b in range(0, m, BATCH):
            records = [
                RawRecord("dsgov.platform.activity", b // BATCH % 4, i, None, activity(i, run)[1])
                for i in range(b, min(b + BATCH, m))
            ]
            await handlers.append(records)
            now[0] += timedelta(hours=1)
        await handlers.seal_due()
    finally:
        await client.close()
    return time.monotonic() - start


def cli(env: dict[str, str], *args: str) -> tuple[str, float, int]:
    """Run dsgov-inspect; (stdout, seconds, peak RSS of that process in KiB).

    The peak is the process's own high-water mark (`VmHWM`, per address space, so not inherited
    from this process as `ru_maxrss` would be), read until it exits (it only grows).
    """
    argv = [sys.executable, "-m", "services.network_log.entrypoints.inspect_cli", *args]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        child = subprocess.Popen(argv, stdout=out, stderr=err, cwd=CHECKOUT, env=env)
        peak = 0
        while child.poll() is None:
            peak = max(peak, high_water_kib(child.pid))
            time.sleep(0.05)  # sampling a running process, not synchronisation
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(
                f"dsgov-inspect {args[0]} failed: {err.read()[-2000:].decode(errors='replace')}"
            )
        return out.read().decode(), seconds, peak


def high_water_kib(pid: int) -> int:
    """VmHWM of a running process in KiB (0 once it is gone)."""
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmHWM:"):
                return int(row.split()[1])
    except OSError:
        pass
    return 0


async def export(stack: EmbeddedStack, tmp: Path, m: int) -> dict[str, float]:
    database = "bench_netlog_export"
    seeded_s = await seed(stack, database, m)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DSGOV_MONGO_URI": stack.mongo_uri,
        "DSGOV_MONGO_DATABASE": database,
        "DSGOV_NETLOG_ENCRYPTION_KEY": ENC_KEY,
        "DSGOV_NETLOG_SIGNING_KEY": SEED,
    }
    keys, _, baseline_rss = cli(env, "keys")  # the same program doing nothing: its baseline memory
    (tmp / "keys.json").write_text(keys)
    bundle = tmp / "bundle.jsonl"
    args = ["--from", "2026-01-01T00:00:00+00:00", "--to", "2027-01-01T00:00:00+00:00"]
    exported, export_s, export_rss = cli(
        env, "export", *args, "--reason", "benchmark", "--actor", "bench", "--out", str(bundle)
    )
    entries = json.loads(exported)["entries"]
    verified, verify_s, verify_rss = cli(env, "verify", str(bundle), "--keys", str(tmp / "keys.json"))
    return {
        "m": m,
        "entries": entries,
        "seed_s": seeded_s,
        "export_s": export_s,
        "export_rss_mib": export_rss / 1024,
        "baseline_rss_mib": baseline_rss / 1024,
        "verify_rss_mib": verify_rss / 1024,
        "bundle_mib": bundle.stat().st_size / 2**20,
        "verify_s": verify_s,
        "verified": float("OK" in verified),
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dsgov-bench-") as tmpdir:
        tmp = Path(tmpdir)
        stack = EmbeddedStack(tmp).start()
        try:
            await provision_topics(stack.bootstrap, prefix=PREFIX)
            i = await ingest(stack, tmp, args.n)
            e = await export(stack, tmp, args.export_n)
        finally:
            stack.stop()
    report(i, e)


def report(i: dict[str, float], e: dict[str, float]) -> None:
    scale = 1_000_000 / e["m"]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print("network_log on the embedded stack (1 service process, 4 partitions, batches up to 5,000)")
    print(f"  machine: {os.cpu_count()} cores, load average {load} (other work shares them)")
    print(
        f"  ingest: {i['n']:.0f} activity records published in {i['publish_s']:.1f} s; "
        f"{i['end_to_end_per_s']:.0f} records/s end to end (first publish -> last durable), "
        f"{i['sustained_per_s']:.0f}/s sustained (first -> last stored)"
    )
    print(
        f"  capacity (independent of the load): {i['per_service_cpu_s']:.0f} records per CPU-second of "
        f"the service, {i['per_store_cpu_s']:.0f} per CPU-second of the store (separate processes)"
    )
    print(
        f"  export: {e['entries']:.0f} records in {e['m'] / BATCH:.0f} sealed hourly segments "
        f"(seeded and sealed in {e['seed_s']:.1f} s): {e['export_s']:.1f} s, "
        f"{e['entries'] / e['export_s']:.0f} records/s, peak RSS {e['export_rss_mib']:.0f} MiB "
        f"(the CLI doing nothing: {e['baseline_rss_mib']:.0f} MiB), "
        f"bundle {e['bundle_mib']:.0f} MiB; verify {e['verify_s']:.1f} s, "
        f"peak RSS {e['verify_rss_mib']:.0f} MiB "
        f"({'OK' if e['verified'] else 'FAILED'})"
    )
    if e["m"] < 1_000_000:
        print(
            f"  1,000,000 records extrapolated (linear, x{scale:.1f}): "
            f"export ~{e['export_s'] * scale:.0f} s, "
            f"bundle ~{e['bundle_mib'] * scale:.0f} MiB, verify ~{e['verify_s'] * scale:.0f} s; "
            "memory stays flat (streamed, bounded by the largest segment)"
        )
    met = "MET" if i["end_to_end_per_s"] >= 10_000 else "MISSED"
    print(f"  target: >= 10,000 records/s ingested -> {met}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=100_000, help="activity records for the ingest run")
    parser.add_argument("--export-n", type=int, default=100_000, help="records in the exported log")
    asyncio.run(main(parser.parse_args()))
