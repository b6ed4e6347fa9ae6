"""Command line of the feature library (DS-10.2).

    python -m services.generation_review library list [--status S] [--json]
    python -m services.generation_review library propose ENTRY_ID --kind K --pattern P --category C \
        [--action block|review] [--max-distance N] --reason R --actor NAME [--role operator|admin]
    python -m services.generation_review library approve ENTRY_ID [ENTRY_ID ...] --reason R --actor NAME
    python -m services.generation_review library disable ENTRY_ID [...] --reason R --actor NAME
    python -m services.generation_review library import FILE --reason R --actor NAME

Changes travel the console's path: each is a `dsgov.library.change-submitted` command on
`dsgov.console.commands` with the actor, applied by the service (one rule book: four-eyes,
roles, validation). The command waits for the service's `dsgov.library.updated` answer and
prints it. `list` reads the service's store. Environment: DSGOV_KAFKA_BOOTSTRAP,
DSGOV_TOPIC_PREFIX, DSGOV_PROVIDER_ID, DSGOV_MONGO_URI, DSGOV_MONGO_DATABASE.
Exit codes: 0 applied, 1 refused or not answered, 2 usage or connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from services.generation_review.config import CliSettings
from services.generation_review.domain.library import LibraryState
from services.generation_review.handlers import library_key
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.base import Actor
from shared.contracts.console import LibraryChangeSubmitted
from shared.contracts.envelope import new_event
from shared.messaging.codec import encode
from shared.storage.mongo import create_client

SERVICE = "generation_review"
CLI_SOURCE = "dsgov/review-cli"


def build_parser() -> argparse.ArgumentParser:
    """`library list|propose|approve|disable|import`."""
    parser = argparse.ArgumentParser(prog="python -m services.generation_review")
    top = parser.add_subparsers(dest="area", required=True, metavar="AREA")
    library = top.add_parser("library", help="the feature library (DS-10.2)")
    sub = library.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = sub.add_parser("list", help="print the entries and the library version")
    listing.add_argument("--status", choices=("proposed", "active", "disabled"))
    listing.add_argument("--json", action="store_true", help="print JSON")
    _store_options(listing)
    propose = sub.add_parser("propose", help="propose a new entry")
    propose.add_argument("entry_id")
    propose.add_argument("--kind", required=True, choices=("keyword", "regex", "sha256", "phash"))
    propose.add_argument("--pattern", required=True)
    propose.add_argument("--category", required=True)
    propose.add_argument("--action", default="block", choices=("block", "review"))
    propose.add_argument("--max-distance", type=int, help="Hamming threshold for phash (default 8)")
    for name, what in (("approve", "approve proposed entries"), ("disable", "disable entries")):
        command = sub.add_parser(name, help=what)
        command.add_argument("entry_ids", nargs="+", metavar="ENTRY_ID")
    importing = sub.add_parser(
        "import", help="propose every entry of a JSON file ({entries: [...]} or a list)"
    )
    importing.add_argument("file")
    for name in ("propose", "approve", "disable", "import"):
        _change_options(sub.choices[name])
    return parser


def _store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--provider", help="provider (tenant) id; default $DSGOV_PROVIDER_ID")
    p.add_argument("--mongo-uri", help="default $DSGOV_MONGO_URI")
    p.add_argument("--database", help=f"default $DSGOV_MONGO_DATABASE or dsgov_{SERVICE}")


def _change_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--reason", required=True, help="why (the admission criterion, for a proposal)")
    p.add_argument("--actor", required=True, help="your console username")
    p.add_argument("--role", default="operator", choices=("operator", "admin"))
    p.add_argument("--provider", help="provider (tenant) id; default $DSGOV_PROVIDER_ID")
    p.add_argument("--bootstrap", help="Kafka bootstrap; default $DSGOV_KAFKA_BOOTSTRAP")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each answer")
    p.add_argument("--no-wait", action="store_true", help="publish and return without waiting")


def _entries_of_file(path: str) -> list[dict[str, Any]]:
    raw = json.loads(Path(path).read_text(encoding="utf-8"))
    entries = raw.get("entries") if isinstance(raw, dict) else raw
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError('expected {"entries": [...]} or a list of entry objects')
    return entries


def changes_from(args: argparse.Namespace) -> list[tuple[str, str, dict[str, Any] | None]]:
    """(change, entry_id, entry) for every command the arguments ask for."""
    if args.command == "propose":
        entry: dict[str, Any] = {
            "kind": args.kind,
            "pattern": args.pattern,
            "category": args.category,
            "action": args.action,
        }
        if args.max_distance is not None:
            entry["max_distance"] = args.max_distance
        return [("propose", args.entry_id, entry)]
    if args.command == "import":
        out: list[tuple[str, str, dict[str, Any] | None]] = []
        for e in _entries_of_file(args.file):
            entry_id = str(e.get("entry_id") or f"{e.get('kind', 'entry')}-{uuid.uuid4().hex[:12]}")
            out.append(("propose", entry_id, {k: v for k, v in e.items() if k != "entry_id"}))
        return out
    return [(args.command, entry_id, None) for entry_id in args.entry_ids]


def command_bytes(
    provider: str, change: str, entry_id: str, entry: dict[str, Any] | None, reason: str, actor: Actor
) -> tuple[str, bytes]:
    """The command id and its CloudEvent bytes."""
    data = LibraryChangeSubmitted.model_validate(
        {"change": change, "entry_id": entry_id, "entry": entry, "reason": reason, "actor": actor}
    )
    command_id = str(uuid.uuid4())
    event = new_event(
        type=T.LIBRARY_CHANGE_SUBMITTED,
        source=CLI_SOURCE,
        subject=entry_id,
        providerid=provider,
        data=data,
        id=command_id,
        time=datetime.now(UTC),
        correlationid=command_id,
        causationid=command_id,
    )
    return command_id, encode(event)


async def _answers_consumer(bootstrap: str, topic: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer._client.force_metadata_update()  # first use of the topic: no metadata yet
        partitions = consumer.partitions_for_topic(topic) or set()
    assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    await consumer.seek_to_end(*assigned)
    for tp in assigned:
        await consumer.position(tp)  # fixes the start before anything is published
    return consumer


async def send_changes(args: argparse.Namespace, settings: CliSettings) -> int:
    """Publish the commands and print the service's answers; return the exit code."""
    provider = args.provider or settings.provider_id
    if not provider:
        print("give --provider or set DSGOV_PROVIDER_ID", file=sys.stderr)
        return 2
    actor = Actor(username=args.actor, role=args.role)
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    prefix = settings.topic_prefix
    consumer = None if args.no_wait else await _answers_consumer(bootstrap, prefix + topics.REVIEW)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        sent: dict[str, str] = {}
        acks = []
        for change, entry_id, entry in changes_from(args):
            command_id, value = command_bytes(provider, change, entry_id, entry, args.reason, actor)
            acks.append(await producer.send(prefix + topics.CONSOLE_COMMANDS, value, key=entry_id.encode()))
            sent[command_id] = f"{change} {entry_id}"
        await asyncio.gather(*acks)  # every command is on the broker before we wait for answers
        if consumer is None:
            print(f"published {len(sent)} command(s)")
            return 0
        return await _print_answers(consumer, sent, args.timeout)
    finally:
        await producer.stop()
        if consumer is not None:
            await consumer.stop()


