"""Operator commands on the provider's side: export the public keys, list reports and their answers.

`python -m services.regulator_reporting export-keys > keys.json` writes every public key reports
were ever signed with (the store keeps retired keys), plus the configured current key, for the
regulator's `verify`. `python -m services.regulator_reporting reports --status rejected` lists the
reports the regulator rejected, with its errors (they are kept, never dropped).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import ValidationError

from services.regulator_reporting.adapters.mongo import MongoKeyStore, MongoReportLedger
from services.regulator_reporting.chain import PublicKey, keys_document
from services.regulator_reporting.config import ReportingSettings, StoreSettings
from shared.storage.mongo import create_client


def _current_key() -> PublicKey | None:
    # The configured key is exported even before the service first ran with it.
    try:
        signer = ReportingSettings().signer()
    except ValidationError:
        return None
    return PublicKey(signer.key_id, signer.public_key)


async def export_keys(out: TextIO) -> int:
    """Print the keys file (JSON) to `out`."""
    settings = StoreSettings()
    client = create_client(settings.mongo_uri, app_name="dsgov-regulator-reporting-admin")
    try:
        keys = await MongoKeyStore(client[settings.database()]).all()
    finally:
        await client.close()
    current = _current_key()
    if current and all(k.key_id != current.key_id for k in keys):
        keys.append(current)
    providers = settings.served_providers
    document: dict[str, Any] = {
        **keys_document(keys),
        "provider_id": providers[0],  # the keys sign every served provider's stream
        "provider_ids": list(providers),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    json.dump(document, out, indent=2)
    out.write("\n")
    return 0 if keys else 1


def _row(doc: dict[str, Any]) -> str:
    errors = "; ".join(doc.get("ack_errors") or [])
    return (
        f"{doc['sequence']:>8}  {doc['ack_status']:<9} resent={doc.get('resend_count', 0):<3} "
        f"{doc['category']:<16} {doc['report_id']}  {doc['incident_key']}"
        + (f"  errors: {errors}" if errors else "")
    )


async def list_reports(
    status: str | None, limit: int, as_json: bool, out: TextIO, provider: str | None = None
) -> int:
    """Print each served provider's newest reports (optionally of one acknowledgement status)."""
    settings = StoreSettings()
    if provider is not None and provider not in settings.served_providers:
        out.write(f"provider {provider!r} is not served here (DSGOV_PROVIDER_IDS)\n")
        return 2
    client = create_client(settings.mongo_uri, app_name="dsgov-regulator-reporting-admin")
    ledger = MongoReportLedger(client[settings.database()])
    try:
        for served in [provider] if provider else settings.served_providers:
            for doc in await ledger.listing(served, status, limit):
                line = json.dumps({"provider": served, **doc}, ensure_ascii=False) if as_json else _row(doc)
                out.write(line + "\n")
    finally:
        await client.close()
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line of `python -m services.regulator_reporting`."""
    p = argparse.ArgumentParser(prog="python -m services.regulator_reporting", description=__doc__)
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="run the service (the default)")
    sub.add_parser("export-keys", help="print the public keys file for the regulator")
    listing = sub.add_parser("reports", help="list reports and the regulator's answers")
    listing.add_argument("--status", choices=("pending", "accepted", "rejected"))
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--provider", help="only this served provider (default: every served provider)")
    return p


async def run_command(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    """Run an admin command; return the exit code."""
    if args.command == "export-keys":
        return await export_keys(out)
    return await list_reports(args.status, args.limit, args.json, out, args.provider)
