"""Known rumours (DS-11): the service's projection of `dsgov.rumour.recorded` and how content matches it.

Matching method, for text and media alike (inputs and outputs):

- **text, exact**: the normalised claim (see `normalise`) occurs in the normalised text.
  All claims sit in one Aho-Corasick automaton, so this is one pass over the text.
- **text, reworded**: the claim's character shingles (2-grams from a Chinese character, 4-grams
  otherwise, over the normalised text) are looked up in the text's shingles; when at least
  `text_containment` (default 0.8) of the claim's shingles occur in the text, it matches. This
  catches light rewording, reordering and insertions; an inverted index from shingle to rumour
  keeps it one pass over the text. Claims shorter than `min_claim_chars` normalised characters
  are matched by their media only (too little text to be specific).
- **media**: a claim media SHA-256 equal to a media item's, or a perceptual hash of the same
  length within `phash_max_distance` bits.

The event's `fingerprints` are kept with the rumour but not used: they are the rumour service's
own scheme, and a reviewer here must be able to explain a match from the claim itself.
"""

from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import ahocorasick  # type: ignore[import-not-found]

from services.generation_review.domain.matcher import MediaHashes
from services.generation_review.domain.normalise import normalise
from shared.storage.aggregates import AggregateState

LATIN_GRAM: Final = 4
CJK_GRAM: Final = 2


@dataclass(frozen=True)
class RumourPolicy:
    """How close content must be to a claim to match it."""

    text_containment: float = 0.8
    min_claim_chars: int = 6
    phash_max_distance: int = 8


@dataclass(frozen=True)
class ClaimMedia:
    """A media item that carries the rumour, by hash."""

    sha256: str
    phash: str | None = None


@dataclass(frozen=True)
class Rumour:
    """One known rumour, as matched."""

    rumour_id: str
    claim_text: str
    claim_media: tuple[ClaimMedia, ...] = ()


@dataclass(frozen=True)
class RumourHit:
    """A known rumour found in content: how (`text`, `text_reworded`, `sha256`, `phash`) and where."""

    rumour_id: str
    via: str
    where: str = "text"
    score: float = 1.0


class StoredClaimMedia(AggregateState):
    """A claim media item as kept (lowercase SHA-256)."""

    sha256: str
    phash: str | None = None


class RumourState(AggregateState):
    """The stored projection of one `dsgov.rumour.recorded` (the latest event wins)."""

    kind: Literal["rumour"] = "rumour"
    provider_id: str
    rumour_id: str
    notice_id: str
    claim_text: str = ""
    claim_media: tuple[StoredClaimMedia, ...] = ()
    fingerprints: tuple[str, ...] = ()
    event_id: str


def rumour_state(
    provider_id: str,
    rumour_id: str,
    notice_id: str,
    claim_text: str | None,
    claim_media: Sequence[ClaimMedia],
    fingerprints: Sequence[str],
    event_id: str,
) -> RumourState:
    """The stored projection of one `dsgov.rumour.recorded`."""
    return RumourState(
        provider_id=provider_id,
        rumour_id=rumour_id,
        notice_id=notice_id,
        claim_text=claim_text or "",
        claim_media=tuple(StoredClaimMedia(sha256=m.sha256.lower(), phash=m.phash) for m in claim_media),
        fingerprints=tuple(fingerprints),
        event_id=event_id,
    )


def rumour_from_state(state: RumourState) -> Rumour:
    """A stored projection back as a `Rumour`."""
    media = tuple(ClaimMedia(m.sha256, m.phash) for m in state.claim_media)
    return Rumour(state.rumour_id, state.claim_text, media)


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F")


def shingles(normalised: str) -> set[str]:
    """Character n-grams of normalised text: 2-grams from a CJK character, 4-grams otherwise."""
    grams = {
        normalised[i : i + n]
        for i, ch in enumerate(normalised)
        if i + (n := CJK_GRAM if _is_cjk(ch) else LATIN_GRAM) <= len(normalised)
    }
    return grams or ({normalised} if normalised else set())


class RumourIndex:
    """Every known rumour of a provider, compiled for matching."""

    def __init__(self, rumours: Iterable[Rumour], policy: RumourPolicy = RumourPolicy()) -> None:
        """Compile `rumours`."""
        self.policy = policy
        self.rumours: dict[str, Rumour] = {r.rumour_id: r for r in rumours}
        self._claim_sizes: dict[str, int] = {}
        self._by_shingle: dict[str, list[str]] = defaultdict(list)
        self._sha: dict[str, list[str]] = defaultdict(list)
        self._phash: list[tuple[str, str]] = []
        claims: dict[str, list[str]] = defaultdict(list)
        for r in self.rumours.values():
            claim = normalise(r.claim_text)
            if len(claim) >= policy.min_claim_chars:
                claims[claim].append(r.rumour_id)
                grams = shingles(claim)
                self._claim_sizes[r.rumour_id] = len(grams)
                for g in grams:
                    self._by_shingle[g].append(r.rumour_id)
            for m in r.claim_media:
                self._sha[m.sha256.lower()].append(r.rumour_id)
                if m.phash:
                    self._phash.append((m.phash.lower(), r.rumour_id))
        self._claims = _automaton(claims)

    def __len__(self) -> int:
        """How many rumours are known."""
        return len(self.rumours)

    def match_normalised(self, text: str) -> list[RumourHit]:
        """Rumours whose claim the normalised `text` carries, exactly or reworded."""
        if not text or not self.rumours:
            return []
        exact: set[str] = set()
        if self._claims is not None:
            for _end, ids in self._claims.iter(text):
                exact.update(ids)
        hits = [RumourHit(r, "text") for r in sorted(exact)]
        counts: Counter[str] = Counter()
        for g in shingles(text):
            for r in self._by_shingle.get(g, ()):
                counts[r] += 1
        for r, n in sorted(counts.items()):
            score = n / self._claim_sizes[r]
            if r not in exact and score >= self.policy.text_containment:
                hits.append(RumourHit(r, "text_reworded", "text", round(score, 3)))
        return hits

    def match_media(self, media: Sequence[MediaHashes]) -> list[RumourHit]:
        """Rumours whose claim media equal (SHA-256) or resemble (perceptual hash) a media item."""
        hits: list[RumourHit] = []
        for item in media:
            found = set(self._sha.get(item.sha256.lower(), ()))
            hits += [RumourHit(r, "sha256", item.media_id) for r in sorted(found)]
            if not item.phash:
                continue
            for claim_phash, r in self._phash:
                d = _hamming(claim_phash, item.phash.lower())
                if r not in found and d is not None and d <= self.policy.phash_max_distance:
                    found.add(r)
                    hits.append(RumourHit(r, "phash", item.media_id, 1.0 - d / (4 * len(claim_phash))))
        return hits


def _automaton(claims: Mapping[str, list[str]]) -> Any:
    if not claims:
        return None
    automaton = ahocorasick.Automaton()
    for claim, ids in claims.items():
        automaton.add_word(claim, tuple(ids))
    automaton.make_automaton()
    return automaton


def _hamming(a_hex: str, b_hex: str) -> int | None:
    if len(a_hex) != len(b_hex):
        return None
    try:
        return (int(a_hex, 16) ^ int(b_hex, 16)).bit_count()
    except ValueError:
        return None