async def _print_answers(consumer: AIOKafkaConsumer, sent: dict[str, str], timeout: float) -> int:
    pending = dict(sent)
    refused = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout * max(1, len(sent) // 100 + 1)
    while pending and loop.time() < deadline:
        batch = await consumer.getmany(timeout_ms=200)
        for records in batch.values():
            for r in records:
                event = json.loads(r.value)
                what = pending.pop(event.get("causationid"), None)
                if what is None or event.get("type") != T.LIBRARY_UPDATED:
                    continue
                d = event["data"]
                if d["applied"]:
                    print(f"{what}: applied, library version {d['library_version']}")
                else:
                    refused += 1
                    print(f"{what}: refused ({d.get('refusal')}: {d.get('refusal_detail')})")
    for what in pending.values():
        print(f"{what}: no answer within the timeout (is the service running?)")
    return 1 if refused or pending else 0


async def list_entries(args: argparse.Namespace, settings: CliSettings) -> int:
    """Print the library from the service's store."""
    provider = args.provider or settings.provider_id
    if not provider:
        print("give --provider or set DSGOV_PROVIDER_ID", file=sys.stderr)
        return 2
    uri = args.mongo_uri or settings.mongo_uri
    database = args.database or settings.mongo_database or f"dsgov_{SERVICE}"
    client = create_client(uri, app_name=f"dsgov-{SERVICE}-cli")
    try:
        doc = await client[database]["reviews"].find_one({"_id": library_key(provider)}, {"state": 1})
    finally:
        await client.close()
    stored = (doc or {}).get("state")
    state = LibraryState.model_validate(stored) if stored else LibraryState(provider_id=provider)
    entries = [
        e for e in sorted(state.entries.values(), key=lambda e: e.entry_id) if args.status in (None, e.status)
    ]
    if args.json:
        listing = [e.model_dump(mode="json", exclude={"history"}) for e in entries]
        print(
            json.dumps({"library_version": state.version, "entries": listing}, ensure_ascii=False, indent=2)
        )
        return 0
    print(f"library version {state.version}, {len(entries)} entries")
    for e in entries:
        demo = " [demo]" if e.demo else ""
        fields = (e.entry_id, e.status, e.kind, e.action, e.category, e.pattern + demo)
        print("\t".join(fields))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; return the exit code."""
    args = build_parser().parse_args(argv)
    settings = CliSettings()
    try:
        if args.command == "list":
            return asyncio.run(list_entries(args, settings))
        return asyncio.run(send_changes(args, settings))
    except (OSError, ValueError) as exc:
        print(f"{args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # one line for a broker or store failure
        print(
            f"{args.command}: cannot reach the broker or store: {type(exc).__name__}: {exc}", file=sys.stderr
        )
        return 2
