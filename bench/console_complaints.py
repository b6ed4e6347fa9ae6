"""Benchmark of the console's complaints inbox on the embedded store (DS-12, GA-15: inbox p50 < 150 ms).

`python -m bench.console_complaints [--tickets N] [--folded N] [--rounds N]` starts its own embedded
store (nx-27017; no broker) and measures:

1. projection throughput: `dsgov.complaint.received` (a tenth then `.overdue`) folded by the real
   engine and projection handlers, in batches of 500 records, for the first `--folded` tickets;
2. the rest of the `--tickets` open tickets (default 100,000) written in bulk as the same aggregate
   documents (folded by the same domain function, `Aggregate.to_doc`), because folding 100,000
   events one by one would take minutes on a shared machine and measures nothing new; the
   projection indexes are built after the bulk write (the engine's fold needs none of them);
3. page latency of the real FastAPI app over the MongoDB adapters: the inbox (first page, a kind
   filter, a deep page), a ticket, the dashboard; p50/p95 over `--rounds` requests each;
4. a resolution command (audit record + outbox in one document; publishing stubbed).

Figures depend on the machine and its load (printed with the load average), never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from bench.console_app import NullPublisher, console_deps, percentiles, signed_in, time_pages, timed
from bench.console_review import BATCH, PROVIDER
from devtools.servers import free_port, mongo_uri, start_mongo
from services.console.adapters.complaints import COMPLAINT_INDEXES
from services.console.adapters.mongo import (
    AUDIT,
    PROJECTION_INDEXES,
    PROJECTIONS,
    MongoAuditLog,
)
from services.console.domain.complaint_resolution import ResolutionForm, check_resolution
from services.console.domain.complaints_view import TICKET_KINDS, fold_ticket
from services.console.entrypoints.app import DEFINITION
from services.console.ports import Actor
from services.console.projections import Projections
from services.console.projections_complaints import ticket_aggregate_id
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.complaints import ComplaintOverdue, ComplaintReceived
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import RawRecord
from shared.messaging.engine import Engine, EngineConfig
from shared.observability import configure_logging
from shared.storage.aggregates import Aggregate, AggregateStore

OVERDUE_EVERY = 10  # one ticket in ten is flagged overdue
INSERT_CHUNK = 5_000


def _ticket_events(i: int, now: datetime) -> list[dict[str, Any]]:
    """`received` (and for every tenth ticket `overdue`) of ticket i, as the complaints service sends them."""
    cid = f"cmp-{i:06d}"
    kind = TICKET_KINDS[i % len(TICKET_KINDS)]
    overdue = i % OVERDUE_EVERY == 0
    due = now + timedelta(minutes=(i * 7919) % 100_000) - (timedelta(days=30) if overdue else timedelta(0))
    target = {"type": "sanction" if kind == "appeal" else "content", "id": f"target-{i}"}
    received = {
        "complaint_id": cid,
        "kind": kind,
        "target": target,
        "category": "other",
        "complainant_user_id": f"user-{i % 5000}",
        "received_at": (due - timedelta(days=21)).isoformat(),
        "due_at": due.isoformat(),
        "due_rule": {"working_days": 15, "calendar": "PRC State Council", "source": "GA-15"},
    }
    events = [_envelope(T.COMPLAINT_RECEIVED, cid, received, now, 0)]
    if overdue:
        late = {"complaint_id": cid, "kind": kind, "due_at": due.isoformat(), "detected_at": now.isoformat()}
        events.append(_envelope(T.COMPLAINT_OVERDUE, cid, late, now, 1))
    return events


def _envelope(type_: str, subject: str, data: dict[str, Any], at: datetime, n: int) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"bench-{subject}-{n}",
        "source": "dsgov/complaints",
        "type": type_,
        "time": at.isoformat(),
        "subject": subject,
        "providerid": PROVIDER,
        "correlationid": f"corr-{subject}",
        "causationid": f"cause-{subject}-{n}",
        "data": data,
    }


async def fold_through_engine(engine: Engine, tickets: range, now: datetime) -> tuple[int, float]:
    """Fold the tickets' events through the engine in consumer-sized batches; (events, events/s)."""
    values = [json.dumps(e).encode() for i in tickets for e in _ticket_events(i, now)]
    started = time.perf_counter()
    for start in range(0, len(values), BATCH):
        records = [
            RawRecord(topics.COMPLAINT, 0, start + k, b"k", v)
            for k, v in enumerate(values[start : start + BATCH])
        ]
        report = await engine.process(records)
        assert report.dead_letters == 0, report
    return len(values), len(values) / (time.perf_counter() - started)


