"""The regulator's command line: follow, copy, verify and acknowledge a provider's report stream.

Runs on the regulator's side and needs only the broker address and the provider's public keys
file (`python -m services.regulator_reporting export-keys > keys.json`). It shares nothing with
the service but the pure chain and verification functions and the public contract models.

    python -m services.regulator_reporting.regulator_cli --bootstrap HOST:PORT tail [--keys keys.json]
    python -m services.regulator_reporting.regulator_cli --bootstrap HOST:PORT dump --out copy.jsonl
    python -m services.regulator_reporting.regulator_cli --bootstrap HOST:PORT verify --keys keys.json
    python -m services.regulator_reporting.regulator_cli verify --keys keys.json --file copy.jsonl
    python -m services.regulator_reporting.regulator_cli --bootstrap HOST:PORT ack --through 120
    python -m services.regulator_reporting.regulator_cli --bootstrap HOST:PORT ack --sequence 7 \
        --reject --error "..."

`verify` exits 0 when every report verifies, 1 naming the first report that fails and why
(tampered, bad_signature, unknown_key, gap, conflict, reordered, broken_chain, malformed), and 2
when it could not run (unreadable keys file, broker unreachable).
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.regulator_reporting.chain import KeyRing, load_keys
from services.regulator_reporting.verification import (
    Checked,
    Failure,
    StreamRecord,
    VerifyResult,
    check_record,
    verify_stream,
)
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.reporting import ReportAcknowledged

REPORTS_TOPIC = topics.REGULATOR_REPORTS
ACKS_TOPIC = topics.REGULATOR_ACKS
ACK_TYPE = T.REPORT_ACKNOWLEDGED
EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2


class CliError(Exception):
    """The command could not run (not a verification failure)."""


# --------------------------------------------------------------------------- reading the stream


@dataclass(frozen=True)
class _Consumed:
    timestamp: int
    partition: int
    offset: int
    value: bytes


async def _consumer(bootstrap: str, topic: str) -> tuple[AIOKafkaConsumer, list[TopicPartition]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    try:
        await consumer.start()
        await consumer.topics()  # fetches metadata
    except Exception as exc:
        await consumer.stop()
        raise CliError(f"cannot reach the broker at {bootstrap}: {type(exc).__name__}") from exc
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        await consumer.stop()
        raise CliError(f"topic {topic} does not exist on {bootstrap}")
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    return consumer, tps


async def _seek(consumer: AIOKafkaConsumer, tps: list[TopicPartition], *, to_end: bool = False) -> None:
    # Explicit offsets: `seek_to_beginning` on the embedded broker sometimes reported the end instead.
    offsets = await (consumer.end_offsets(tps) if to_end else consumer.beginning_offsets(tps))
    for tp in tps:
        consumer.seek(tp, offsets[tp])


async def read_topic(bootstrap: str, topic: str, stall_s: float = 30.0) -> list[StreamRecord]:
    """Every record from the beginning to the end as of now, each partition in offset order.

    A provider's reports travel on one partition; partitions are merged by record timestamp.
    Reading goes on past the reported end offsets until a fetch comes back empty: the embedded
    broker reports the end of a partition short when its last batch holds several records.
    """
    consumer, tps = await _consumer(bootstrap, topic)
    try:
        end = await consumer.end_offsets(tps)
        next_offset = await consumer.beginning_offsets(tps)
        await _seek(consumer, tps)
        per_partition: dict[int, list[_Consumed]] = {tp.partition: [] for tp in tps}
        last_progress = time.monotonic()
        while True:
            batch = await consumer.getmany(*tps, timeout_ms=300)
            if not batch and all(next_offset[tp] >= end[tp] for tp in tps):
                break
            if time.monotonic() - last_progress > stall_s:
                raise CliError(f"reading {topic} stalled for {stall_s:.0f} s")
            for tp, records in batch.items():
                per_partition[tp.partition].extend(
                    _Consumed(r.timestamp, r.partition, r.offset, r.value or b"") for r in records
                )
                next_offset[tp] = max(next_offset[tp], *(r.offset + 1 for r in records))
                last_progress = time.monotonic()
    finally:
        await consumer.stop()
    merged = heapq.merge(*per_partition.values(), key=lambda r: r.timestamp)
    return [StreamRecord(f"partition {r.partition} offset {r.offset}", r.value) for r in merged]


def read_file(path: Path) -> list[StreamRecord]:
    """A JSONL copy of the stream: one report event per line, in stream order."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    return [StreamRecord(f"line {n}", line) for n, line in enumerate(lines, 1) if line.strip()]


async def _records(args: argparse.Namespace) -> list[StreamRecord]:
    if getattr(args, "file", None):
        return read_file(Path(args.file))
    return await read_topic(args.bootstrap, args.topic_prefix + REPORTS_TOPIC)


