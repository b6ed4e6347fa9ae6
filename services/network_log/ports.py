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
    """The append-only log: entries, sealed checkpoints, and the record of exports."""

    async def append(self, docs: Sequence[dict[str, Any]]) -> int:
        """Insert entries durably; already present ids are skipped. Returns how many were new."""
        ...

    async def next_segment_after(self, segment: int) -> int | None:
        """The lowest segment number above `segment` that holds entries, if any."""
        ...

    async def segment_leaves(self, segment: int) -> list[bytes]:
        """The leaf hashes of one segment, in log order."""
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

    def entries(self, query: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Entries matching `query`, in log order, streamed."""
        ...

    async def count(self, query: dict[str, Any]) -> int:
        """How many entries match `query`."""
        ...

    async def record_export(self, doc: dict[str, Any]) -> None:
        """Keep who exported what, when and why (DS-21)."""
        ...
