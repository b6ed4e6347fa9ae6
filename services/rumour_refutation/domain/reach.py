"""Who has been told about a rumour: one notice per recipient per case, however many items reached them.

The "already notified" facts of a case are spread over a fixed number of shard documents by a
stable hash of the recipient id, so a fan-out to many thousands of recipients writes a few
dozen documents of bounded size (each with its own outbox), and the same recipient reached
again, through another content or a later distribution, always lands in the same shard and is
not notified twice.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

State = dict[str, Any]


@dataclass(frozen=True)
class Notice:
    """A `dsgov.refutation.notice` to publish to one recipient."""

    recipient: str
    content_ids: tuple[str, ...]


def shard_of(recipient: str, shards: int) -> int:
    """The shard of a recipient: stable across processes and restarts (not Python's salted hash)."""
    digest = hashlib.blake2b(recipient.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def new_shard(notice_id: str, shard: int) -> State:
    """A shard nobody in which has been notified yet."""
    return {"kind": "reach", "notice_id": notice_id, "shard": shard, "notified": [], "count": 0}


def notify(
    state: State | None, notice_id: str, shard: int, reached: Mapping[str, Sequence[str]], now_ms: int
) -> tuple[State, list[Notice]] | None:
    """Notify every recipient reached (recipient -> content ids) who was not notified yet.

    Extra contents that reached someone already notified are remembered for the case file, without
    a second notice. None when nothing changes.
    """
    new = copy.deepcopy(state) if state else new_shard(notice_id, shard)
    known: dict[str, dict[str, Any]] = {r["r"]: r for r in new["notified"]}
    notices: list[Notice] = []
    changed = False
    for recipient in sorted(reached):
        contents = list(dict.fromkeys(reached[recipient]))
        record = known.get(recipient)
        if record is None:
            record = {"r": recipient, "at": now_ms, "c": contents}
            new["notified"].append(record)
            known[recipient] = record
            notices.append(Notice(recipient, tuple(contents)))
            changed = True
        elif extra := [c for c in contents if c not in record["c"]]:
            record["c"] += extra  # recorded for the case file; the recipient was already told
            changed = True
    if not changed:
        return None
    new["count"] = len(new["notified"])
    return new, notices
