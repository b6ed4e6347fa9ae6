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
from collections.abc import Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from services.rumour_refutation.adapters.mongo import LIST_COLLECTION, case_file
from shared.runtime.record_cli import add_store_arguments, print_record

SERVICE = "rumour_refutation"
COLLECTION = "rumour"


def build_parser() -> argparse.ArgumentParser:
    """`case`."""
    parser = argparse.ArgumentParser(prog="python -m services.rumour_refutation")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    case = sub.add_parser("case", help="print everything recorded about one rumour case or takedown order")
    case.add_argument("notice_id")
    add_store_arguments(case, SERVICE)
    return parser


async def load_case_file(
    db: AsyncDatabase[dict[str, Any]], provider: str, notice_id: str
) -> dict[str, Any] | None:
    """Read one case file from the store (None when there is no such case)."""
    return await case_file(db[COLLECTION], db[LIST_COLLECTION], provider, notice_id)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; return the exit code."""
    args = build_parser().parse_args(argv)
    return print_record(
        command="case", what="case", service=SERVICE, args=args, key=args.notice_id, load=load_case_file
    )
