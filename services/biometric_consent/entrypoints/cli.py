"""Command line of the consent service.

    python -m services.biometric_consent proof <consent_id> [--provider P]   # print the proof JSON
    python -m services.biometric_consent verify <proof.json | ->              # check a proof

`proof` reads the service's store (DSGOV_MONGO_URI, DSGOV_MONGO_DATABASE; the provider defaults
to DSGOV_PROVIDER_ID). Exit codes: 0 ok, 1 not found / proof broken, 2 usage or store error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import JsonValue
from pymongo.asynchronous.database import AsyncDatabase

from services.biometric_consent.adapters.mongo import MongoConsentReader
from services.biometric_consent.domain.history import export_proof, verify_proof
from shared.runtime.record_cli import add_store_arguments, print_record

SERVICE = "biometric_consent"
COLLECTION = "consents"


def build_parser() -> argparse.ArgumentParser:
    """`proof` and `verify`."""
    parser = argparse.ArgumentParser(prog="python -m services.biometric_consent")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    proof = sub.add_parser("proof", help="print the tamper-evident history of one consent as JSON")
    proof.add_argument("consent_id")
    add_store_arguments(proof, SERVICE)
    verify = sub.add_parser("verify", help="verify a proof document (a file, or - for stdin)")
    verify.add_argument("file")
    return parser


async def load_proof(
    db: AsyncDatabase[dict[str, Any]], provider: str, consent_id: str
) -> dict[str, JsonValue] | None:
    """Read one consent from the store and export its proof (None when unknown)."""
    state = await MongoConsentReader(db[COLLECTION]).consent_state(provider, consent_id)
    return export_proof(state) if state else None


def _proof(args: argparse.Namespace) -> int:
    return print_record(
        command="proof", what="consent", service=SERVICE, args=args, key=args.consent_id, load=load_proof
    )


def _verify(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text(encoding="utf-8")
        proof = json.loads(text)
    except (OSError, ValueError) as exc:
        print(f"verify: cannot read a JSON proof: {exc}", file=sys.stderr)
        return 2
    problems = verify_proof(proof) if isinstance(proof, dict) else ["not a JSON object"]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"intact: {proof['entry_count']} entries, head {proof['head_hash']}")
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the command; return the exit code."""
    args = build_parser().parse_args(argv)
    return _proof(args) if args.command == "proof" else _verify(args)
