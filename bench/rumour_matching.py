"""Rumour matching (DS-11): quality on the labelled corpus, search speed, and the service end to end.

    python -m bench.rumour_matching quality            # precision/recall table (docs/rumour-matching.md)
    python -m bench.rumour_matching search [-n 200000] # in-process: determinations against N outputs
    python -m bench.rumour_matching e2e                # embedded stack: one service process
    python -m bench.rumour_matching all

`search` indexes N synthetic outputs (Chinese and English, 20-1,500 characters, some with media
hashes; every 1,000th carries one of the corpus claims) and times `ContentIndex.search` for each
corpus claim: the matching a determination does. Target: < 500 ms at 200,000 outputs.

`e2e` starts its own embedded broker and store and one service process, indexes outputs through
Kafka, then measures (1) a determination: from sending it to its `rumour.recorded` and to the last
takedown; (2) notices per second: a rumour reaching R distinct recipients (from the first notice
to the last; target >= 5,000/s); (3) the start-up rebuild of the index from the store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import cloud_event, to_bytes
from services.rumour_refutation.config import RumourSettings
from services.rumour_refutation.domain import fingerprint as fp
from services.rumour_refutation.domain.index import Claim, ContentIndex, MediaHash, Thresholds
from shared.messaging.provisioning import provision_topics
from tests.unit.rumour_refutation.corpus import FILLER, NEGATIVE_KINDS, POSITIVE_KINDS, RUMOURS, build

PREFIX = "bench."
DATABASE = "bench_rumour"
THRESHOLDS = RumourSettings().thresholds()


# quality ----------------------------------------------------------------------------------------


def quality(thresholds: list[float]) -> list[dict[str, Any]]:
    """Every claim against every corpus output, scored once; counts at each threshold."""
    outputs = build()
    index = ContentIndex()
    for o in outputs:
        index.add(o.output_id, fp.output_sketches(o.text), [])
    kind_of = {o.output_id: o.kind for o in outputs}
    carries = {o.output_id: o.carries for o in outputs}
    scores: list[tuple[float, bool, str]] = []  # (score, positive, kind) for every pair with a score
    for r in RUMOURS:
        claim = Claim(tuple(fp.claim_sketches(r.claim)))
        found = {m.content_id: m.score for m in index.search(claim, Thresholds(text=0.0001))}
        scores += [
            (found.get(o.output_id, 0.0), carries[o.output_id] == r.key, kind_of[o.output_id])
            for o in outputs
        ]
    rows = []
    positives = sum(1 for _, p, _ in scores if p)
    for t in thresholds:
        tp = sum(1 for s, p, _ in scores if p and s >= t)
        fp_ = sum(1 for s, p, _ in scores if not p and s >= t)
        row: dict[str, Any] = {
            "threshold": t,
            "tp": tp,
            "fp": fp_,
            "fn": positives - tp,
            "precision": tp / (tp + fp_) if tp + fp_ else 1.0,
            "recall": tp / positives,
        }
        for kind in POSITIVE_KINDS:
            pos = [s for s, p, k in scores if p and k == kind]
            row[kind] = sum(1 for s in pos if s >= t) / len(pos)
        for kind in NEGATIVE_KINDS:
            row[kind] = sum(1 for s, p, k in scores if not p and k == kind and s >= t)
        rows.append(row)
    return rows


def print_quality(rows: list[dict[str, Any]]) -> None:
    outputs = build()
    pairs = len(outputs) * len(RUMOURS)
    positives = sum(1 for o in outputs if o.carries)
    print(f"quality: {len(RUMOURS)} claims x {len(outputs)} outputs = {pairs} pairs, {positives} positive")
    head = (
        "| threshold | precision | recall | TP | FP | FN | "
        + " | ".join(POSITIVE_KINDS + NEGATIVE_KINDS)
        + " |"
    )
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        cells = [
            f"{r['threshold']:.2f}",
            f"{r['precision']:.3f}",
            f"{r['recall']:.3f}",
            r["tp"],
            r["fp"],
            r["fn"],
        ]
        cells += [f"{r[k]:.2f}" for k in POSITIVE_KINDS] + [str(r[k]) for k in NEGATIVE_KINDS]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print("(positive kinds: share found; negative kinds: false matches)")


# synthetic outputs ------------------------------------------------------------------------------

_CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def synthetic_text(rng: random.Random, i: int) -> str:
    """A synthetic output: filler sentences and random words, 20-1,500 characters; every 1,000th
    carries a corpus claim."""
    lang = "zh" if i % 2 else "en"
    roll = rng.random()
    target = (
        rng.randint(20, 60) if roll < 0.3 else rng.randint(100, 500) if roll < 0.8 else rng.randint(500, 1500)
    )
    parts: list[str] = []
    size = 0
    while size < target:
        if rng.random() < 0.5:
            part = rng.choice(FILLER[lang])
        elif lang == "zh":
            part = "".join(rng.choices(_CJK, k=rng.randint(8, 30))) + "。"
        else:
            part = " ".join(f"w{rng.getrandbits(20):x}" for _ in range(rng.randint(4, 12))) + "."
        parts.append(part)
        size += len(part)
    if i % 1000 == 0:
        parts.insert(rng.randrange(len(parts) + 1), RUMOURS[(i // 1000) % len(RUMOURS)].claim)
    return ("" if lang == "zh" else " ").join(parts)


def synthetic_media(rng: random.Random) -> list[MediaHash]:
    if rng.random() < 0.3:
        return [MediaHash(f"{rng.getrandbits(256):064x}", f"{rng.getrandbits(64):016x}")]
    return []


# search (in-process) ----------------------------------------------------------------------------


def search_bench(n: int, seed: int = 1) -> dict[str, float]:
    rng = random.Random(seed)
    index = ContentIndex()
    chars = 0
    start = time.perf_counter()
    for i in range(n):
        text = synthetic_text(rng, i)
        chars += len(text)
        index.add(f"c{i}", fp.output_sketches(text), synthetic_media(rng))
    built = time.perf_counter() - start
    times, found = [], []
    for r in RUMOURS:
        claim = Claim(tuple(fp.claim_sketches(r.claim)), (MediaHash("0" * 64, "0123456789abcdef"),))
        t0 = time.perf_counter()
        matches = index.search(claim, THRESHOLDS)
        times.append((time.perf_counter() - t0) * 1000)
        found.append(len(matches))
    rows = index._rows.count  # a benchmark may look inside
    return {
        "outputs": n,
        "avg_chars": chars / n,
        "windows": rows,
        "index_mib": rows * (fp.NUM_PERM + 4) / 2**20,
        "build_s": built,
        "search_p50_ms": statistics.median(times),
        "search_max_ms": max(times),
        "search_mean_ms": statistics.fmean(times),
        "claims": len(times),
        "found_mean": statistics.fmean(found),
        "expected_mean": n / 1000 / len(RUMOURS),
    }


def print_search(s: dict[str, float]) -> None:
    print(
        f"search: {s['outputs']:.0f} outputs (avg {s['avg_chars']:.0f} chars, {s['windows']:.0f} windows, "
        f"index {s['index_mib']:.0f} MiB), built in {s['build_s']:.1f}s"
    )
    print(
        f"  determination matching over {s['claims']:.0f} claims: p50 {s['search_p50_ms']:.1f} ms, "
        f"mean {s['search_mean_ms']:.1f} ms, max {s['search_max_ms']:.1f} ms; "
        f"found {s['found_mean']:.1f} per claim (planted ~{s['expected_mean']:.1f})"
    )
    print(f"  target: matches found in < 500 ms -> {'MET' if s['search_max_ms'] < 500 else 'MISSED'}")


# end to end (embedded stack) --------------------------------------------------------------------


class Watch:
    """Consumes dsgov.rumour and notes when each event arrived."""

    def __init__(self, bootstrap: str) -> None:
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self.consumer = AIOKafkaConsumer(
            PREFIX + "dsgov.rumour", bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
        )

    async def start(self) -> None:
        await self.consumer.start()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=50, max_records=10_000)
            now = time.perf_counter()
            for records in batch.values():
                self.seen += [(now, json.loads(r.value)) for r in records]

    def of(self, type_: str, notice_id: str) -> list[tuple[float, dict[str, Any]]]:
        return [
            (t, e) for t, e in self.seen if e["type"] == type_ and e["data"].get("notice_id") == notice_id
        ]

    async def wait(
        self, type_: str, notice_id: str, count: int, timeout: float
    ) -> list[tuple[float, dict[str, Any]]]:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if len(found := self.of(type_, notice_id)) >= count:
                return found
            await asyncio.sleep(0.02)
        raise TimeoutError(f"{len(self.of(type_, notice_id))} of {count} {type_} within {timeout}s")

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.consumer.stop()


async def _send_all(producer: AIOKafkaProducer, messages: list[tuple[str, str, bytes]]) -> None:
    futures = [await producer.send(PREFIX + topic, value, key=key.encode()) for topic, key, value in messages]
    await asyncio.gather(*futures)


def _completed(content_id: str, text: str) -> tuple[str, str, bytes]:
    data = {"request_id": "r-" + content_id, "content_id": content_id, "output": {"text": text}}
    event = cloud_event("dsgov.generation.completed", data, subject="r-" + content_id)
    return "dsgov.platform.generation", "r-" + content_id, to_bytes(event)


def _distributed(content_id: str, recipients: list[str]) -> tuple[str, str, bytes]:
    data = {
        "content_id": content_id,
        "distribution_id": uuid.uuid4().hex,
        "recipients": recipients,
        "channel": "feed",
        "explicit_label_kept": True,
    }
    return (
        "dsgov.platform.distribution",
        content_id,
        to_bytes(cloud_event("dsgov.content.distributed", data, subject=content_id)),
    )


def _determined(notice_id: str, claim: str) -> tuple[str, str, bytes]:
    data = {"notice_id": notice_id, "claim_text": claim, "refutation_text": "false", "severity": "high"}
    return (
        "dsgov.regulator.notices",
        notice_id,
        to_bytes(cloud_event("dsgov.rumour.determined", data, subject=notice_id)),
    )


async def e2e(outputs: int, recipients: int, carriers: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dsgov-bench-") as tmp:
        stack = EmbeddedStack(Path(tmp)).start()
        service: ServiceProcess | None = None
        try:
            await provision_topics(stack.bootstrap, prefix=PREFIX)
            env = service_env(stack, prefix=PREFIX, database=DATABASE) | {"DSGOV_LOG_LEVEL": "WARNING"}
            service = ServiceProcess("services.rumour_refutation", env, Path(tmp) / "rumour.log").start()
            producer = AIOKafkaProducer(
                bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=512 * 1024
            )
            await producer.start()
            watch = Watch(stack.bootstrap)
            await watch.start()
            try:
                result = await _e2e_runs(producer, watch, stack.mongo_uri, outputs, recipients, carriers)
                service.stop()
                t0 = time.perf_counter()
                service = ServiceProcess("services.rumour_refutation", env, Path(tmp) / "rumour2.log").start()
                result["restart_ready_s"] = time.perf_counter() - t0
                notice = "bench-after-restart"
                t1 = time.perf_counter()
                await _send_all(producer, [_determined(notice, RUMOURS[1].claim)])
                [(arrived, rec)] = await watch.wait("dsgov.rumour.recorded", notice, 1, 120)
                result["after_restart_recorded_ms"] = (arrived - t1) * 1000
                result["after_restart_matches"] = len(rec["data"]["matched_content_ids"])
            finally:
                await watch.stop()
                await producer.stop()
            return result
        finally:
            if service:
                service.stop()
            stack.stop()


async def _stored(mongo_uri: str, collection: str, query: dict[str, Any], count: int, timeout: float) -> None:
    """Poll the service's store until `count` documents match: the inputs are all handled."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri)
    try:
        deadline = time.perf_counter() + timeout
        while (found := await client[DATABASE][collection].count_documents(query)) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{found} of {count} documents in {collection} within {timeout}s")
            await asyncio.sleep(0.5)  # counting is not free on the embedded store
    finally:
        await client.close()