def read_keys(paths: Sequence[str]) -> KeyRing:
    """Every key of every keys file."""
    ring = KeyRing()
    for path in paths:
        try:
            for key in load_keys(json.loads(Path(path).read_text(encoding="utf-8"))).entries():
                ring.add(key)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CliError(f"cannot read keys file {path}: {exc}") from exc
    return ring


# --------------------------------------------------------------------------- showing reports


def _fact(value: Any) -> str:
    if isinstance(value, dict) and "count" in value:
        return str(value["count"])
    if isinstance(value, list):
        shown = [
            f"{v['code']}({v['article']})" if isinstance(v, dict) and "code" in v else str(v) for v in value
        ]
        return ",".join(shown[:5]) + (f",…+{len(shown) - 5}" if len(shown) > 5 else "")
    return str(value)


def describe_report(event: dict[str, Any], status: str) -> str:
    """Two readable lines for one report event."""
    d = event.get("data", {})
    head = (
        f"#{d.get('sequence')}  {d.get('category')}  occurred {d.get('occurred_at')}  "
        f"articles {','.join(d.get('articles', []))}  actions {','.join(d.get('actions_taken', [])) or '-'}  "
        f"[{status}]"
    )
    facts = "  ".join(f"{k}={_fact(v)}" for k, v in d.get("facts", {}).items())
    who = f"provider {event.get('providerid')}  report {d.get('report_id')}  key {d.get('key_id')}"
    return f"{head}\n    {who}\n    {facts}"


def _status(checked: Checked | Failure | None, seen: dict[tuple[str, int], str]) -> str:
    if checked is None:
        return "not verified: no keys given"
    if isinstance(checked, Failure):
        return f"FAILED {checked.kind}: {checked.detail}"
    previous = seen.get((checked.provider, checked.sequence))
    seen[(checked.provider, checked.sequence)] = checked.hash
    if previous is None:
        return f"signature ok, key {checked.key_id}"
    return "identical re-send" if previous == checked.hash else "CONFLICT: another report has this sequence"


async def _follow(args: argparse.Namespace) -> AsyncIterator[StreamRecord]:
    consumer, tps = await _consumer(args.bootstrap, args.topic_prefix + REPORTS_TOPIC)
    try:
        await _seek(consumer, tps, to_end=args.from_end)
        idle_since = time.monotonic()
        while args.idle_exit is None or time.monotonic() - idle_since < args.idle_exit:
            batch = await consumer.getmany(*tps, timeout_ms=200)
            for records in batch.values():
                idle_since = time.monotonic()
                for r in records:
                    yield StreamRecord(f"partition {r.partition} offset {r.offset}", r.value or b"")
    finally:
        await consumer.stop()


async def tail(args: argparse.Namespace, out: TextIO) -> int:
    """Follow the stream and print each report readably (or as raw JSON lines with --json)."""
    keys = read_keys(args.keys) if args.keys else None
    seen: dict[tuple[str, int], str] = {}
    shown = 0
    async for position, record in _enumerate(_follow(args)):
        if args.json:
            out.write(record.value.decode("utf-8", "replace") + "\n")
        else:
            checked = check_record(position, record, keys) if keys is not None else None
            try:
                event = json.loads(record.value)
            except ValueError:
                event = {}
            out.write(describe_report(event, _status(checked, seen)) + "\n")
        out.flush()
        shown += 1
        if args.max and shown >= args.max:
            break
    return EXIT_OK


async def _enumerate(items: AsyncIterator[StreamRecord]) -> AsyncIterator[tuple[int, StreamRecord]]:
    n = 0
    async for item in items:
        yield n, item
        n += 1


# --------------------------------------------------------------------------- verify and dump


def summary(result: VerifyResult) -> str:
    """What a successful verification covered."""
    lines = [f"OK: {result.records} record(s) verified"]
    for provider, s in sorted(result.providers.items()):
        lines.append(
            f"  provider {provider}: reports 1..{s.reports} gap-free and chained, "
            f"{s.resends} identical re-send(s), keys {','.join(sorted(s.keys))}, head {s.head_hash}"
        )
    return "\n".join(lines)


async def verify(args: argparse.Namespace, out: TextIO) -> int:
    """Verify the whole stream (topic or JSONL copy); name the first failing report."""
    keys = read_keys(args.keys)
    result = verify_stream(await _records(args), keys)
    if result.failure is not None:
        out.write(result.failure.describe() + "\n")
        return EXIT_FAILED
    out.write(summary(result) + "\n")
    return EXIT_OK


async def dump(args: argparse.Namespace, out: TextIO) -> int:
    """Copy the topic, from the beginning to now, as JSONL (one report event per line)."""
    records = await _records(args)
    if not args.out:
        out.writelines(r.value.decode("utf-8", "replace") + "\n" for r in records)
        return EXIT_OK
    await asyncio.to_thread(Path(args.out).write_bytes, b"".join(r.value + b"\n" for r in records))
    out.write(f"{len(records)} record(s) written to {args.out}\n")
    return EXIT_OK


# --------------------------------------------------------------------------- acknowledging


