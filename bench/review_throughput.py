"""Generation review: matching speed and end-to-end input decisions on the embedded stack.

    python -m bench.review_throughput [--n 5000] [--paced 3000] [--rate 300] [--skip-e2e]

1. keywords: a 100,000-entry keyword library (Latin and Chinese) compiled into the Aho-Corasick
   automaton; a 2 KB prompt matched against it (target: median under 1 ms). Reported for the
   normalised text alone and with normalisation included.
2. perceptual hashes: 1,000,000 random 64-bit hashes in the multi-index table; lookups within
   Hamming distance 10 (target: under 5 ms), for near copies of bank members and for unrelated hashes.
3. end to end: one review service process on its own embedded broker and store; N users verified,
   then N `generation.requested` at once (sustained decisions/s, target >= 1,000/s) and M more at a
   steady rate (latency from publishing to receiving the decision, target p99 <= 300 ms at 300/s).

Targets are from issue 4, on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import string
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from aiokafka import AIOKafkaConsumer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from devtools.testing.kafka import start_producer
from devtools.testing.load import Phase, percentile, publish, summary
from services.generation_review.domain.matcher import MatchEntry, Matcher
from services.generation_review.domain.normalise import normalise
from services.generation_review.domain.phash_index import PhashIndex
from shared.messaging.provisioning import provision_topics

PROVIDER = "provider-bench"
CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def show(label: str, ms: list[float]) -> None:
    print(
        f"  {label}: median {statistics.median(ms):.3f} ms, p99 {percentile(ms, 0.99):.3f} ms, "
        f"max {max(ms):.3f} ms ({len(ms)} runs)"
    )


def keyword_bench(entries: int, rng: random.Random) -> None:
    print(f"[keywords] {entries:,} keyword entries, 2 KB prompt")
    words = []
    for i in range(entries):
        if i % 2:
            words.append("".join(rng.choice(CJK) for _ in range(rng.randint(3, 6))))
        else:
            words.append("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(8, 16))))
    library = [MatchEntry(f"kw-{i}", "keyword", w, "bench", "block") for i, w in enumerate(words)]
    t0 = time.perf_counter()
    matcher = Matcher(1, library)
    print(f"  build: {time.perf_counter() - t0:.2f} s")
    latin = " ".join(
        "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(2, 9))) for _ in range(200)
    )
    chinese = "".join(rng.choice(CJK) for _ in range(250))
    prompt = latin[:900] + " " + words[0].upper() + " " + latin[900:] + words[1] + chinese
    while len(prompt.encode("utf-8")) < 2048:  # a 2 KB prompt: Latin, Chinese and two planted keywords
        prompt += rng.choice(CJK)
    normalised = normalise(prompt)
    hits = matcher.match_normalised(normalised)
    print(f"  prompt: {len(prompt)} characters, {len(prompt.encode('utf-8'))} bytes UTF-8; {len(hits)} hits")
    assert {"kw-0", "kw-1"} <= {h.entry_id for h in hits}
    show("match (normalised text)", timed(lambda: matcher.match_normalised(normalised), 2000))
    show("normalise + match (raw text)", timed(lambda: matcher.match_text(prompt), 2000))


def phash_bench(size: int, seed: int) -> None:
    print(f"[phash] {size:,} 64-bit perceptual hashes, distance <= 10")
    gen = np.random.default_rng(seed)
    bank = gen.integers(0, np.iinfo(np.int64).max, size=size, dtype=np.int64).astype(np.uint64) << np.uint64(
        1
    )
    bank ^= gen.integers(0, 2, size=size, dtype=np.int64).astype(np.uint64)
    t0 = time.perf_counter()
    index = PhashIndex(bank)
    print(f"  build: {time.perf_counter() - t0:.2f} s")
    rnd = random.Random(seed)
    near = []
    for _ in range(1000):
        q = int(bank[rnd.randrange(size)])
        for bit in rnd.sample(range(64), rnd.randint(0, 10)):
            q ^= 1 << bit
        near.append(q)
    far = [rnd.getrandbits(64) for _ in range(1000)]
    found = [len(index.within(q, 10)) for q in near]
    assert all(found), "a near copy was not found"
    near_iter, far_iter = iter(near), iter(far)
    show("near copies (found every one)", timed(lambda: index.within(next(near_iter), 10), 1000))
    show("unrelated hashes", timed(lambda: index.within(next(far_iter), 10), 1000))


# --- end to end ------------------------------------------------------------------------------


def identity_event(user: str) -> dict[str, Any]:
    data = {"user_id": user, "method": "mobile", "decided_at": datetime.now(UTC).isoformat()}
    return cloud_event(
        "dsgov.identity.verified",
        data,
        subject=user,
        providerid=PROVIDER,
        source="dsgov/identity-verification",
    )


def request_event(request_id: str, user: str, i: int) -> dict[str, Any]:
    text = f"Please write a short story number {i} about a lighthouse keeper and the sea. " * 4
    if i % 10 == 0:
        text += " demo-banned-term"  # one in ten is rejected by the demo library
    data = {
        "request_id": request_id,
        "user_id": user,
        "service_type": "text_writing",
        "input": {"text": text},
    }
    return cloud_event("dsgov.generation.requested", data, subject=request_id, providerid=PROVIDER)


class DecisionWatch:
    """Notes when each decision arrived (a consumer polling every 5 ms, unlike the test recorder)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.arrived: dict[str, tuple[float, str]] = {}
        self.strikes = 0
        self.sanctions = 0
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=None,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=5,
        )
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=50, max_records=5000)
            now = time.monotonic()
            for records in batch.values():
                for r in records:
                    event = json.loads(r.value)
                    if event["type"].startswith("dsgov.generation."):
                        self.arrived[event["subject"]] = (now, event["type"])
                        self.strikes += bool(event["data"].get("strike"))
                    elif event["type"] == "dsgov.user.sanctioned":
                        self.sanctions += 1

    async def settled(self, timeout: float) -> None:
        """Wait until every strike so far has become a sanction (the service is idle again)."""
        deadline = time.monotonic() + timeout
        while self.sanctions < self.strikes and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a count
            await asyncio.sleep(0.05)

    async def wait(self, ids: dict[str, float], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(i in self.arrived for i in ids):
                return
            await asyncio.sleep(0.05)
        raise TimeoutError(f"{sum(i not in self.arrived for i in ids)} decisions missing")

    async def stop(self) -> None:
        if self.task:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()


def requests(users: list[str], ids: list[str]) -> list[tuple[str, bytes]]:
    """Generation requests for `ids`, keyed by request id."""
    return [(r, to_bytes(request_event(r, users[i % len(users)], i))) for i, r in enumerate(ids)]


def report(label: str, phase: Phase, watch: DecisionWatch) -> None:
    decisions = {k: watch.arrived[k] for k in phase.sent_at if k in watch.arrived}
    rejected = sum(1 for _, type_ in decisions.values() if type_ == "dsgov.generation.rejected")
    arrived = {k: at for k, (at, _) in decisions.items()}
    print(summary(label, "requests", phase, arrived, f"{rejected} rejected by the library"))


async def wait_projected(mongo_uri: str, database: str, n: int, timeout: float) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    start = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            if await client[database]["reviews"].count_documents({"state.kind": "user"}) >= n:
                return
            await asyncio.sleep(0.2)
    finally:
        await client.close()
    raise TimeoutError(f"identity projection incomplete after {timeout}s")


async def end_to_end(n: int, paced_n: int, rate: float, workdir: Path) -> None:
    stack = EmbeddedStack(workdir).start()
    service: ServiceProcess | None = None
    try:
        prefix, database = f"bench-{uuid.uuid4().hex[:6]}.", f"review_bench_{uuid.uuid4().hex[:6]}"
        await provision_topics(stack.bootstrap, prefix=prefix)
        env = service_env(stack, prefix=prefix, database=database, provider_id=PROVIDER)
        env["DSGOV_REVIEW_DEMO_LIBRARY"] = "true"
        service = ServiceProcess("services.generation_review", env, workdir / "review.log").start()
        watch = DecisionWatch(stack.bootstrap, prefix + "dsgov.review")
        await watch.start()
        producer = await start_producer(stack.bootstrap)
        try:
            users = [f"user-{i}" for i in range(min(n, 2000))]
            pending = [
                await producer.send(prefix + "dsgov.identity", to_bytes(identity_event(u)), key=u.encode())
                for u in users
            ]
            await asyncio.gather(*pending)
            await wait_projected(stack.mongo_uri, database, len(users), timeout=300)
            topic = prefix + "dsgov.platform.generation"
            burst = await publish(
                producer, topic, requests(users, [f"burst-{i}" for i in range(n)]), rate=None
            )
            await watch.wait(burst.sent_at, timeout=600)
            report("burst", burst, watch)
            await watch.settled(timeout=120)  # the burst's strikes are applied before the paced phase
            print(f"  strikes applied: {watch.sanctions} of {watch.strikes}")
            paced_ids = [f"paced-{i}" for i in range(paced_n)]
            paced = await publish(producer, topic, requests(users, paced_ids), rate=rate)
            await watch.wait(paced.sent_at, timeout=600)
            report(f"paced at {rate:.0f}/s", paced, watch)
        finally:
            await producer.stop()
            await watch.stop()
    finally:
        if service:
            service.stop()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--keywords", type=int, default=100_000, help="keyword entries (%(default)s)")
    parser.add_argument("--phashes", type=int, default=1_000_000, help="perceptual hashes (%(default)s)")
    parser.add_argument("--n", type=int, default=5000, help="requests in the burst (%(default)s)")
    parser.add_argument("--paced", type=int, default=3000, help="requests in the paced phase (%(default)s)")
    parser.add_argument("--rate", type=float, default=300.0, help="paced requests per second (%(default)s)")
    parser.add_argument("--skip-e2e", action="store_true", help="only the in-memory matching figures")
    args = parser.parse_args()
    keyword_bench(args.keywords, random.Random(4))
    phash_bench(args.phashes, 4)
    if not args.skip_e2e:
        with tempfile.TemporaryDirectory(prefix="dsgov-review-bench-") as tmp:
            asyncio.run(end_to_end(args.n, args.paced, args.rate, Path(tmp)))


if __name__ == "__main__":
    main()
