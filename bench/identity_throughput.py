"""Identity decisions through the embedded system: sustained throughput and end-to-end latency.

`make bench` (or `python -m bench.identity_throughput`) starts its own embedded broker and store
and one identity service process, then:

1. throughput: publishes N submissions as fast as the producer can and measures decisions per
   second from the first decision to the last (the service is the bottleneck, not the producer);
2. latency: publishes at a fixed rate (default 500/s) and reports p50/p99/max of the time from
   publishing a submission to receiving its decision.

Targets (issue 2, on a 2-core machine): >= 1,500 decisions/s sustained; p99 <= 250 ms at 500/s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from devtools.testing.watch import ArrivalWatch
from shared.messaging.provisioning import provision_topics

PREFIX = "bench."
ID_CARD = "11010519491231002X"


def submission(i: int, run: str) -> tuple[str, bytes]:
    user = f"{run}-u{i}"
    if i % 4 == 3:
        data: dict[str, Any] = {
            "user_id": user,
            "method": "mobile",
            "mobile": "13800138000",
            "mobile_otp_verified_at": datetime.now(UTC).isoformat(),
        }
    else:
        data = {"user_id": user, "method": "id_card", "full_name": "张三", "id_card_number": ID_CARD}
    event = cloud_event("dsgov.identity.submitted", data, subject=user, event_id=f"{run}-{i}")
    return user, to_bytes(event)


async def throughput(producer: AIOKafkaProducer, watch: ArrivalWatch, n: int) -> dict[str, float]:
    run = "t" + uuid.uuid4().hex[:6]
    msgs = [submission(i, run) for i in range(n)]
    start = time.perf_counter()
    futures = [await producer.send(PREFIX + "dsgov.platform.identity", v, key=u.encode()) for u, v in msgs]
    await asyncio.gather(*futures)
    produced = time.perf_counter() - start
    ids = [f"{run}-{i}" for i in range(n)]
    await watch.wait(ids, timeout=300)
    times = sorted(watch.arrived[i] for i in ids)
    span = times[-1] - times[0]
    return {
        "submissions": n,
        "producer_rate_per_s": n / produced,
        "decisions_per_s": (n - 1) / span if span > 0 else float("inf"),
        "total_s": times[-1] - start,
    }


async def latency(
    producer: AIOKafkaProducer, watch: ArrivalWatch, rate: int, seconds: int
) -> dict[str, float]:
    run = "l" + uuid.uuid4().hex[:6]
    n = rate * seconds
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        user, value = submission(i, run)
        sent[f"{run}-{i}"] = time.perf_counter()
        await producer.send(PREFIX + "dsgov.platform.identity", value, key=user.encode())
    await producer.flush()
    achieved = n / (time.perf_counter() - start)
    await watch.wait(list(sent), timeout=120)
    lat = sorted((watch.arrived[i] - t) * 1000 for i, t in sent.items())
    return {
        "rate_target_per_s": rate,
        "rate_achieved_per_s": achieved,
        "submissions": n,
        "p50_ms": statistics.median(lat),
        "p99_ms": lat[int(len(lat) * 0.99) - 1],
        "max_ms": lat[-1],
    }


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="dsgov-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp)).start()
        service: ServiceProcess | None = None
        try:
            await provision_topics(stack.bootstrap, prefix=PREFIX)
            env = service_env(stack, prefix=PREFIX, database="bench_identity")
            env |= {
                "DSGOV_IDENTITY_HMAC_KEY": "bench-hmac-key-0123456789abcdef0123456789",
                "DSGOV_IDENTITY_AUTHORITY_MODE": "simulator",
                "DSGOV_LOG_LEVEL": "WARNING",
            }
            service = ServiceProcess(
                "services.identity_verification", env, Path(tmp) / "identity.log"
            ).start()
            producer = AIOKafkaProducer(
                bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=256 * 1024
            )
            await producer.start()
            watch = ArrivalWatch(stack.bootstrap, PREFIX + "dsgov.identity")
            await watch.start()
            try:
                await throughput(producer, watch, 2000)  # warm-up
                t = await throughput(producer, watch, args.n)
                lat = await latency(producer, watch, args.rate, args.seconds)
            finally:
                await watch.stop()
                await producer.stop()
            print_report(t, lat)
        finally:
            if service:
                service.stop()
            stack.stop()


def print_report(t: dict[str, float], lat: dict[str, float]) -> None:
    print("identity verification on the embedded stack (1 service process, 4 partitions)")
    print(
        f"  throughput: {t['submissions']:.0f} submissions, {t['decisions_per_s']:.0f} decisions/s sustained "
        f"(producer offered {t['producer_rate_per_s']:.0f}/s; "
        f"all decided {t['total_s']:.1f}s after the first send)"
    )
    print(
        f"  latency at {lat['rate_target_per_s']:.0f}/s (achieved {lat['rate_achieved_per_s']:.0f}/s, "
        f"{lat['submissions']:.0f} submissions): p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
        f"max {lat['max_ms']:.1f} ms"
    )
    print(
        f"  targets: >= 1500 decisions/s -> {'MET' if t['decisions_per_s'] >= 1500 else 'MISSED'}; "
        f"p99 <= 250 ms at 500/s -> {'MET' if lat['p99_ms'] <= 250 else 'MISSED'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=30_000, help="submissions for the throughput run")
    parser.add_argument("--rate", type=int, default=500, help="submissions per second for the latency run")
    parser.add_argument("--seconds", type=int, default=20, help="duration of the latency run")
    asyncio.run(main(parser.parse_args()))
