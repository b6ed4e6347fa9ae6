"""`python -m services.labeling lookup --produce-id X | --sha256 H | --file F`: ask the label ledger.

Answers "did this provider generate this, and how was it labeled?" (DS-16 log, LB-12 lookup),
with the LB-9 record of any copy handed out without the explicit label. Prints JSON; exits 0
when something was found, 1 when not, 2 on a usage or connection error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.labeling.adapters.ledger import MongoLabelLedger
from services.labeling.aigc import files
from services.labeling.domain.ledger import ContentLedger, UnlabeledCopy
from services.labeling.entrypoints.app import DEFINITION
from services.labeling.ports import LabelLedger
from shared.storage.mongo import create_client


class LookupSettings(BaseSettings):
    """Where the ledger is (the service's own settings, without its secrets)."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    mongo_uri: str = Field(default="mongodb://127.0.0.1:27017/?directConnection=true")
    mongo_database: str | None = None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m services.labeling lookup", description=__doc__)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--produce-id", help="the ProduceID of a label")
    what.add_argument("--sha256", help="SHA-256 of the content (of the file before labeling)")
    what.add_argument("--file", type=Path, help="a file: its content hash (label removed) is looked up")
    p.add_argument("--mongo-uri", help="default: DSGOV_MONGO_URI")
    p.add_argument("--database", help="default: DSGOV_MONGO_DATABASE or dsgov_labeling")
    return p


def _answer(
    query: dict[str, str], records: list[ContentLedger], copies: dict[str, list[UnlabeledCopy]]
) -> dict[str, Any]:
    matches = [
        {
            "generated_by_provider": True,
            "producer_code": state.producer_code,
            "provider_id": state.provider_id,
            "content_id": state.content_id,
            "request_id": state.request_id,
            "user_id": state.user_id,
            "service_type": state.service_type,
            "labels": [
                e.model_dump()
                for e in state.labels
                if e.produce_id == query.get("produce_id") or e.sha256 == query.get("sha256")
            ],
            "unlabeled_copies": [c.model_dump() for c in copies.get(state.content_id, [])],
        }
        for state in records
    ]
    return {"query": query, "found": len(matches), "generated_by_provider": bool(matches), "matches": matches}


async def lookup(ledger: LabelLedger, query: dict[str, str]) -> dict[str, Any]:
    """Find the content records for a ProduceID or a content hash, with their LB-9 records."""
    if "produce_id" in query:
        records = await ledger.by_produce_id(query["produce_id"])
    else:
        records = await ledger.by_sha256(query["sha256"])
    copies = {s.content_id: await ledger.unlabeled_copies(s.content_id) for s in records}
    return _answer(query, records, copies)


async def _run(args: argparse.Namespace, query: dict[str, str]) -> dict[str, Any]:
    settings = LookupSettings()
    client = create_client(args.mongo_uri or settings.mongo_uri, app_name="dsgov-labeling-lookup")
    try:
        database = args.database or settings.mongo_database or f"dsgov_{DEFINITION.name}"
        return await lookup(MongoLabelLedger(client[database][DEFINITION.collection]), query)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    """Run one lookup and print the answer as JSON."""
    args = _parser().parse_args(argv)
    if args.produce_id:
        query = {"produce_id": args.produce_id}
    elif args.sha256:
        query = {"sha256": args.sha256.lower()}
    else:
        try:
            query = {"sha256": files.content_hash(args.file.read_bytes()), "file": str(args.file)}
        except (OSError, ValueError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    try:
        answer = asyncio.run(_run(args, query))
    except Exception as exc:  # connection problems: say so, never a traceback with the URI
        print(f"error: the ledger could not be read ({type(exc).__name__})", file=sys.stderr)
        return 2
    print(json.dumps(answer, ensure_ascii=False, indent=2, default=str))
    return 0 if answer["found"] else 1