async def _e2e_runs(
    producer: AIOKafkaProducer, watch: Watch, mongo_uri: str, outputs: int, recipients: int, carriers: int
) -> dict[str, float]:
    rng = random.Random(2)
    result: dict[str, float] = {"outputs": outputs, "recipients": recipients, "carriers": carriers}
    claim = RUMOURS[0].claim
    # 1. index outputs through Kafka; every 200th carries the claim of the determination below
    texts = [synthetic_text(rng, i) + (claim if i % 200 == 0 else "") for i in range(outputs)]
    t0 = time.perf_counter()
    await _send_all(producer, [_completed(f"o{i}", text) for i, text in enumerate(texts)])
    await _stored(mongo_uri, "rumour", {"state.indexed_ms": {"$gte": 1}}, outputs, 600)
    result["index_per_s"] = outputs / (time.perf_counter() - t0)
    # 2. one determination against the index
    planted = {f"o{i}" for i, text in enumerate(texts) if claim in text}
    notice = "bench-determination"
    t1 = time.perf_counter()
    await _send_all(producer, [_determined(notice, claim)])
    [(recorded_at, recorded)] = await watch.wait("dsgov.rumour.recorded", notice, 1, 120)
    takedowns = await watch.wait("dsgov.content.takedown-required", notice, len(planted), 120)
    result["determination_recorded_ms"] = (recorded_at - t1) * 1000
    result["determination_takedowns_ms"] = (max(t for t, _ in takedowns) - t1) * 1000
    result["determination_matches"] = len(recorded["data"]["matched_content_ids"])
    result["planted"] = len(planted)
    result["planted_found"] = len(planted & set(recorded["data"]["matched_content_ids"]))
    # 3. fan-out: `carriers` outputs carrying another claim, distributed to `recipients` distinct users
    fan_claim = RUMOURS[12].claim
    users = [f"u{i:07d}" for i in range(recipients)]
    share = -(-recipients // carriers)
    msgs, lists = [], 0
    for c in range(carriers):
        msgs.append(_completed(f"carrier{c}", f"The weather was mild today. {fan_claim}"))
        group = users[c * share : (c + 1) * share]
        msgs += [_distributed(f"carrier{c}", group[j : j + 5000]) for j in range(0, len(group), 5000)]
        lists += -(-len(group) // 5000)
    await _send_all(producer, msgs)
    await _stored(mongo_uri, "recipient_lists", {}, lists, 600)
    await _stored(mongo_uri, "rumour", {"state.indexed_ms": {"$gte": 1}}, outputs + carriers, 600)
    fan = "bench-fanout"
    t2 = time.perf_counter()
    await _send_all(producer, [_determined(fan, fan_claim)])
    told = await watch.wait("dsgov.refutation.notice", fan, recipients, 600)
    first, last = min(t for t, _ in told), max(t for t, _ in told)
    result["notices"] = len({e["data"]["recipient_user_id"] for _, e in told})
    result["notices_per_s"] = (len(told) - 1) / (last - first) if last > first else float("inf")
    result["first_notice_s"] = first - t2
    result["fanout_total_s"] = last - t2
    return result


def print_e2e(r: dict[str, float]) -> None:
    print("end to end on the embedded stack (1 service process, 4 partitions)")
    print(f"  indexing: {r['outputs']:.0f} outputs through Kafka at {r['index_per_s']:.0f}/s")
    print(
        f"  determination against {r['outputs']:.0f} outputs: rumour.recorded after "
        f"{r['determination_recorded_ms']:.0f} ms, last of {r['planted']:.0f} planted takedowns after "
        f"{r['determination_takedowns_ms']:.0f} ms "
        f"({r['planted_found']:.0f} of {r['planted']:.0f} planted found, "
        f"{r['determination_matches']:.0f} matched in all)"
    )
    print(
        f"  fan-out: {r['notices']:.0f} distinct recipients of {r['carriers']:.0f} outputs notified at "
        f"{r['notices_per_s']:.0f} notices/s (first to last); first {r['first_notice_s']:.2f}s, "
        f"last {r['fanout_total_s']:.2f}s after the determination was sent"
    )
    print(
        "  restart: ready (index rebuilt from the store, consumer group joined) in "
        f"{r['restart_ready_s']:.1f}s; "
        f"a new determination recorded {r['after_restart_recorded_ms']:.0f} ms later "
        f"with {r['after_restart_matches']:.0f} matches"
    )
    print(f"  target: >= 5000 notices/s -> {'MET' if r['notices_per_s'] >= 5000 else 'MISSED'}")


def main(args: argparse.Namespace) -> None:
    if args.mode in ("quality", "all"):
        print_quality(quality([0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.70]))
    if args.mode in ("search", "all"):
        print_search(search_bench(args.n))
    if args.mode in ("e2e", "all"):
        print_e2e(asyncio.run(e2e(args.outputs, args.recipients, args.carriers)))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("mode", choices=["quality", "search", "e2e", "all"], nargs="?", default="all")
    parser.add_argument("-n", type=int, default=200_000, help="outputs indexed in-process (search)")
    parser.add_argument("--outputs", type=int, default=20_000, help="outputs indexed through Kafka (e2e)")
    parser.add_argument("--recipients", type=int, default=20_000, help="distinct recipients to notify (e2e)")
    parser.add_argument("--carriers", type=int, default=20, help="outputs carrying the fan-out claim (e2e)")
    main(parser.parse_args())
