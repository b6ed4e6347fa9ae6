"""Text and media fingerprints that survive light rewording (DS-11: find every output carrying a rumour).

Text is normalised (Unicode NFKC, case fold, only letters and digits kept, so punctuation,
whitespace and full-width/half-width differences vanish), cut into overlapping windows, and each
window becomes a MinHash sketch (datasketch) of its character n-grams. Character n-grams work the
same for Chinese (no word boundaries) and English.

Windows make the score a *containment* rather than a resemblance: a short claim copied into a
long article shares few n-grams with the whole article, but nearly all of them with one window.
A claim is cut into pieces no longer than the window stride, so every piece fits whole inside
some window of an output that carries it; the score of an output is the share of the claim's
n-grams, piece by piece, that its best window carries (see `containment`).

The parameters below are part of the stored data: sketches made with other parameters cannot be
compared. Changing any of them needs a new `SCHEME` name and a re-index (docs/rumour-matching.md).
"""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
from datasketch import MinHash  # type: ignore[import-untyped]

SCHEME = "minhash-cjk2-n4-w160-k128-b8-v2"
NGRAM = 4  # characters per shingle in alphabetic scripts
CJK_NGRAM = 2  # characters per shingle starting at a CJK character (about one word)
NUM_PERM = 128  # MinHash values per sketch
VALUE_BITS = 8  # only the low 8 bits of each value are kept (b-bit MinHash): 128 bytes a window
SEED = 11  # DS-11
WINDOW = 160  # normalised characters per output window
STRIDE = WINDOW // 2  # windows overlap by half: any stretch of <= STRIDE characters fits in one
MIN_CLAIM_CHARS = 6  # shorter claims are matched by their media only (too little text to be specific)

Signature = npt.NDArray[np.uint8]
_CHANCE = 1.0 / (1 << VALUE_BITS)  # two different 8-bit values agree by chance this often


@dataclass(frozen=True)
class Sketch:
    """One window (or claim piece): its b-bit MinHash values and how many distinct shingles it had."""

    values: Signature
    size: int


def encode_sketches(sketches: Sequence[Sketch]) -> tuple[str, list[int]]:
    """Compact stored form: all values as one base64 text, and the sizes."""
    blob = b"".join(s.values.tobytes() for s in sketches)
    return base64.b64encode(blob).decode("ascii"), [s.size for s in sketches]


def decode_sketches(blob: str, sizes: Sequence[int]) -> list[Sketch]:
    """Read the stored form back; ValueError when it does not fit this scheme."""
    values = np.frombuffer(base64.b64decode(blob), dtype=np.uint8)
    if len(values) != NUM_PERM * len(sizes):
        raise ValueError(f"{len(values)} bytes do not hold {len(sizes)} {SCHEME} sketches")
    rows = values.reshape(len(sizes), NUM_PERM)
    return [Sketch(rows[i].copy(), int(size)) for i, size in enumerate(sizes)]


