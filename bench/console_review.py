"""Benchmark of the console's review queue and feature library on the embedded store (DS-10.1, DS-10.2).

`python -m bench.console_review [--entries N] [--items N] [--decisions N] [--rounds N]` starts
its own embedded store (nx-27017; no broker: records are handed to the engine directly) and measures:

1. projection throughput: `dsgov.library.updated`, `dsgov.review.queued|resolved` and decision
   events folded by the real engine and projection handlers into the read models, in batches of
   500 records (the consumer's batch size), events per second per kind;
2. page latency: the pages served by the real FastAPI app over the MongoDB adapters (queue, item,
   library browse and search, entry, dashboard), p50/p95 over `--rounds` requests each;
3. reviewer actions: a take and a decision command (audit record + outbox in one document; the
   publisher is a stand-in, so this is the store's share), p50/p95.

Figures depend on the machine; they are printed, never asserted (a 2-core machine shared with others
is noisy: compare runs on the same machine).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from bench.console_app import NullPublisher, console_deps, percentiles, signed_in, time_pages, timed
from devtools.servers import free_port, mongo_uri, start_mongo
from services.console.adapters.mongo import (
    AUDIT,
    PROJECTION_INDEXES,
    PROJECTIONS,
    MongoAuditLog,
)
from services.console.entrypoints.app import DEFINITION
from services.console.ports import Actor
from services.console.projections import Projections
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.observability import configure_logging
from shared.storage.aggregates import AggregateStore

PROVIDER = "provider-bench"
BATCH = 500
SECRET = b"benchmark-session-secret-0123456789abcdef"


def _event(type_: str, subject: str, data: dict[str, Any], at: datetime, n: int) -> bytes:
    return json.dumps(
        {
            "specversion": "1.0",
            "id": f"bench-{type_}-{subject}-{n}",
            "source": "dsgov/generation-review",
            "type": type_,
            "time": at.isoformat(),
            "subject": subject,
            "providerid": PROVIDER,
            "correlationid": f"corr-{subject}",
            "causationid": f"cause-{subject}-{n}",
            "data": data,
        }
    ).encode()


def library_records(n: int, now: datetime) -> list[bytes]:
    """One applied proposal per entry, a quarter of them approved afterwards."""
    out = []
    for i in range(n):
        entry_id = f"kw-{i:06d}"
        snapshot = {
            "entry_id": entry_id,
            "kind": "keyword" if i % 2 == 0 else "regex",
            "pattern": f"bench term {i} {uuid.UUID(int=i).hex[:8]}",
            "category": ("fraud", "terrorism", "gambling", "negative")[i % 4],
            "action": "review" if i % 3 == 0 else "block",
            "status": "proposed",
            "proposed_by": "console:alice",
            "proposed_reason": f"criterion {i % 9}.{i % 7}",
            "created_version": i + 1,
            "updated_version": i + 1,
        }
        data = {
            "entry_id": entry_id,
            "library_version": i + 1,
            "change": "propose",
            "applied": True,
            "entry": snapshot,
            "actor": "console:alice",
            "actor_role": "operator",
            "reason": snapshot["proposed_reason"],
            "changed_at": now.isoformat(),
        }
        out.append(_event(T.LIBRARY_UPDATED, entry_id, data, now, 0))
        if i % 4 == 0:
            approved = snapshot | {
                "status": "active",
                "approved_by": "console:bob",
                "updated_version": n + i + 1,
            }
            approval = data | {
                "library_version": n + i + 1,
                "change": "approve",
                "entry": approved,
                "actor": "console:bob",
            }
            out.append(_event(T.LIBRARY_UPDATED, entry_id, approval, now, 1))
    return out


def queue_records(n: int, now: datetime) -> tuple[list[bytes], list[bytes]]:
    """N queued items (each with a 600-character excerpt) and resolutions for half of them."""
    queued, resolved = [], []
    hit = {"entry_id": "kw-000000", "kind": "keyword", "category": "fraud", "action": "review", "why": "4.2"}
    for i in range(n):
        item_id, request_id = f"item-{i:06d}", f"req-{i:06d}"
        at = now - timedelta(seconds=n - i)
        data = {
            "item_id": item_id,
            "request_id": request_id,
            "user_id": f"user-{i % 1000}",
            "service_type": "text_writing",
            "stage": "input",
            "hits": [hit],
            "text": ("lorem ipsum bench term " * 30)[:600],
            "text_sha256": "ab" * 32,
            "library_version": 7,
            "queued_at": at.isoformat(),
        }
        queued.append(_event(T.REVIEW_QUEUED, request_id, data, at, 0))
        if i % 2 == 0:
            resolution = {
                "item_id": item_id,
                "request_id": request_id,
                "user_id": data["user_id"],
                "stage": "input",
                "decision": "approve",
                "outcome_type": T.GENERATION_APPROVED,
                "decision_id": f"dec-{i}",
                "reviewer": {"username": "olga", "role": "operator"},
                "reason": "fine",
                "resolved_at": now.isoformat(),
            }
            resolved.append(_event(T.REVIEW_RESOLVED, request_id, resolution, now, 1))
    return queued, resolved


def decision_records(n: int, now: datetime) -> list[bytes]:
    """Review decisions spread over the last 7 days (the dashboard's counters)."""
    out = []
    for i in range(n):
        type_ = (T.GENERATION_APPROVED, T.GENERATION_REJECTED, T.OUTPUT_APPROVED)[i % 3]
        at = now - timedelta(days=i % 7)
        data = {"request_id": f"d-{i}", "user_id": f"user-{i % 1000}", "decision_id": f"dd-{i}"}
        out.append(_event(type_, f"d-{i}", data, at, 0))
    return out


async def fold(engine: Engine, values: list[bytes]) -> float:
    """Run the records through the engine in consumer-sized batches; events per second."""
    started = time.perf_counter()
    for start in range(0, len(values), BATCH):
        records = [
            RawRecord(topics.REVIEW, 0, start + k, b"k", v)
            for k, v in enumerate(values[start : start + BATCH])
        ]
        report = await engine.process(records)
        assert report.dead_letters == 0, report
    return len(values) / (time.perf_counter() - started)


async def run(args: argparse.Namespace, workdir: Path) -> None:
    configure_logging(level="WARNING", json=False, service="console-benchmark")
    port = free_port()
    server = start_mongo(port, workdir / "mongo", workdir / "mongo.log")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri(port), tz_aware=True)
    try:
        db = client[f"console_bench_{uuid.uuid4().hex[:8]}"]
        store = AggregateStore(db[PROJECTIONS])
        await store.ensure_indexes(PROJECTION_INDEXES)
        engine = Engine(
            EngineConfig(service="console", source=DEFINITION.source, provider_ids=frozenset({PROVIDER})),
            [r.bind(Projections(lambda: datetime.now(UTC))) for r in DEFINITION.routes],
            store,
            NullPublisher(),
        )
        assert set(DEFINITION.consumes[topics.REVIEW]) >= {T.LIBRARY_UPDATED, T.REVIEW_QUEUED}
        now = datetime.now(UTC)
        library = library_records(args.entries, now)
        queued, resolved = queue_records(args.items, now)
        decisions = decision_records(args.decisions, now)
        print(f"projection (engine + store, batches of {BATCH}):")
        print(f"  library.updated   {len(library):7d} events  {await fold(engine, library):7.0f} events/s")
        print(f"  review.queued     {len(queued):7d} events  {await fold(engine, queued):7.0f} events/s")
        print(f"  review.resolved   {len(resolved):7d} events  {await fold(engine, resolved):7.0f} events/s")
        print(
            f"  decisions (stats) {len(decisions):7d} events  {await fold(engine, decisions):7.0f} events/s"
        )
        await pages(args, db, store)
    finally:
        await client.close()
        server.stop()


