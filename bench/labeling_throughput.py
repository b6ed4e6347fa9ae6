"""Labels issued per second by the labeling service, and embed + verify time for a 4-megapixel JPEG.

`python -m bench.labeling_throughput` starts its own embedded broker and store and one labeling
service process, then:

1. throughput: publishes N `dsgov.output.approved` events (one image each) as fast as the
   producer can and measures `dsgov.content.labeled` events per second from the first label to
   the last (each label: ProduceID, Ed25519 signature, ledger write, outbox publish);
2. file tools: embeds a label into a 2560x1600 JPEG (4.1 MP, ~1-2 MB) and verifies it, repeatedly,
   in this process, and reports median and p95 times (content hash included in both).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import io
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from PIL import Image

from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from devtools.testing.watch import ArrivalWatch
from services.labeling.aigc import files, integrity, issue
from services.labeling.aigc.verify import verify
from shared.messaging.provisioning import provision_topics
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY

PREFIX = "bench."


def approval(i: int, run: str) -> tuple[str, bytes]:
    request = f"{run}-r{i}"
    data: dict[str, Any] = {
        "request_id": request,
        "user_id": f"{run}-u{i % 997}",
        "decision_id": f"{run}-d{i}",
        "service_type": "image_generation",
        "label_required": True,
        "content_id": f"{run}-c{i}",
        "output": {
            "media": [
                {"media_id": "m", "kind": "image", "sha256": hashlib.sha256(request.encode()).hexdigest()}
            ]
        },
    }
    return request, to_bytes(
        cloud_event("dsgov.output.approved", data, subject=request, event_id=f"{run}-{i}")
    )


async def throughput(producer: AIOKafkaProducer, watch: ArrivalWatch, n: int) -> dict[str, float]:
    run = "t" + uuid.uuid4().hex[:6]
    msgs = [approval(i, run) for i in range(n)]
    start = time.perf_counter()
    futures = [await producer.send(PREFIX + "dsgov.review", v, key=k.encode()) for k, v in msgs]
    await asyncio.gather(*futures)
    produced = time.perf_counter() - start
    ids = [f"{run}-{i}" for i in range(n)]
    await watch.wait(ids, timeout=600)
    times = sorted(watch.arrived[i] for i in ids)
    span = times[-1] - times[0]
    return {
        "approvals": n,
        "producer_rate_per_s": n / produced,
        "labels_per_s": (n - 1) / span if span > 0 else float("inf"),
        "total_s": times[-1] - start,
    }


def four_megapixel_jpeg() -> bytes:
    """2560x1600 with real detail (noise over a gradient), so the file is camera-sized."""
    size = (2560, 1600)
    noise = Image.effect_noise(size, 64).convert("RGB")
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    out = io.BytesIO()
    Image.blend(noise, gradient, 0.5).save(out, "JPEG", quality=90)
    return out.getvalue()


def file_tools(repeat: int) -> dict[str, float]:
    data = four_megapixel_jpeg()
    public = PRODUCER_KEY.public_key()
    embed_ms, verify_ms = [], []
    labeled = b""
    for i in range(repeat):
        t0 = time.perf_counter()
        label = issue.produce(
            producer_code=PRODUCER,
            produce_id=f"bench-{i}",
            content_sha256=files.content_hash(data),
            key=PRODUCER_KEY,
        )
        labeled = files.embed(data, label)
        t1 = time.perf_counter()
        report = verify(labeled, public)
        t2 = time.perf_counter()
        assert report.ok, report.findings
        embed_ms.append((t1 - t0) * 1000)
        verify_ms.append((t2 - t1) * 1000)
    embed_ms.sort()
    verify_ms.sort()
    p95 = max(0, int(repeat * 0.95) - 1)
    return {
        "bytes": len(data),
        "megapixels": 2560 * 1600 / 1e6,
        "repeat": repeat,
        "embed_median_ms": statistics.median(embed_ms),
        "embed_p95_ms": embed_ms[p95],
        "verify_median_ms": statistics.median(verify_ms),
        "verify_p95_ms": verify_ms[p95],
        "label_bytes": len(labeled) - len(data),
    }


async def main(args: argparse.Namespace) -> None:
    tools = file_tools(args.repeat)
    with tempfile.TemporaryDirectory(prefix="dsgov-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp)).start()
        service: ServiceProcess | None = None
        try:
            await provision_topics(stack.bootstrap, prefix=PREFIX)
            env = service_env(stack, prefix=PREFIX, database="bench_labeling") | {
                "DSGOV_LABELING_PROVIDER_CODE": PRODUCER,
                "DSGOV_LABELING_SIGNING_KEY": integrity.private_key_text(PRODUCER_KEY),
                "DSGOV_LOG_LEVEL": "WARNING",
            }
            service = ServiceProcess("services.labeling", env, Path(tmp) / "labeling.log").start()
            producer = AIOKafkaProducer(
                bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=256 * 1024
            )
            await producer.start()
            watch = ArrivalWatch(stack.bootstrap, PREFIX + "dsgov.labeling")
            await watch.start()
            try:
                await throughput(producer, watch, 1000)  # warm-up
                t = await throughput(producer, watch, args.n)
            finally:
                await watch.stop()
                await producer.stop()
            print_report(t, tools)
        finally:
            if service:
                service.stop()
            stack.stop()


def print_report(t: dict[str, float], tools: dict[str, float]) -> None:
    print("labeling on the embedded stack (1 service process, 4 partitions)")
    print(
        f"  throughput: {t['approvals']:.0f} approvals, {t['labels_per_s']:.0f} labels/s sustained "
        f"(producer offered {t['producer_rate_per_s']:.0f}/s; "
        f"all labeled {t['total_s']:.1f}s after the first send)"
    )
    print(
        f"  file tools, {tools['megapixels']:.1f} MP JPEG ({tools['bytes'] / 1e6:.2f} MB), "
        f"{tools['repeat']:.0f} runs: embed (hash + sign + write) median {tools['embed_median_ms']:.1f} ms, "
        f"p95 {tools['embed_p95_ms']:.1f} ms; "
        f"verify median {tools['verify_median_ms']:.1f} ms, p95 {tools['verify_p95_ms']:.1f} ms; "
        f"label adds {tools['label_bytes']:.0f} bytes"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-n", type=int, default=10_000, help="approvals for the throughput run")
    parser.add_argument("--repeat", type=int, default=20, help="embed+verify runs on the 4 MP JPEG")
    asyncio.run(main(parser.parse_args()))
