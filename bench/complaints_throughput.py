"""Complaint tickets received through the embedded system (issue 12 target: >= 2,000 tickets/s).

`make bench` (or `python -m bench.complaints_throughput`) starts its own embedded broker and store
and one complaints service process, then publishes N `dsgov.complaint.submitted` as fast as the
producer can (a burst) and at a paced rate, and measures `dsgov.complaint.received` per second and
the end-to-end latency (deadline computed in PRC working days, one ticket written per complaint).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from devtools.testing.calendar import calendar_supplement
from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from devtools.testing.load import publish, summary
from devtools.testing.watch import ArrivalWatch
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.provisioning import provision_topics

PREFIX = "bench."
KINDS = ("complaint", "report", "appeal", "rights_request")


def submissions(run: str, n: int) -> list[tuple[str, bytes]]:
    """(complaint id, event bytes); the event id is the complaint id, so arrivals key on it."""
    out = []
    for i in range(n):
        cid = f"{run}-{i}"
        kind = KINDS[i % len(KINDS)]
        data = {
            "complaint_id": cid,
            "kind": kind,
            "complainant_user_id": f"u{i % 5000}",
            "target": {"type": "content", "id": f"content-{i}"},
            "category": "rumour",
            "text": "这条视频是伪造的 请处理",
        }
        out.append((cid, to_bytes(cloud_event(T.COMPLAINT_SUBMITTED, data, subject=cid, event_id=cid))))
    return out


async def main(args: argparse.Namespace) -> None:
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="dsgov-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp)).start()
        service: ServiceProcess | None = None
        try:
            await provision_topics(stack.bootstrap, prefix=PREFIX)
            env = service_env(stack, prefix=PREFIX, database="bench_complaints")
            env |= {
                "DSGOV_LOG_LEVEL": "WARNING",
                "DSGOV_COMPLAINTS_CALENDAR_SUPPLEMENT": str(calendar_supplement(Path(tmp))),
            }
            service = ServiceProcess("services.complaints", env, Path(tmp) / "complaints.log").start()
            producer = AIOKafkaProducer(
                bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=256 * 1024
            )
            await producer.start()
            watch = ArrivalWatch(stack.bootstrap, PREFIX + topics.COMPLAINT)
            await watch.start()
            topic = PREFIX + topics.PLATFORM_COMPLAINTS
            try:
                warm = submissions("warm", 1000)
                await publish(producer, topic, warm, rate=None)
                await watch.wait([k for k, _ in warm], timeout=120)
                burst = submissions("burst", args.n)
                phase = await publish(producer, topic, burst, rate=None)
                await watch.wait(list(phase.sent_at), timeout=600)
                print(summary("burst", "complaints", phase, _monotonic(watch), "received"))
                paced = submissions("paced", args.rate * args.seconds)
                phase = await publish(producer, topic, paced, rate=args.rate)
                await watch.wait(list(phase.sent_at), timeout=300)
                print(summary(f"paced {args.rate}/s", "complaints", phase, _monotonic(watch), "received"))
            finally:
                await watch.stop()
                await producer.stop()
        finally:
            if service:
                service.stop()
            stack.stop()
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def _monotonic(watch: ArrivalWatch) -> dict[str, float]:
    # ArrivalWatch stamps perf_counter(); the publisher stamps monotonic(): shift onto one clock.
    shift = time.monotonic() - time.perf_counter()
    return {str(k): t + shift for k, t in watch.arrived.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=20_000, help="complaints in the burst")
    parser.add_argument("--rate", type=int, default=500, help="complaints per second in the paced run")
    parser.add_argument("--seconds", type=int, default=10, help="duration of the paced run")
    asyncio.run(main(parser.parse_args()))
