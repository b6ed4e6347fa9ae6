"""Regulator reports through the embedded system, and the speed of the regulator's `verify`.

`python -m bench.reporting_throughput` starts its own embedded broker and store and one
regulator_reporting process, then:

1. end to end: publishes N reportable review decisions (inputs blocked for prohibited content,
   DS-10.2/10.3) as fast as the producer can and measures reports per second from the first
   report on `dsgov.regulator.reports` to the last (ingest, number, sign, store, publish at once);
2. sign and publish: lets the service ingest N more decisions with its sequencer idle, then
   restarts it and measures how fast the backlog of incidents is numbered, signed, stored and
   published (the stage the target is about);
3. verify on the wire: reads that stream back from the topic with the CLI's reader and verifies
   it (signatures, hash chain, gap-free sequence);
4. verify in process: builds 100,000 chained, signed reports with the service's own pure
   functions and verifies them with `verification.verify_stream`.

Target (issue 7, on a 2-core machine): >= 2,000 reports/s signed and published.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from services.regulator_reporting.chain import GENESIS_HASH, KeyRing, PublicKey, Signer
from services.regulator_reporting.domain import incidents as inc
from services.regulator_reporting.domain.reports import Head, pending_of
from services.regulator_reporting.outbound import build_report
from services.regulator_reporting.regulator_cli import read_topic
from services.regulator_reporting.verification import StreamRecord, verify_stream
from shared.messaging.codec import encode
from shared.messaging.provisioning import provision_topics

PREFIX = "bench."
REPORTS = PREFIX + "dsgov.regulator.reports"


def decision(run: str, i: int) -> tuple[bytes, bytes]:
    request = f"{run}-r{i}"
    data: dict[str, Any] = {
        "request_id": request,
        "user_id": f"{run}-u{i % 97}",
        "decision_id": f"{run}-d{i}",
        "reasons": [{"code": "prohibited_content", "article": "DS-10.2", "detail": "library hit"}],
        "library_version": 7,
    }
    event = cloud_event("dsgov.generation.rejected", data, subject=request, event_id=f"{run}-{i}")
    return request.encode(), to_bytes(event)


class ReportWatch:
    """Consumes the reports topic and notes when each sequence number first arrived."""

    def __init__(self, bootstrap: str) -> None:
        self.arrived: dict[int, float] = {}
        self.consumer = AIOKafkaConsumer(
            REPORTS,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
        )

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    self.arrived.setdefault(json.loads(r.value)["data"]["sequence"], now)

    async def wait(self, upto: int, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if len(self.arrived) >= upto:
                return
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{upto - len(self.arrived)} of {upto} reports did not arrive within {timeout}s")

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()


async def throughput(producer: AIOKafkaProducer, watch: ReportWatch, n: int) -> dict[str, float]:
    run = "t" + uuid.uuid4().hex[:6]
    before = len(watch.arrived)
    msgs = [decision(run, i) for i in range(n)]
    start = time.perf_counter()
    futures = [await producer.send(PREFIX + "dsgov.review", v, key=k) for k, v in msgs]
    await asyncio.gather(*futures)
    produced = time.perf_counter() - start
    await watch.wait(before + n, timeout=600)
    times = sorted(watch.arrived[s] for s in range(before + 1, before + n + 1))
    span = times[-1] - times[0]
    return {
        "events": n,
        "producer_rate_per_s": n / produced,
        "reports_per_s": (n - 1) / span if span > 0 else float("inf"),
        "total_s": times[-1] - start,
    }


async def backlog(
    stack: EmbeddedStack, env: dict[str, str], tmp: Path, watch: ReportWatch, n: int
) -> dict[str, float]:
    """Ingest `n` decisions with the sequencer idle, then time numbering, signing and publishing them."""
    from pymongo import AsyncMongoClient

    idle = ServiceProcess(
        "services.regulator_reporting", env | {"DSGOV_REPORTING_INTERVAL_S": "3600"}, tmp / "idle.log"
    )
    idle.start()
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=256 * 1024)
    await producer.start()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri)
    try:
        run = "b" + uuid.uuid4().hex[:6]
        for i in range(n):
            key, value = decision(run, i)
            await producer.send(PREFIX + "dsgov.review", value, key=key)
        await producer.flush()
        due = {"state.due_ms": {"$lt": inc.NEVER}}
        deadline = time.perf_counter() + 600
        while await client["bench_reporting"]["incidents"].count_documents(due) < n:
            if time.perf_counter() > deadline:
                raise TimeoutError("the backlog was not ingested")
            await asyncio.sleep(0.5)
    finally:
        idle.stop()
        await producer.stop()
        await client.close()
    before = len(watch.arrived)
    service = ServiceProcess("services.regulator_reporting", env, tmp / "backlog.log").start()
    try:
        await watch.wait(before + n, timeout=600)
    finally:
        service.stop()
    times = sorted(watch.arrived[s] for s in range(before + 1, before + n + 1))
    return {"reports": n, "reports_per_s": (n - 1) / (times[-1] - times[0])}


async def verify_topic(bootstrap: str, signer: Signer) -> dict[str, float]:
    start = time.perf_counter()
    records = await read_topic(bootstrap, REPORTS)
    read = time.perf_counter() - start
    result = verify_stream(records, KeyRing([PublicKey(signer.key_id, signer.public_key)]))
    total = time.perf_counter() - start
    if not result.ok:
        raise AssertionError(f"the stream did not verify: {result.failure}")
    return {"records": len(records), "read_s": read, "verify_s": total - read, "total_s": total}


def verify_in_process(n: int) -> dict[str, float]:
    signer = Signer.from_seed("bench", os.urandom(32))
    policy, now = inc.Policy(), datetime.now(UTC)
    now_ms = int(now.timestamp() * 1000)
    start = time.perf_counter()
    head, records = Head(0, GENESIS_HASH), []
    for i in range(n):
        obs = inc.Blocked(
            "input", f"r{i}", f"u{i % 97}", f"d{i}", (("prohibited_content", "DS-10.2"),), now_ms
        )
        state = inc.fold(None, "bench-provider", obs, inc.EventRef(f"e{i}", f"e{i}"), now_ms, policy)
        event = build_report(pending_of(f"a{i}", state), head, signer, now)
        head = Head(head.sequence + 1, event.data["hash"])
        records.append(StreamRecord(f"line {i + 1}", encode(event)))
    built = time.perf_counter() - start
    start = time.perf_counter()
    result = verify_stream(records, KeyRing([PublicKey(signer.key_id, signer.public_key)]))
    verified = time.perf_counter() - start
    if not result.ok:
        raise AssertionError(f"the generated stream did not verify: {result.failure}")
    return {"reports": n, "build_per_s": n / built, "verify_per_s": n / verified, "verify_s": verified}


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dsgov-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp)).start()
        service: ServiceProcess | None = None
        try:
            await provision_topics(stack.bootstrap, prefix=PREFIX)
            seed = base64.b64encode(os.urandom(32)).decode()
            env = service_env(stack, prefix=PREFIX, database="bench_reporting") | {
                "DSGOV_REPORTING_SIGNING_KEY": seed,
                "DSGOV_REPORTING_KEY_ID": "bench-1",
                "DSGOV_REPORTING_BATCH": str(args.batch),
                "DSGOV_LOG_LEVEL": "WARNING",
            }
            service = ServiceProcess("services.regulator_reporting", env, Path(tmp) / "reporting.log").start()
            producer = AIOKafkaProducer(
                bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=256 * 1024
            )
            await producer.start()
            watch = ReportWatch(stack.bootstrap)
            await watch.start()
            try:
                await throughput(producer, watch, 1000)  # warm-up
                t = await throughput(producer, watch, args.n)
                await producer.stop()
                service.stop()
                b = await backlog(stack, env, Path(tmp), watch, args.n)
            finally:
                await watch.stop()
                await producer.stop()
            wire = await verify_topic(stack.bootstrap, Signer.from_seed("bench-1", base64.b64decode(seed)))
        finally:
            if service:
                service.stop()
            stack.stop()
    local = verify_in_process(args.verify_n)
    print_report(t, b, wire, local, args.batch)


def print_report(
    t: dict[str, float], b: dict[str, float], wire: dict[str, float], local: dict[str, float], batch: int
) -> None:
    print(f"regulator reporting on the embedded stack (1 service process, batch {batch})")
    print(
        f"  end to end: {t['events']:.0f} reportable events -> {t['reports_per_s']:.0f} reports/s ingested, "
        f"signed, chained, stored and published (producer offered {t['producer_rate_per_s']:.0f}/s; "
        f"all reported {t['total_s']:.1f}s after the first send)"
    )
    print(
        f"  sign and publish: a backlog of {b['reports']:.0f} incidents -> "
        f"{b['reports_per_s']:.0f} reports/s numbered, signed, stored and published"
    )
    print(
        f"  verify from the topic: {wire['records']:.0f} records read in {wire['read_s']:.2f}s, "
        f"verified in {wire['verify_s']:.2f}s ({wire['records'] / wire['verify_s']:.0f}/s)"
    )
    print(
        f"  verify in process: {local['reports']:.0f} reports built and signed at "
        f"{local['build_per_s']:.0f}/s, verified in {local['verify_s']:.1f}s "
        f"({local['verify_per_s']:.0f} reports/s)"
    )
    met = "MET" if b["reports_per_s"] >= 2000 else "MISSED"
    print(f"  target: >= 2000 reports/s signed and published -> {met} ({b['reports_per_s']:.0f}/s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=20_000, help="reportable events for the throughput run")
    parser.add_argument("--verify-n", type=int, default=100_000, help="reports generated for the verify run")
    parser.add_argument("--batch", type=int, default=2000, help="DSGOV_REPORTING_BATCH of the service")
    asyncio.run(main(parser.parse_args()))
