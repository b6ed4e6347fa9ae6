"""Who works on a review item: taking an item, taking it over, and who may decide it (pure).

Kept deliberately simple (the console's own bookkeeping; the review service knows nothing of it):

- a reviewer **takes** a pending item; every take is numbered per item (1, 2, 3, ...) and recorded
  in the console's audit store, so the newest take names the current holder and everyone sees it;
- only the **holder** may decide the item; a second reviewer sees who holds it and since when, and
  may decide only after **taking it over** explicitly (a new take naming the previous holder);
- a take names the number of the take the reviewer saw (`expected_seq`): if somebody took the item
  in the meantime the take is refused, so two people never both believe they hold it;
- takes do not expire: a forgotten item is taken over, which the audit log shows.

The review service applies the first decision on an item and ignores later ones, whatever happens here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Take:
    """One take of an item by a reviewer."""

    item_id: str
    seq: int  # 1 for the first take of the item, then 2, 3, ...
    username: str
    role: str
    at: str  # ISO time
    took_over_from: str | None = None


def holder(takes: Iterable[Take]) -> Take | None:
    """The current holder: the newest take."""
    return max(takes, key=lambda t: t.seq, default=None)


def take_problem(
    item: Mapping[str, Any], current: Take | None, username: str, expected_seq: int
) -> str | None:
    """Why `username` may not take the item now, or None."""
    if item.get("status") != "pending":
        return "This item is already resolved."
    seen = current.seq if current else 0
    if expected_seq != seen:
        who = f"{current.username} ({current.role})" if current else "nobody"
        return f"The item changed hands while you looked at it: it is now held by {who}. Look again."
    if current is not None and current.username == username:
        return "You already hold this item."
    return None


def decide_problem(item: Mapping[str, Any], current: Take | None, username: str) -> str | None:
    """Why `username` may not decide the item now, or None."""
    if item.get("status") != "pending":
        return "This item is already resolved."
    if current is None:
        return "Take the item before deciding it."
    if current.username != username:
        return f"{current.username} holds this item; take it over before deciding it."
    return None
