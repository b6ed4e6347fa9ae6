"""Command-line reading of one record from a service's own store, printed as JSON.

Shared by the services' inspection commands (a consent's proof, a rumour case file): where the
store is (DSGOV_MONGO_URI, DSGOV_MONGO_DATABASE or dsgov_<service>), whose record (--provider or
DSGOV_PROVIDER_ID), and one exit code convention: 0 found, 1 not found, 2 usage or store error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.asynchronous.database import AsyncDatabase

from shared.storage.mongo import create_client

Loader = Callable[[AsyncDatabase[dict[str, Any]], str, str], Awaitable[dict[str, Any] | None]]


class StoreSettings(BaseSettings):
    """Only the store and the default provider (env prefix `DSGOV_`)."""

    model_config = SettingsConfigDict(env_prefix="DSGOV_", extra="ignore")

    mongo_uri: str = Field(default="mongodb://127.0.0.1:27017/?directConnection=true")
    mongo_database: str | None = Field(default=None, description="defaults to dsgov_<service>")
    provider_id: str | None = Field(default=None, description="default for --provider")


def add_store_arguments(parser: argparse.ArgumentParser, service: str) -> None:
    """`--provider`, `--mongo-uri`, `--database`."""
    parser.add_argument("--provider", help="provider (tenant) id; default $DSGOV_PROVIDER_ID")
    parser.add_argument("--mongo-uri", help="default $DSGOV_MONGO_URI")
    parser.add_argument("--database", help=f"default $DSGOV_MONGO_DATABASE or dsgov_{service}")


async def _load(uri: str, database: str, provider: str, key: str, service: str, load: Loader) -> Any:
    client = create_client(uri, app_name=f"dsgov-{service}-cli")
    try:
        return await load(client[database], provider, key)
    finally:
        await client.close()


def print_record(
    *, command: str, what: str, service: str, args: argparse.Namespace, key: str, load: Loader
) -> int:
    """Load `key` for the provider with `load(db, provider, key)` and print it as JSON."""
    settings = StoreSettings()
    provider = args.provider or settings.provider_id
    if not provider:
        print(f"{command}: give --provider or set DSGOV_PROVIDER_ID", file=sys.stderr)
        return 2
    uri = args.mongo_uri or settings.mongo_uri
    database = args.database or settings.mongo_database or f"dsgov_{service}"
    try:
        record = asyncio.run(_load(uri, database, provider, key, service, load))
    except Exception as exc:  # one line for any store failure
        print(f"{command}: cannot read the store at {uri}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if record is None:
        print(f"{command}: no {what} {key!r} for provider {provider!r}", file=sys.stderr)
        return 1
    print(json.dumps(record, ensure_ascii=False, indent=2))
    return 0
