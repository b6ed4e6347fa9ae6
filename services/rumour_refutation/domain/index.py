"""The in-memory search structures: every indexed output, and every open rumour (pure, no I/O).

`ContentIndex` keeps all output window sketches in one growing numpy matrix and scores a claim
against all of them in a few vectorised passes (one per claim piece): an exact scan, so there are
no banding misses, and at 200,000 outputs it stays far under the 500 ms budget
(docs/rumour-matching.md has the figures and why LSH banding does not suit containment scoring).
The store is the source of truth; the index is rebuilt from it at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from services.rumour_refutation.domain.content import CaseRef
from services.rumour_refutation.domain.fingerprint import NUM_PERM, Sketch, containment, hamming

Via = Literal["text", "sha256", "phash", "ordered"]


@dataclass(frozen=True)
class MediaHash:
    """A media item by its hashes (dsgov never sees the bytes)."""

    sha256: str
    phash: str | None = None


@dataclass(frozen=True)
class Claim:
    """What a rumour looks like: claim piece sketches and claim media."""

    pieces: tuple[Sketch, ...]
    media: tuple[MediaHash, ...] = ()


@dataclass(frozen=True)
class Thresholds:
    """When an output counts as carrying a claim (chosen from the measured table)."""

    text: float = 0.5  # share of the claim's shingles the best windows carry
    phash_max_distance: int = 8  # Hamming bits, for perceptual hashes of equal length


@dataclass(frozen=True)
class Match:
    """An output found to carry a claim."""

    content_id: str
    score: float
    via: Via


_CHUNK = 16_384  # rows compared at a time: the temporaries stay in the CPU cache (2.5x faster)


def _agreeing(sigs: npt.NDArray[np.uint8], values: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """How many of the 128 sketch values of each row equal the claim piece's."""
    out = np.empty(len(sigs), dtype=np.uint8)
    for start in range(0, len(sigs), _CHUNK):
        np.sum(
            sigs[start : start + _CHUNK] == values, axis=1, dtype=np.uint8, out=out[start : start + _CHUNK]
        )
    return out


def text_score(pieces: Sequence[Sketch], windows: Sequence[Sketch]) -> float:
    """Share of the claim carried by one output (each piece scored by its best window, size-weighted)."""
    total = sum(p.size for p in pieces)
    if not pieces or not windows or total == 0:
        return 0.0
    sigs = np.stack([w.values for w in windows])
    sizes = np.array([w.size for w in windows], dtype=np.int32)
    score = 0.0
    for p in pieces:
        score += float(containment(_agreeing(sigs, p.values), p.size, sizes).max()) * p.size / total
    return score


def media_score(claim: Sequence[MediaHash], output: Sequence[MediaHash], max_distance: int) -> Match | None:
    """Best media evidence: an identical SHA-256, else the closest perceptual hash within the limit."""
    shas = {m.sha256.lower() for m in claim}
    if any(m.sha256.lower() in shas for m in output):
        return Match("", 1.0, "sha256")
    best: float | None = None
    for c in claim:
        for o in output:
            if c.phash and o.phash and (d := hamming(c.phash, o.phash)) is not None and d <= max_distance:
                score = 1.0 - d / (4 * len(c.phash))
                best = score if best is None else max(best, score)
    return None if best is None else Match("", best, "phash")


def score_output(
    claim: Claim, windows: Sequence[Sketch], media: Sequence[MediaHash], thresholds: Thresholds
) -> tuple[float, Via] | None:
    """Does one output carry the claim? The best evidence wins; None when it does not."""
    found: list[tuple[float, Via]] = []
    if (m := media_score(claim.media, media, thresholds.phash_max_distance)) is not None:
        found.append((m.score, m.via))
    if claim.pieces and (t := text_score(claim.pieces, windows)) >= thresholds.text:
        found.append((t, "text"))
    return max(found, default=None, key=lambda f: f[0])


@dataclass
class _Rows:
    """A growing matrix of window sketches (amortised O(1) appends)."""

    sigs: npt.NDArray[np.uint8] = field(default_factory=lambda: np.empty((1024, NUM_PERM), np.uint8))
    sizes: npt.NDArray[np.int32] = field(default_factory=lambda: np.empty(1024, np.int32))
    count: int = 0

    def append(self, sketches: Sequence[Sketch]) -> int:
        start, need = self.count, self.count + len(sketches)
        if need > len(self.sizes):
            capacity = max(need, 2 * len(self.sizes))
            self.sigs = np.resize(self.sigs, (capacity, NUM_PERM))
            self.sizes = np.resize(self.sizes, capacity)
        for i, s in enumerate(sketches):
            self.sigs[start + i] = s.values
            self.sizes[start + i] = s.size
        self.count = need
        return start


@dataclass
class _Phashes:
    """Perceptual hashes of one hex length, for vectorised Hamming distances (up to 64 bits)."""

    values: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    _array: npt.NDArray[np.uint64] | None = None

    def add(self, value: int, owner: int) -> None:
        self.values.append(value)
        self.owners.append(owner)
        self._array = None

    def within(self, value: int, max_distance: int) -> list[tuple[int, int]]:
        if self._array is None:
            self._array = np.array(self.values, dtype=np.uint64)
        dist = np.bitwise_count(self._array ^ np.uint64(value))
        return [(self.owners[i], int(dist[i])) for i in np.nonzero(dist <= max_distance)[0]]


