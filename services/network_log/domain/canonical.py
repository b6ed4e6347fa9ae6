"""Canonical JSON (RFC 8785, JCS) of log entries, fast for the common case.

The `rfc8785` package is exact but pure Python (~200 µs an entry). For values without floats,
without integers beyond ±(2**53 - 1) and without keys outside the Basic Multilingual Plane, the
standard library's C encoder with sorted keys, no whitespace and raw UTF-8 writes the same bytes
(same string escapes, same key order), so it is used; anything else goes through `rfc8785`.
Integers JCS cannot carry exactly are written as strings first (the value is kept, as text).
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

MAX_SAFE_INT = 2**53 - 1
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_NOT_BMP = re.compile(rb"[\xf0-\xf4]")  # the lead byte of a 4-byte UTF-8 sequence


def parse_json(raw: bytes) -> tuple[Any, bool]:
    """Parse JSON text; also say whether the value is certainly one the fast path writes exactly.

    The parser reports every float and every integer too long to be safe; characters beyond U+FFFF
    show as a 4-byte UTF-8 sequence or an escaped surrogate (any backslash-u escape counts as one).
    Raises like `json.loads`.
    """
    simple = True

    def on_float(text: str) -> float:
        nonlocal simple
        simple = False
        return float(text)

    def on_int(text: str) -> int:
        nonlocal simple
        if len(text) > 15:
            simple = False
        return int(text)

    value = json.loads(raw, parse_float=on_float, parse_int=on_int)
    if b"\\u" in raw or (not raw.isascii() and _NOT_BMP.search(raw)):
        simple = False
    return value, simple


def canonical(value: Any, *, known_simple: bool = False) -> bytes:
    """The RFC 8785 bytes of a JSON value (`known_simple`: vouched for by `parse_json`)."""
    if known_simple or _simple(value):
        return _ENCODER.encode(value).encode("utf-8")
    return rfc8785.dumps(_safe(value))


def _simple(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_plain_key(k) and _simple(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_simple(v) for v in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if isinstance(value, int):
        return -MAX_SAFE_INT <= value <= MAX_SAFE_INT
    return False  # floats: JCS writes them the ECMAScript way, unlike repr()


def _plain_key(key: Any) -> bool:
    # Python sorts by code point, JCS by UTF-16 unit: they differ only beyond U+FFFF.
    return isinstance(key, str) and (key.isascii() or max(key) <= "\uffff")


def _safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INT:
        return str(value)
    return value