def ticket_document(i: int, now: datetime) -> dict[str, Any]:
    """The aggregate document the engine would store for ticket i (same fold, same stored form)."""
    state = None
    agg = Aggregate(id=ticket_aggregate_id(PROVIDER, f"cmp-{i:06d}"))
    for raw in _ticket_events(i, now):
        event = CloudEvent.model_validate(raw)
        model = ComplaintReceived if raw["type"] == T.COMPLAINT_RECEIVED else ComplaintOverdue
        state = fold_ticket(state, event=event, data=model.model_validate(raw["data"]), received_at=now)
        agg.record(raw["id"], state, [])
    return agg.to_doc(1, write_id=uuid.uuid4().hex)


async def run(args: argparse.Namespace, workdir: Path) -> None:
    configure_logging(level="WARNING", json=False, service="console-benchmark")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)")
    port = free_port()
    server = start_mongo(port, workdir / "mongo", workdir / "mongo.log")
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_uri(port), tz_aware=True)
    try:
        db = client[f"console_bench_{uuid.uuid4().hex[:8]}"]
        store = AggregateStore(db[PROJECTIONS])
        engine = Engine(
            EngineConfig(service="console", source=DEFINITION.source, provider_ids=frozenset({PROVIDER})),
            [r.bind(Projections(lambda: datetime.now(UTC))) for r in DEFINITION.routes],
            store,
            NullPublisher(),
        )
        now = datetime.now(UTC)
        folded = min(args.folded, args.tickets)
        events, rate = await fold_through_engine(engine, range(folded), now)
        print(
            f"projection (engine + store, batches of {BATCH}): {events} complaint events {rate:7.0f} events/s"
        )
        started = time.perf_counter()
        for start in range(folded, args.tickets, INSERT_CHUNK):
            chunk = range(start, min(start + INSERT_CHUNK, args.tickets))
            await store.collection.insert_many([ticket_document(i, now) for i in chunk])
        print(f"bulk-written {args.tickets - folded} more tickets in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        # Indexes after the bulk write: building them once is much faster than updating 14 per insert.
        await store.ensure_indexes(PROJECTION_INDEXES + COMPLAINT_INDEXES)
        print(f"indexes built in {time.perf_counter() - started:.1f} s")
        await pages(args, db, store)
    finally:
        await client.close()
        server.stop()
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


async def pages(args: argparse.Namespace, db: Any, projections: AggregateStore) -> None:
    audit_store = AggregateStore(db[AUDIT])
    audit = MongoAuditLog(audit_store)
    await audit.ensure_indexes()
    deps = console_deps(db, projections, PROVIDER)
    complaints = deps.complaints
    counts = await complaints.counts()
    print(
        f"pages ({args.rounds} requests each; {counts.open} open tickets, {counts.overdue} flagged overdue):"
    )
    async with signed_in(deps) as web:
        first = (await web.get("/complaints")).text
        assert 'data-id="cmp-' in first, "the inbox lists no ticket"
        assert "badge rejected overdue" in first, "no flagged ticket first"
        await time_pages(
            web,
            args.rounds,
            [
                ("inbox, first page", "/complaints"),
                ("inbox, kind=appeal", "/complaints?kind=appeal"),
                ("inbox, page 500", "/complaints?page=500"),
                ("ticket", "/complaints/ticket/cmp-000123"),
                ("dashboard", "/dashboard"),
            ],
            width=20,
        )
    actor = Actor("olga", "operator")

    async def resolve(i: int) -> None:
        ticket = await complaints.ticket(f"cmp-{i + 1:06d}")
        assert ticket is not None
        resolution = check_resolution(ticket, ResolutionForm("rejected", "unfounded"))
        await complaints.resolve(
            ticket, resolution, actor=actor, request_id=str(uuid.uuid4()), client=None, now=datetime.now(UTC)
        )

    print("operator action (store share; publishing stubbed):")
    print(f"  resolution command   {percentiles(await timed(args.rounds, resolve))}")


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=100_000, help="open tickets in the inbox")
    parser.add_argument("--folded", type=int, default=5_000, help="of which folded through the engine")
    parser.add_argument("--rounds", type=int, default=50, help="requests per page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="console-complaints-bench-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
