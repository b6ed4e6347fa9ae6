"""Command line of the rumour refutation service.

    python -m services.rumour_refutation case <notice_id> [--provider P] [--mongo-uri U] [--database D]

Prints the case file as JSON (DS-11 "keep records"): the notice, the claim, every content found
to carry it with score, evidence and the takedown required, every distribution fanned out, and
every recipient notified with the time and the contents that reached them. It reads the
service's store (DSGOV_MONGO_URI, DSGOV_MONGO_DATABASE; the provider defaults to
DSGOV_PROVIDER_ID). Exit codes: 0 found, 1 no such case, 2 usage or store error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from services.rumour_refutation.adapters.mongo import LIST_COLLECTION, case_file
from services.rumour_refutation.config import CaseFileSettings
from shared.storage.mongo import create_client

SERVICE = "rumour_refutation"
COLLECTION = "rumour"


def build_parser() -> argparse.ArgumentParser:
    """`case`."""
    parser = argparse.ArgumentParser(prog="python -m services.rumour_refutation")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    case = sub.add_parser("case", help="print everything recorded about one rumour case or takedown order")
    case.add_argument("notice_id")
    case.add_argument("--provider", help="provider (tenant) id; default $DSGOV_PROVIDER_ID")
    case.add_argument("--mongo-uri", help="default $DSGOV_MONGO_URI")
    case.add_argument("--database", help=f"default $DSGOV_MONGO_DATABASE or dsgov_{SERVICE}")
    return parser


async def load_case_file(uri: str, database: str, provider: str, notice_id: str) -> dict[str, Any] | None:
    """Read one case file from the store (None when there is no such case)."""
    client = create_client(uri, app_name=f"dsgov-{SERVICE}-cli")
    try:
        db = client[database]
        return await case_file(db[COLLECTION], db[LIST_COLLECTION], provider, notice_id)
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; return the exit code."""
    args = build_parser().parse_args(argv)
    settings = CaseFileSettings()
    provider = args.provider or settings.provider_id
    if not provider:
        print("case: give --provider or set DSGOV_PROVIDER_ID", file=sys.stderr)
        return 2
    uri = args.mongo_uri or settings.mongo_uri
    database = args.database or settings.mongo_database or f"dsgov_{SERVICE}"
    try:
        record = asyncio.run(load_case_file(uri, database, provider, args.notice_id))
    except Exception as exc:  # one line for any store failure
        print(f"case: cannot read the store at {uri}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if record is None:
        print(f"case: no case {args.notice_id!r} for provider {provider!r}", file=sys.stderr)
        return 1
    print(json.dumps(record, ensure_ascii=False, indent=2))
    return 0
