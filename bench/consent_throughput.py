"""Throughput and latency of consent decisions on the embedded stack.

    python -m bench.consent_throughput [--n 2000]

Starts its own embedded broker and store and one consent service process, publishes
`dsgov.identity.verified` for N users (and waits until the service has projected them), then:

1. burst: N grants at once (consent i: user i consents to user i+1) -> sustained decisions/s;
2. paced: M more grants at a steady rate below capacity -> per-decision latency without queueing.

Every `dsgov.consent.*` decision is timed when the recorder receives it; latency = received -
handed to the producer. In the burst, latency is mostly time spent waiting in the queue.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from shared.messaging.provisioning import provision_topics
from shared.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from shared.testing.events import cloud_event, to_bytes
from shared.testing.kafka import Recorder, Seen, start_producer

PROVIDER = "provider-bench"


def identity_event(user: str) -> dict[str, Any]:
    data = {
        "user_id": user,
        "method": "id_card",
        "age_group": "adult",
        "decided_at": datetime.now(UTC).isoformat(),
    }
    return cloud_event(
        "dsgov.identity.verified",
        data,
        subject=user,
        providerid=PROVIDER,
        source="dsgov/identity-verification",
    )


def grant_event(consent_id: str, subject: str, grantee: str) -> dict[str, Any]:
    data = {
        "consent_id": consent_id,
        "subject_id": subject,
        "grantee_user_id": grantee,
        "biometric_types": ["face"],
        "purpose": "benchmark",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "evidence": {"method": "in_app_confirmation", "notice_version": "v1", "artifact_sha256": "ab" * 32},
    }
    return cloud_event("dsgov.consent.grant-submitted", data, subject=consent_id, providerid=PROVIDER)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def wait_projected(mongo_uri: str, database: str, n: int, timeout: float) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            if await client[database]["consents"].count_documents({"state.kind": "user"}) >= n:
                return
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    raise TimeoutError(f"identity projection incomplete after {timeout}s")


@dataclass
class Phase:
    sent_at: dict[str, float]
    started: float
    published: float


async def publish(
    producer: AIOKafkaProducer, prefix: str, users: list[str], consent_ids: list[str], rate: float | None
) -> Phase:
    """Grants for `consent_ids`, as fast as possible or at `rate` per second."""
    sent_at: dict[str, float] = {}
    futures = []
    started = time.monotonic()
    for i, consent_id in enumerate(consent_ids):
        if rate:
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        event = grant_event(consent_id, users[i % len(users)], users[(i + 1) % len(users)])
        sent_at[consent_id] = time.monotonic()
        topic = prefix + "dsgov.platform.consent"
        futures.append(await producer.send(topic, to_bytes(event), key=consent_id.encode()))
    await asyncio.gather(*futures)
    return Phase(sent_at, started, time.monotonic())


def report(label: str, phase: Phase, seen: list[Seen]) -> None:
    decisions = {r.key: r for r in seen if r.key in phase.sent_at}
    n = len(phase.sent_at)
    granted = sum(1 for r in decisions.values() if r.json()["type"] == "dsgov.consent.granted")
    latencies = [decisions[k].received_at - phase.sent_at[k] for k in decisions]
    first = min(r.received_at for r in decisions.values())
    last = max(r.received_at for r in decisions.values())
    print(f"[{label}] {n} grants published in {phase.published - phase.started:.2f} s; ", end="")
    print(f"{len(decisions)} decisions ({granted} granted)")
    print(f"  end-to-end: {n / (last - phase.started):.0f} decisions/s (first grant sent -> last decision)")
    print(f"  sustained:  {(len(decisions) - 1) / (last - first):.0f} decisions/s (first -> last decision)")
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    worst, mean = max(latencies) * 1000, statistics.fmean(latencies) * 1000
    print(f"  latency:    p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms, mean {mean:.0f} ms")


async def run(n: int, paced_n: int, rate: float, workdir: Path) -> None:
    stack = EmbeddedStack(workdir).start()
    service: ServiceProcess | None = None
    try:
        prefix, database = f"bench-{uuid.uuid4().hex[:6]}.", f"consent_bench_{uuid.uuid4().hex[:6]}"
        await provision_topics(stack.bootstrap, prefix=prefix)
        env = service_env(stack, prefix=prefix, database=database, provider_id=PROVIDER)
        service = ServiceProcess("services.biometric_consent", env, workdir / "consent.log").start()
        recorder = Recorder(stack.bootstrap, [prefix + "dsgov.consent"], strip_prefix=prefix)
        await recorder.start()
        producer = await start_producer(stack.bootstrap)
        try:
            users = [f"user-{i}" for i in range(n)]
            t_id = time.monotonic()
            pending = [
                await producer.send(prefix + "dsgov.identity", to_bytes(identity_event(u)), key=u.encode())
                for u in users
            ]
            await asyncio.gather(*pending)
            await wait_projected(stack.mongo_uri, database, n, timeout=300)
            took = time.monotonic() - t_id
            print(f"identity projection: {n} users in {took:.2f} s ({n / took:.0f}/s)")

            burst = await publish(producer, prefix, users, [f"burst-{i}" for i in range(n)], rate=None)
            seen = await recorder.wait_for(lambda r: r.key in burst.sent_at, count=n, timeout=600)
            report("burst", burst, seen)
            paced = await publish(producer, prefix, users, [f"paced-{i}" for i in range(paced_n)], rate=rate)
            seen = await recorder.wait_for(lambda r: r.key in paced.sent_at, count=paced_n, timeout=600)
            report(f"paced at {rate:.0f}/s", paced, seen)
        finally:
            await producer.stop()
            await recorder.stop()
    finally:
        if service:
            service.stop()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=5000, help="users, and grants in the burst (%(default)s)")
    parser.add_argument("--paced", type=int, default=2000, help="grants in the paced phase (%(default)s)")
    parser.add_argument("--rate", type=float, default=500.0, help="paced grants per second (%(default)s)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsgov-consent-bench-") as tmp:
        asyncio.run(run(args.n, args.paced, args.rate, Path(tmp)))


if __name__ == "__main__":
    main()
