"""What `network_log` needs from the outside world: a cipher for personal information and a store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol


class FieldCipher(Protocol):
    """Encrypts log bodies at rest (PI-51) and blinds IP addresses for the `--ip` export filter."""

    def seal(self, plaintext: bytes) -> bytes:
        """Authenticated encryption of `plaintext` (a fresh nonce each time)."""
        ...

    def open(self, sealed: bytes) -> bytes:
        """The plaintext of `seal`'s output; raises when it was altered or the key is wrong."""
        ...

    def blind(self, value: str) -> str:
        """A keyed digest of `value`: equal values match, nobody without the key can guess them."""
        ...


class LogStore(Protocol):
    """The append-only log (runs of entries), sealed checkpoints, and the record of exports."""

    async def append_runs(self, runs: Sequence[dict[str, Any]]) -> int:
        """Insert runs durably; a run already stored is skipped. Returns how many entries were added."""
        ...

    async def stored_pairs(self, topic: str, partition: int, first: int, last: int) -> set[tuple[int, str]]:
        """(offset, event id) of the stored entries of a partition with offsets in [first, last]."""
        ...

    async def next_segment_after(self, segment: int) -> int | None:
        """The lowest segment number above `segment` that holds entries, if any."""
        ...

    async def segment_leaves(self, segment: int) -> list[bytes]:
        """The leaf hashes of one segment, in log order."""
        ...

    def runs(self, first_segment: int, last_segment: int) -> AsyncIterator[dict[str, Any]]:
        """The runs of segments [first, last], in log order, streamed."""
        ...

    async def entry_count(self, first_segment: int, last_segment: int) -> int:
        """How many entries segments [first, last] hold."""
        ...

    async def checkpoints(self) -> list[dict[str, Any]]:
        """Every checkpoint, by size."""
        ...

    async def add_checkpoint(self, doc: dict[str, Any]) -> bool:
        """Store a checkpoint; False when one of that size exists already."""
        ...

    async def delete_segments_before(self, segment: int) -> int:
        """Remove every entry of segments below `segment` (retention); returns how many."""
        ...

    async def record_export(self, doc: dict[str, Any]) -> None:
        """Keep who exported what, when and why (DS-21)."""
        ...
