"""Perceptual-hash lookup within a Hamming distance, by multi-index hashing (Norouzi et al., 2012).

A 64-bit hash is cut into 4 blocks of 16 bits. If two hashes differ in at most `d` bits, then
by the pigeonhole principle at least one block differs in at most `d // 4` bits. So for each
block we look up every 16-bit value within that radius of the query's block (137 values for
radius 2, i.e. d ≤ 11) in a bucket table, and check only those candidates exactly. With a
million random hashes a bucket holds about 15, so a query checks a few thousand candidates
instead of a million.

Pure and in memory (numpy); rebuilt whenever the library changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

BITS: Final = 64
BLOCKS: Final = 4
BLOCK_BITS: Final = BITS // BLOCKS
BLOCK_VALUES: Final = 1 << BLOCK_BITS
MAX_DISTANCE: Final = 4 * BLOCKS - 1  # radius 3 per block at most; enough for any useful threshold

U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]


def parse_phash(hex_text: str) -> int | None:
    """A 64-bit perceptual hash from 16 hexadecimal digits; None for anything else."""
    if len(hex_text) != BITS // 4:
        return None
    try:
        return int(hex_text, 16)
    except ValueError:
        return None


@lru_cache(maxsize=BLOCKS)
def _masks(radius: int) -> I64:
    """Every 16-bit value with at most `radius` bits set (the probes around a block value)."""
    values = np.arange(BLOCK_VALUES, dtype=np.uint16)
    return values[np.bitwise_count(values) <= radius].astype(np.int64)


class PhashIndex:
    """Hashes by position; `within(h, d)` returns the positions of hashes at distance ≤ d."""

    def __init__(self, hashes: Sequence[int] | U64) -> None:
        """Index `hashes` (64-bit integers); positions are their indexes in the sequence."""
        self._hashes: U64 = np.asarray(hashes, dtype=np.uint64)
        self._order: list[npt.NDArray[np.int32]] = []
        self._starts: list[I64] = []
        for block in range(BLOCKS):
            values = self._block(self._hashes, block)
            self._order.append(np.argsort(values, kind="stable").astype(np.int32))
            starts = np.zeros(BLOCK_VALUES + 1, dtype=np.int64)
            np.cumsum(np.bincount(values, minlength=BLOCK_VALUES), out=starts[1:])
            self._starts.append(starts)

    def __len__(self) -> int:
        """How many hashes are indexed."""
        return len(self._hashes)

    @staticmethod
    def _block(hashes: U64, block: int) -> I64:
        shifted = hashes >> np.uint64(block * BLOCK_BITS)
        return (shifted & np.uint64(BLOCK_VALUES - 1)).astype(np.int64)

    def _candidates(self, query: int, radius: int) -> npt.NDArray[np.int32]:
        masks = _masks(radius)
        found: list[npt.NDArray[np.int32]] = []
        for block in range(BLOCKS):
            own = (query >> (block * BLOCK_BITS)) & (BLOCK_VALUES - 1)
            probes = masks ^ own
            starts, ends = self._starts[block][probes], self._starts[block][probes + 1]
            lengths = ends - starts
            total = int(lengths.sum())
            if total == 0:
                continue
            # Concatenate the bucket ranges [start, end) without a Python loop.
            offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths)
            found.append(self._order[block][offsets + np.arange(total)])
        if not found:
            return np.empty(0, dtype=np.int32)
        return np.unique(np.concatenate(found))

    def within(self, query: int, distance: int) -> list[tuple[int, int]]:
        """(position, distance) of every indexed hash within `distance` bits of `query`, nearest first."""
        if not len(self._hashes) or distance < 0:
            return []
        distance = min(distance, MAX_DISTANCE)
        candidates = self._candidates(query, distance // BLOCKS)
        if not len(candidates):
            return []
        dist = np.bitwise_count(self._hashes[candidates] ^ np.uint64(query)).astype(np.int64)
        keep = dist <= distance
        pairs = sorted(zip(dist[keep].tolist(), candidates[keep].tolist(), strict=True))
        return [(int(pos), int(d)) for d, pos in pairs]
