"""Who has been told about a rumour: one notice per recipient per case, however many items reached them.

The "already notified" facts of a case are spread over a fixed number of shard documents by a
stable hash of the recipient id, so a fan-out to many thousands of recipients writes a few
dozen documents of bounded size (each with its own outbox), and the same recipient reached
again, through another content or a later distribution, always lands in the same shard and is
not notified twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from shared.storage.aggregates import AggregateState

REACH: Final = "reach:"


def reach_key(provider_id: str, notice_id: str, shard: int) -> str:
    """The aggregate id of one reach shard of a case: `reach:<provider>/<notice_id>/<shard>`."""
    return f"{REACH}{provider_id}/{notice_id}/{shard:04d}"


@dataclass(frozen=True)
class Notice:
    """A `dsgov.refutation.notice` to publish to one recipient."""

    recipient: str
    content_ids: tuple[str, ...]


class Notified(AggregateState):
    """One recipient told about the case: when (`at`, ms) and the contents that reached them (`c`)."""

    r: str
    at: int
    c: tuple[str, ...]


class ReachShard(AggregateState):
    """The recipients of one case already notified whose ids hash to this shard."""

    kind: Literal["reach"] = "reach"
    notice_id: str
    shard: int
    notified: tuple[Notified, ...] = ()
    count: int = 0


def shard_of(recipient: str, shards: int) -> int:
    """The shard of a recipient: stable across processes and restarts (not Python's salted hash)."""
    digest = hashlib.blake2b(recipient.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def new_shard(notice_id: str, shard: int) -> ReachShard:
    """A shard nobody in which has been notified yet."""
    return ReachShard(notice_id=notice_id, shard=shard)


def notify(
    state: ReachShard | None, notice_id: str, shard: int, reached: Mapping[str, Sequence[str]], now_ms: int
) -> tuple[ReachShard, list[Notice]] | None:
    """Notify every recipient reached (recipient -> content ids) who was not notified yet.

    Extra contents that reached someone already notified are remembered for the case file, without
    a second notice. None when nothing changes.
    """
    base = state or new_shard(notice_id, shard)
    records = {n.r: n for n in base.notified}
    notices: list[Notice] = []
    changed = False
    for recipient in sorted(reached):
        contents = tuple(dict.fromkeys(reached[recipient]))
        record = records.get(recipient)
        if record is None:
            records[recipient] = Notified(r=recipient, at=now_ms, c=contents)
            notices.append(Notice(recipient, contents))
            changed = True
        elif extra := tuple(c for c in contents if c not in record.c):
            # recorded for the case file; the recipient was already told
            records[recipient] = record.model_copy(update={"c": (*record.c, *extra)})
            changed = True
    if not changed:
        return None
    notified = tuple(records.values())  # insertion order: earlier recipients first, new ones appended
    return base.model_copy(update={"notified": notified, "count": len(notified)}), notices