def normalise(text: str) -> str:
    """NFKC, case fold, keep letters and digits only (punctuation, symbols and whitespace go)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


_U64 = np.uint64
_LOW32 = _U64(0xFFFFFFFF)


def _mix(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    # splitmix64 finaliser: spreads the packed code points over all 64 bits (arrays wrap silently)
    x = x ^ (x >> _U64(30))
    x = x * _U64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> _U64(27))
    x = x * _U64(0x94D049BB133111EB)
    return x ^ (x >> _U64(31))


def _cjk(cps: npt.NDArray[np.uint64]) -> npt.NDArray[np.bool_]:
    # CJK radicals, kana and ideographs, Hangul syllables, compatibility ideographs, extensions B+
    return (
        ((cps >= 0x2E80) & (cps <= 0x9FFF))
        | ((cps >= 0xAC00) & (cps <= 0xD7AF))
        | ((cps >= 0xF900) & (cps <= 0xFAFF))
        | (cps >= 0x20000)
    )


@dataclass(frozen=True)
class _Grams:
    """The shingle starting at each position of a normalised text: its 32-bit hash and its end."""

    hashes: npt.NDArray[np.uint32]
    ends: npt.NDArray[np.int64]  # position after the shingle; > len(text) when none starts there


def _grams(text: str) -> _Grams:
    """Shingles of a whole text in one vectorised pass.

    Chinese words are mostly one or two characters, English ones five or so: a shingle starting at
    a CJK character is a bigram, otherwise a 4-gram. Code points (< 2^21) are packed in pairs and
    mixed, so equal n-grams hash equally wherever they occur.
    """
    cps = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    size = len(cps)
    n = np.where(_cjk(cps), CJK_NGRAM, NGRAM).astype(np.int64)
    hashes = np.zeros(size, dtype=np.uint64)
    if size >= 2:
        pairs = (cps[:-1] << _U64(21)) | cps[1:]
        bigrams = _mix(pairs | _U64(1 << 62))
        hashes[: size - 1] = bigrams
        if size >= 4:
            fourgrams = _mix(_mix(pairs[:-2]) ^ (pairs[2:] * _U64(0x9E3779B97F4A7C15)))
            four = n[: size - 3] == NGRAM  # the packing above is written for NGRAM 4, CJK_NGRAM 2
            hashes[: size - 3][four] = fourgrams[four]
    return _Grams((hashes & _LOW32).astype(np.uint32), np.arange(size, dtype=np.int64) + n)


def _shingles_in(grams: _Grams, text: str, start: int, end: int) -> npt.NDArray[np.uint32]:
    """Distinct shingle hashes of text[start:end] (a piece too short for any n-gram is one shingle)."""
    inside = grams.ends[start:end] <= end
    found = np.unique(grams.hashes[start:end][inside])
    if len(found) or start == end:
        return found
    whole = hashlib.blake2b(text[start:end].encode("utf-8"), digest_size=4).digest()
    return np.array([int.from_bytes(whole, "little")], dtype=np.uint32)


def shingle_hashes(piece: str) -> npt.NDArray[np.uint32]:
    """The distinct shingle hashes of one normalised piece."""
    return _shingles_in(_grams(piece), piece, 0, len(piece))


def _identity(value: int) -> int:
    return value


@lru_cache(maxsize=1)
def _template() -> MinHash:
    # Generating the permutations is the slow part of a MinHash; every sketch shares one set.
    return MinHash(num_perm=NUM_PERM, seed=SEED, scheme="affine32")


def _sketch_hashes(hashes: npt.NDArray[np.uint32]) -> Sketch:
    template = _template()
    mh = MinHash(
        num_perm=NUM_PERM,
        seed=SEED,
        permutations=template.permutations,
        scheme="affine32",
        hashfunc=_identity,
    )
    mh.update_batch(hashes)
    low_bits = np.asarray(mh.hashvalues, dtype=np.uint32) & np.uint32((1 << VALUE_BITS) - 1)
    return Sketch(low_bits.astype(np.uint8), len(hashes))


def sketch(piece: str) -> Sketch:
    """The MinHash sketch of one normalised piece."""
    return _sketch_hashes(shingle_hashes(piece))


def windows(normalised: str) -> list[str]:
    """Overlapping windows of an output: WINDOW characters every STRIDE, the last one flush with the end."""
    return [normalised[s : s + WINDOW] for s in window_starts(len(normalised))]


def claim_pieces(normalised: str) -> list[str]:
    """A claim cut into near-equal pieces of at most STRIDE characters (each fits in one window)."""
    if not normalised:
        return []
    count = -(-len(normalised) // STRIDE)
    size = -(-len(normalised) // count)
    return [normalised[i : i + size] for i in range(0, len(normalised), size)]


def window_starts(length: int) -> list[int]:
    """Where the windows of a normalised text of `length` characters start."""
    if length <= WINDOW:
        return [0] if length else []
    starts = list(range(0, length - WINDOW + 1, STRIDE))
    if starts[-1] + WINDOW < length:
        starts.append(length - WINDOW)
    return starts


def output_sketches(text: str | None) -> list[Sketch]:
    """The window sketches indexed for an output's text (none for no text); shingles hashed once."""
    norm = normalise(text or "")
    grams = _grams(norm)
    return [
        _sketch_hashes(_shingles_in(grams, norm, s, min(s + WINDOW, len(norm))))
        for s in window_starts(len(norm))
    ]


def claim_sketches(text: str) -> list[Sketch]:
    """The piece sketches of a claim; none when the claim has too little text to match on."""
    norm = normalise(text)
    if len(norm) < MIN_CLAIM_CHARS:
        return []
    return [sketch(p) for p in claim_pieces(norm)]


def containment(
    agreeing: npt.NDArray[np.uint8], claim_size: int, window_sizes: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """Share of a claim piece's shingles found in each window, from how many sketch values agree.

    The agreeing share, less chance agreement of b-bit values, estimates the Jaccard index J;
    with J = shared / (|C| + |W| - shared), it follows shared = J(|C| + |W|) / (1 + J).
    """
    jaccard = np.clip((agreeing / NUM_PERM - _CHANCE) / (1.0 - _CHANCE), 0.0, 1.0)
    inter = jaccard * (claim_size + window_sizes) / (1.0 + jaccard)
    return np.minimum(inter / max(claim_size, 1), 1.0)


def hamming(a_hex: str, b_hex: str) -> int | None:
    """Bits that differ between two perceptual hashes of the same length; None when incomparable."""
    if len(a_hex) != len(b_hex):
        return None
    try:
        return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
    except ValueError:
        return None
