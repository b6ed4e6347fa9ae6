"""The `AsyncMongoClient` factory (PyMongo's native async API; Motor is deprecated)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient


def create_client(uri: str, *, app_name: str, timeout_ms: int = 5000) -> AsyncMongoClient[dict[str, Any]]:
    """A client with timezone-aware datetimes; connecting happens lazily or on `ping`."""
    return AsyncMongoClient(
        uri,
        tz_aware=True,
        uuidRepresentation="standard",
        appname=app_name,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
    )


async def ping(client: AsyncMongoClient[dict[str, Any]]) -> bool:
    """True when the server answers."""
    try:
        await client.admin.command("ping")
    except Exception:
        return False
    return True
