"""Checking a feature-library proposal typed into the console before it is sent (pure, DS-10.2).

These checks give the operator an answer at once; the review service applies the admission rules
again and is the authority (it also compiles regular expressions with RE2, which the console does
not: an expression RE2 refuses comes back as a refused change on the entry's page).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, get_args

from shared.contracts.generation import EntryAction, EntryKind

KINDS: Final[tuple[str, ...]] = get_args(EntryKind)
ACTIONS: Final[tuple[str, ...]] = get_args(EntryAction)
MAX_PATTERN: Final = 1000
MAX_REASON: Final = 2000
MAX_PHASH_DISTANCE: Final = 15  # the review service's limit (4 blocks of 16 bits, multi-index hashing)
DEFAULT_PHASH_DISTANCE: Final = 8
CATEGORY: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
ENTRY_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
_SHA256: Final = re.compile(r"[0-9a-fA-F]{64}")
_PHASH: Final = re.compile(r"[0-9a-fA-F]{16}")


@dataclass(frozen=True)
class Proposal:
    """A proposal that passed the console's checks."""

    entry_id: str
    entry: dict[str, Any]  # the `entry` of `dsgov.library.change-submitted`
    reason: str


def check_proposal(
    *,
    entry_id: str,
    kind: str,
    pattern: str,
    category: str,
    action: str,
    max_distance: str,
    reason: str,
) -> Proposal | list[str]:
    """The proposal, or every problem found (all of them, so the form can be fixed in one go)."""
    problems: list[str] = []
    if not ENTRY_ID.fullmatch(entry_id):
        problems.append("The entry id must be 1-128 letters, digits, '_', '.', ':' or '-'.")
    if kind not in KINDS:
        problems.append(f"Choose a kind: {', '.join(KINDS)}.")
    problems += _pattern_problems(kind, pattern)
    if not CATEGORY.fullmatch(category):
        problems.append("The category is a lowercase identifier (a-z, 0-9, '_', '.', '-'), at most 64.")
    if action not in ACTIONS:
        problems.append(f"Choose an action: {', '.join(ACTIONS)}.")
    distance = _distance(kind, max_distance, problems)
    if not reason:
        problems.append("Say why the entry belongs in the library: the criterion applied (DS-10.2).")
    elif len(reason) > MAX_REASON:
        problems.append(f"The reason may have at most {MAX_REASON} characters.")
    if problems:
        return problems
    entry: dict[str, Any] = {"kind": kind, "pattern": pattern, "category": category, "action": action}
    if distance is not None:
        entry["max_distance"] = distance
    return Proposal(entry_id, entry, reason)


def _pattern_problems(kind: str, pattern: str) -> list[str]:
    if not pattern or len(pattern) > MAX_PATTERN:
        return [f"The pattern is required, at most {MAX_PATTERN} characters."]
    if kind == "sha256" and not _SHA256.fullmatch(pattern):
        return ["A sha256 pattern is 64 hexadecimal digits."]
    if kind == "phash" and not _PHASH.fullmatch(pattern):
        return ["A phash pattern is a 64-bit perceptual hash: 16 hexadecimal digits."]
    return []


def _distance(kind: str, raw: str, problems: list[str]) -> int | None:
    if kind != "phash":
        return None
    if not raw:
        return DEFAULT_PHASH_DISTANCE
    if re.fullmatch(r"[0-9]{1,2}", raw) and int(raw) <= MAX_PHASH_DISTANCE:
        return int(raw)
    problems.append(f"The maximum distance is a whole number of bits from 0 to {MAX_PHASH_DISTANCE}.")
    return None
