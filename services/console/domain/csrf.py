"""Synchronizer tokens against cross-site request forgery: one random token per session.

The token is kept server-side in the session and embedded in every form; a POST whose token is
missing or differs is refused (403). Comparison is constant-time.
"""

from __future__ import annotations

import hmac
import secrets

FIELD = "csrf_token"


def new_token() -> str:
    """A fresh unguessable token (256 bits)."""
    return secrets.token_urlsafe(32)


def tokens_match(expected: str | None, submitted: str | None) -> bool:
    """True only when both tokens are present, non-empty and equal."""
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8"))
