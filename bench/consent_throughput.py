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
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from devtools.testing.kafka import Recorder, Seen, start_producer
from devtools.testing.load import Phase, publish, summary
from shared.messaging.provisioning import provision_topics

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


def grants(users: list[str], consent_ids: list[str]) -> list[tuple[str, bytes]]:
    """Grants for `consent_ids`, keyed by consent id."""
    return [
        (c, to_bytes(grant_event(c, users[i % len(users)], users[(i + 1) % len(users)])))
        for i, c in enumerate(consent_ids)
    ]


def report(label: str, phase: Phase, seen: list[Seen]) -> None:
    decisions = {r.key: r for r in seen if r.key in phase.sent_at}
    granted = sum(1 for r in decisions.values() if r.json()["type"] == "dsgov.consent.granted")
    arrived = {k: r.received_at for k, r in decisions.items() if k is not None}
    print(summary(label, "grants", phase, arrived, f"{granted} granted"))


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

            topic = prefix + "dsgov.platform.consent"
            burst = await publish(producer, topic, grants(users, [f"burst-{i}" for i in range(n)]), rate=None)
            seen = await recorder.wait_for(lambda r: r.key in burst.sent_at, count=n, timeout=600)
            report("burst", burst, seen)
            paced_ids = [f"paced-{i}" for i in range(paced_n)]
            paced = await publish(producer, topic, grants(users, paced_ids), rate=rate)
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