@dataclass(frozen=True)
class _Known:
    provider: str
    report_id: str
    sequence: int


def known_reports(records: Iterable[StreamRecord]) -> list[_Known]:
    """The distinct reports in a copy of the stream (re-sends once), in stream order."""
    found: dict[tuple[str, str], _Known] = {}
    for r in records:
        try:
            event = json.loads(r.value)
            data = event["data"]
            known = _Known(str(event["providerid"]), str(data["report_id"]), int(data["sequence"]))
        except (ValueError, KeyError, TypeError):
            continue
        found.setdefault((known.provider, known.report_id), known)
    return list(found.values())


def select(reports: list[_Known], args: argparse.Namespace) -> list[_Known]:
    """The reports the `ack` arguments name."""
    chosen = [r for r in reports if not args.provider or r.provider == args.provider]
    if args.report_id:
        chosen = [r for r in chosen if r.report_id in set(args.report_id)]
    elif args.sequence:
        chosen = [r for r in chosen if r.sequence in set(args.sequence)]
    elif args.through is not None:
        chosen = [r for r in chosen if r.sequence <= args.through]
    return chosen


def ack_event(report: _Known, status: str, errors: list[str], source: str) -> bytes:
    """A `dsgov.report.acknowledged` CloudEvent."""
    data = ReportAcknowledged.model_validate(
        {"report_id": report.report_id, "sequence": report.sequence, "status": status, "errors": errors}
    )
    event = CloudEvent(
        specversion="1.0",
        id=str(uuid.uuid4()),
        source=source,
        type=ACK_TYPE,
        time=datetime.now(UTC),
        subject=report.report_id,
        providerid=report.provider,
        data=data.model_dump(mode="json"),
    )
    return event.model_dump_json(exclude_none=True).encode("utf-8")


async def ack(args: argparse.Namespace, out: TextIO) -> int:
    """Accept (or, with --reject, reject with errors) the named reports."""
    chosen = select(known_reports(await _records(args)), args)
    if not chosen:
        out.write("no matching report found\n")
        return EXIT_FAILED
    status = "rejected" if args.reject else "accepted"
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap)
    try:
        await producer.start()
    except Exception as exc:
        await producer.stop()
        raise CliError(f"cannot reach the broker at {args.bootstrap}: {type(exc).__name__}") from exc
    try:
        for report in chosen:
            value = ack_event(report, status, list(args.error or []), args.source)
            await producer.send(args.topic_prefix + ACKS_TOPIC, value, key=report.report_id.encode("utf-8"))
        await producer.flush()
    finally:
        await producer.stop()
    out.write(
        f"{status} {len(chosen)} report(s): sequences {','.join(str(r.sequence) for r in chosen[:50])}\n"
    )
    return EXIT_OK


# --------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="dsgov-regulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bootstrap", default=os.environ.get("DSGOV_REGULATOR_BOOTSTRAP", "127.0.0.1:9092"))
    p.add_argument("--topic-prefix", default="", help="namespaces the topics (test set-ups)")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tail", help="follow the stream and print reports readably")
    t.add_argument("--keys", action="append", help="keys file; shows each report's signature status")
    t.add_argument("--from-end", action="store_true", help="only reports published from now on")
    t.add_argument("--json", action="store_true", help="print the raw events as JSON lines")
    t.add_argument("--max", type=int, default=0, help="stop after this many reports")
    t.add_argument("--idle-exit", type=float, default=None, help="stop after this many quiet seconds")
    v = sub.add_parser("verify", help="verify signatures, the hash chain and the sequence")
    v.add_argument("--keys", action="append", required=True, help="keys file (repeatable)")
    v.add_argument("--file", help="a JSONL copy of the stream instead of the topic")
    d = sub.add_parser("dump", help="copy the stream to JSONL")
    d.add_argument("--out", help="file to write (default: standard output)")
    a = sub.add_parser("ack", help="acknowledge (or reject) reports")
    which = a.add_mutually_exclusive_group(required=True)
    which.add_argument("--report-id", action="append")
    which.add_argument("--sequence", action="append", type=int)
    which.add_argument("--through", type=int, help="every report up to this sequence number")
    which.add_argument("--all", action="store_true", help="every report in the stream")
    a.add_argument("--provider", help="only this provider's reports")
    a.add_argument("--reject", action="store_true", help="reject instead of accept")
    a.add_argument("--error", action="append", help="why it is rejected (repeatable)")
    a.add_argument("--source", default="regulator/cli", help="the CloudEvents source of the acknowledgement")
    a.add_argument("--file", help="find the reports in a JSONL copy instead of the topic")
    return p


COMMANDS = {"tail": tail, "verify": verify, "dump": dump, "ack": ack}


async def run(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; return the exit code."""
    args = parser().parse_args(argv)
    out = out or sys.stdout
    try:
        return await COMMANDS[args.command](args, out)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point (`dsgov-regulator`)."""
    return asyncio.run(run(argv))


if __name__ == "__main__":
    sys.exit(main())