async def pages(args: argparse.Namespace, db: Any, projections: AggregateStore) -> None:
    audit_store = AggregateStore(db[AUDIT])
    audit = MongoAuditLog(audit_store)
    await audit.ensure_indexes()
    deps = console_deps(db, projections, PROVIDER)
    async with signed_in(deps) as web:
        print(f"pages ({args.rounds} requests each, {args.entries} entries, {args.items} items):")
        await time_pages(
            web,
            args.rounds,
            [
                ("queue, pending", "/review"),
                ("queue, all", "/review?status=all"),
                ("review item", "/review/item/item-000123"),
                ("library", "/library"),
                ("library, text", "/library?q=term+4242"),
                ("library, filters", "/library?status=active&kind=keyword&category=fraud"),
                ("library entry", "/library/entry/kw-000004"),
                ("dashboard", "/dashboard"),
            ],
            width=18,
        )
    actor = Actor("olga", "operator")
    item = await deps.reviews.item("item-000001")
    assert item is not None

    async def take(i: int) -> None:
        await deps.desk.take(f"item-{i:06d}", actor=actor, expected_seq=0, client=None, now=datetime.now(UTC))

    async def decide(i: int) -> None:
        await deps.commands.review_decision(
            item | {"item_id": f"item-{i:06d}"},
            decision="approve",
            reason="fine",
            actor=actor,
            request_id=str(uuid.uuid4()),
            client=None,
            now=datetime.now(UTC),
        )

    print("reviewer actions (store share; publishing stubbed):")
    print(f"  take               {percentiles(await timed(args.rounds, take))}")
    print(f"  decision command   {percentiles(await timed(args.rounds, decide))}")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=10_000, help="library entries")
    parser.add_argument("--items", type=int, default=10_000, help="review items")
    parser.add_argument("--decisions", type=int, default=20_000, help="decision events for the counters")
    parser.add_argument("--rounds", type=int, default=50, help="requests per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