class ContentIndex:
    """Every indexed output: text window sketches, media SHA-256 and perceptual hashes."""

    def __init__(self) -> None:
        """An empty index."""
        self._rows = _Rows()
        self._ids: list[str] = []
        self._known: dict[str, int] = {}
        self._text_owner: list[int] = []  # content number of each text-bearing output, in row order
        self._text_start: list[int] = []  # its first row
        self._starts_array: npt.NDArray[np.intp] | None = None
        self._sha: dict[str, list[int]] = {}
        self._phash: dict[int, _Phashes] = {}  # by hex length (<= 16)
        self._long_phash: list[tuple[str, int]] = []  # longer than 64 bits: compared one by one

    def __len__(self) -> int:
        """How many outputs are indexed."""
        return len(self._ids)

    def __contains__(self, content_id: object) -> bool:
        """True when this content's output is indexed."""
        return content_id in self._known

    def add(self, content_id: str, windows: Sequence[Sketch], media: Iterable[MediaHash]) -> bool:
        """Index one output; False when it was already indexed (the first output of a content counts)."""
        if content_id in self._known:
            return False
        number = len(self._ids)
        self._ids.append(content_id)
        self._known[content_id] = number
        if windows:
            self._text_start.append(self._rows.append(windows))
            self._text_owner.append(number)
            self._starts_array = None
        for m in media:
            self._sha.setdefault(m.sha256.lower(), []).append(number)
            if m.phash:
                self._add_phash(m.phash, number)
        return True

    def _add_phash(self, phash: str, number: int) -> None:
        try:
            value = int(phash, 16)
        except ValueError:
            return  # not hex: unusable for distances, the SHA-256 still matches
        if len(phash) <= 16:
            self._phash.setdefault(len(phash), _Phashes()).add(value, number)
        else:
            self._long_phash.append((phash, number))

    def search(self, claim: Claim, thresholds: Thresholds) -> list[Match]:
        """Every indexed output that carries the claim, best score first."""
        best: dict[int, tuple[float, Via]] = {}
        for number, score in self._text_hits(claim.pieces, thresholds.text):
            best[number] = (score, "text")
        for number, score, via in self._media_hits(claim.media, thresholds.phash_max_distance):
            if number not in best or score > best[number][0]:
                best[number] = (score, via)
        found = [Match(self._ids[n], round(s, 4), v) for n, (s, v) in best.items()]
        return sorted(found, key=lambda m: (-m.score, m.content_id))

    def _text_hits(self, pieces: Sequence[Sketch], threshold: float) -> list[tuple[int, float]]:
        total = sum(p.size for p in pieces)
        if not pieces or not self._text_start or total == 0:
            return []
        rows = self._rows.count
        sigs, sizes = self._rows.sigs[:rows], self._rows.sizes[:rows]
        if self._starts_array is None:
            self._starts_array = np.array(self._text_start, dtype=np.intp)
        score = np.zeros(len(self._text_start))
        for p in pieces:
            agreeing = _agreeing(sigs, p.values)
            best = np.maximum.reduceat(containment(agreeing, p.size, sizes), self._starts_array)
            score += best * (p.size / total)
        hits = np.nonzero(score >= threshold)[0]
        return [(self._text_owner[i], float(score[i])) for i in hits]

    def _media_hits(self, media: Sequence[MediaHash], max_distance: int) -> list[tuple[int, float, Via]]:
        hits: list[tuple[int, float, Via]] = []
        for m in media:
            hits += [(n, 1.0, "sha256") for n in self._sha.get(m.sha256.lower(), [])]
            if not m.phash:
                continue
            bits = 4 * len(m.phash)
            group = self._phash.get(len(m.phash))
            if group is not None and _is_hex(m.phash):
                hits += [
                    (n, 1.0 - d / bits, "phash") for n, d in group.within(int(m.phash, 16), max_distance)
                ]
            for other, n in self._long_phash:
                if (d := hamming(m.phash, other)) is not None and d <= max_distance:
                    hits.append((n, 1.0 - d / bits, "phash"))
        return hits


def _is_hex(text: str) -> bool:
    try:
        int(text, 16)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class OpenRumour:
    """A rumour case that new outputs are checked against."""

    ref: CaseRef
    claim: Claim


class OpenRumours:
    """Every open rumour case, for matching outputs that arrive after the determination."""

    def __init__(self) -> None:
        """None yet."""
        self._by_notice: dict[str, OpenRumour] = {}

    def __len__(self) -> int:
        """How many rumours are open."""
        return len(self._by_notice)

    def __contains__(self, notice_id: object) -> bool:
        """True when this notice's rumour is known."""
        return notice_id in self._by_notice

    def add(self, ref: CaseRef, claim: Claim) -> bool:
        """Remember an open rumour; False when it was known already."""
        if ref.notice_id in self._by_notice:
            return False
        self._by_notice[ref.notice_id] = OpenRumour(ref, claim)
        return True

    def remove(self, notice_id: str) -> bool:
        """Forget a closed rumour: new outputs are no longer matched against it; False if unknown."""
        return self._by_notice.pop(notice_id, None) is not None

    def matching(
        self, windows: Sequence[Sketch], media: Sequence[MediaHash], thresholds: Thresholds
    ) -> list[tuple[CaseRef, float, Via]]:
        """Every open rumour one output carries, with score and evidence."""
        found: list[tuple[CaseRef, float, Via]] = []
        for rumour in self._by_notice.values():
            if (hit := score_output(rumour.claim, windows, media, thresholds)) is not None:
                found.append((rumour.ref, round(hit[0], 4), hit[1]))
        return found
