"""Redaction of sensitive fields before anything is logged (ARCHITECTURE rule 6, DS-9, PI-28)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REDACTED = "[redacted]"

# Field names whose values are personal identifiers, biometric data or secrets.
SENSITIVE_KEYS = frozenset(
    {
        "id_card_number",
        "full_name",
        "mobile",
        "uscc",
        "organization_name",
        "network_id_token",
        "password",
        "password_hash",
        "secret",
        "token",
        "authorization",
        "cookie",
        "hmac_key",
        "payload",
        "claim_text",
        "text",
    }
)

# Shapes of identifiers that must not leak even inside free text (an exception message, say).
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)")
_USCC = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])")


def scrub_text(text: str) -> str:
    """Replace anything shaped like an ID number, USCC or mobile number in free text."""
    text = _ID_CARD.sub(REDACTED, text)
    text = _USCC.sub(REDACTED, text)
    return _MOBILE.sub(REDACTED, text)


def redact(value: Any, _depth: int = 0) -> Any:
    """Return `value` with sensitive keys masked and identifier shapes scrubbed, recursively."""
    if _depth > 8:
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if str(k).lower() in SENSITIVE_KEYS else redact(v, _depth + 1))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v, _depth + 1) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def redact_processor(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Structlog processor: the last line of defence before a log line is rendered."""
    return {k: (REDACTED if k.lower() in SENSITIVE_KEYS else redact(v)) for k, v in event_dict.items()}
