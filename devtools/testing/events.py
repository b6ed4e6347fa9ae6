"""Building inbound CloudEvents the way a platform would."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any


def cloud_event(
    type_: str,
    data: dict[str, Any],
    *,
    subject: str,
    providerid: str = "provider-test",
    source: str = "platform/test",
    event_id: str | None = None,
    correlationid: str | None = None,
) -> dict[str, Any]:
    """A CloudEvents 1.0 envelope as a dict."""
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "subject": subject,
        "datacontenttype": "application/json",
        "providerid": providerid,
        "data": data,
    }
    if correlationid:
        event["correlationid"] = correlationid
    return event


def to_bytes(event: dict[str, Any]) -> bytes:
    """Serialise like a platform producer."""
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def unique(prefix: str) -> str:
    """A unique id for one test."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
