r"""`dsgov-inspect`: export network logs for an inspection, and verify an exported bundle.

    dsgov-inspect export --from 2026-06-01T00:00:00+08:00 --to 2026-12-01T00:00:00+08:00 \\
        [--user U] [--content C] [--ip IP] --reason "CAC inspection notice 2026-17" --actor alice \\
        --out bundle.jsonl
    dsgov-inspect keys > keys.json            # the public keys, for whoever verifies
    dsgov-inspect verify bundle.jsonl --keys keys.json

`export` reads the log's store (DSGOV_MONGO_URI, DSGOV_MONGO_DATABASE or dsgov_network_log) with
the service's keys (DSGOV_NETLOG_ENCRYPTION_KEY, DSGOV_NETLOG_SIGNING_KEY), streams the bundle
with a progress bar on stderr and records who exported what, when and why. `verify` needs only
the public keys. Exit codes: 0 ok, 1 bundle invalid, 2 usage, configuration or store error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.network_log.adapters.crypto import AesGcmCipher
from services.network_log.adapters.mongo import MongoLogStore
from services.network_log.config import NetworkLogSettings
from services.network_log.domain.bundle import BundleInvalid, verify_bundle
from services.network_log.inspection import Exporter, ExportRequest, NothingSealed
from shared.storage.mongo import create_client

SERVICE = "network_log"


class StoreSettings(BaseSettings):
    """Where the log's store is (env prefix `DSGOV_`)."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    mongo_uri: str = Field(default="mongodb://127.0.0.1:27017/?directConnection=true")
    mongo_database: str | None = None


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs an offset, e.g. +08:00")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="dsgov-inspect", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("export", help="write a bundle of log entries with proofs")
    e.add_argument("--from", dest="start", type=_time, required=True, help="RFC 3339, inclusive")
    e.add_argument("--to", dest="end", type=_time, required=True, help="RFC 3339, exclusive")
    e.add_argument("--user", help="only entries about this platform user id")
    e.add_argument("--content", help="only entries about this content id")
    e.add_argument("--ip", help="only activity from this source IP address")
    e.add_argument("--reason", required=True, help="why (e.g. the inspection notice); recorded")
    e.add_argument("--actor", required=True, help="who exports; recorded")
    e.add_argument("--out", required=True, help="bundle file to write")
    e.add_argument("--database", help="default $DSGOV_MONGO_DATABASE or dsgov_network_log")
    sub.add_parser("keys", help="print the public key of DSGOV_NETLOG_SIGNING_KEY as JSON")
    v = sub.add_parser("verify", help="check a bundle with only the public keys")
    v.add_argument("bundle")
    v.add_argument(
        "--keys", action="append", required=True, help="keys file {key_id: public key} (repeatable)"
    )
    return p


async def export(args: argparse.Namespace) -> int:
    """Stream the bundle; 2 when nothing is sealed or the store fails."""
    settings, store_settings = NetworkLogSettings(), StoreSettings()
    request = ExportRequest(
        start=args.start,
        end=args.end,
        actor=args.actor,
        reason=args.reason,
        user_id=args.user,
        content_id=args.content,
        ip=args.ip,
    )
    client = create_client(store_settings.mongo_uri, app_name="dsgov-inspect")
    try:
        db = client[args.database or store_settings.mongo_database or f"dsgov_{SERVICE}"]
        exporter = Exporter(
            MongoLogStore(db),
            AesGcmCipher(settings.encryption_key.get_secret_value()),
            settings.signer(),
            settings.segment_ms,
            lambda: datetime.now(UTC),
        )
        _, _, total = await exporter.plan(request)
        with _progress() as bar, _open_out(args.out) as out:
            task = bar.add_task("scanning", total=total)
            manifest = await exporter.export(request, out, lambda n: bar.advance(task, n))
    finally:
        await client.close()
    summary = {k: manifest[k] for k in ("entries", "segments", "sealed_through_ms", "sha256")}
    print(json.dumps({"bundle": args.out, **summary}))
    return 0


def _open_out(path: str) -> BinaryIO:
    # Opened once, before streaming; the writes themselves are buffered.
    return Path(path).open("wb")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )


def _lines(path: str) -> Iterator[bytes]:
    with Path(path).open("rb") as f:
        yield from f


def verify(args: argparse.Namespace) -> int:
    """0 valid, 1 invalid (the first failing line and why)."""
    keys: dict[str, str] = {}
    for path in args.keys:
        keys.update(json.loads(Path(path).read_text(encoding="utf-8")))
    try:
        result = verify_bundle(_lines(args.bundle), keys)
    except BundleInvalid as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return 1
    m = result.manifest
    print(
        f"OK: {result.entries} entries in {result.segments} segments, checkpoint size "
        f"{m['checkpoint']['size']}; exported {m['exported_at']} by {m['actor']}: {m['reason']}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `dsgov-inspect`."""
    args = parser().parse_args(argv)
    try:
        if args.command == "verify":
            return verify(args)
        if args.command == "keys":
            signer = NetworkLogSettings().signer()
            print(json.dumps({signer.key_id: signer.public_key}))
            return 0
        return asyncio.run(export(args))
    except (ValidationError, ValueError, NothingSealed, OSError) as exc:
        print(f"dsgov-inspect: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
