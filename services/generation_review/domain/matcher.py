"""Matching text and media against the active entries of one feature-library version (DS-10.2).

Built once per library version, then shared by every decision until the next version:

- keywords: one Aho-Corasick automaton (pyahocorasick) over the normalised keywords, so a text
  is scanned once whatever the number of keywords;
- regular expressions: one RE2 set (google-re2), also one pass, in linear time whatever the
  pattern (no catastrophic backtracking from an entry someone typed in);
- media SHA-256: a dictionary;
- perceptual hashes: multi-index hashing (`phash_index`), each entry with its own threshold.

Text is matched in its normalised form (`normalise`); keywords are stored normalised too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import ahocorasick  # type: ignore[import-not-found]
import re2  # type: ignore[import-untyped]

from services.generation_review.domain.normalise import normalise
from services.generation_review.domain.phash_index import PhashIndex, parse_phash

KINDS: Final = ("keyword", "regex", "sha256", "phash")


@dataclass(frozen=True)
class MatchEntry:
    """An active library entry as the matcher needs it."""

    entry_id: str
    kind: str
    pattern: str
    category: str
    action: str  # block · review
    max_distance: int | None = None
    why: str = ""


@dataclass(frozen=True)
class Hit:
    """One entry that matched: where (`text` or a media id) and, for perceptual hashes, how close."""

    entry_id: str
    kind: str
    category: str
    action: str
    where: str = "text"
    distance: int | None = None
    why: str = ""


@dataclass(frozen=True)
class MediaHashes:
    """A media item by its hashes."""

    media_id: str
    sha256: str
    phash: str | None = None


def regex_options() -> Any:
    """RE2 options: UTF-8 text, at most 8 MiB of automaton memory per pattern set, errors not logged."""
    options = re2.Options()
    options.max_mem = 8 << 20
    options.log_errors = False  # a refused pattern is reported to the proposer, not to stderr
    return options


def regex_error(pattern: str) -> str | None:
    """Why `pattern` is not an acceptable RE2 expression, or None when it is."""
    try:
        re2.compile(pattern, regex_options())
    except re2.error as exc:
        detail = exc.args[0] if exc.args else b""
        text = detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
        return text or "invalid regular expression"
    return None


class Matcher:
    """The compiled form of one library version."""

    def __init__(self, version: int, entries: Iterable[MatchEntry]) -> None:
        """Compile `entries` (active ones only; the caller filters)."""
        self.version = version
        self.entries: tuple[MatchEntry, ...] = tuple(entries)
        self._keywords = _automaton(self.entries)
        self._regex_ids, self._regexes = _regex_set(self.entries)
        self._sha: dict[str, list[int]] = defaultdict(list)
        phash_ids: list[int] = []
        phash_values: list[int] = []
        for i, e in enumerate(self.entries):
            if e.kind == "sha256":
                self._sha[e.pattern.lower()].append(i)
            elif e.kind == "phash" and (value := parse_phash(e.pattern)) is not None:
                phash_ids.append(i)
                phash_values.append(value)
        self._phash_ids = phash_ids
        self._phash = PhashIndex(phash_values)
        self._phash_reach = max((self.entries[i].max_distance or 0 for i in phash_ids), default=0)

    def __len__(self) -> int:
        """How many active entries this version has."""
        return len(self.entries)

    def _hit(self, i: int, where: str = "text", distance: int | None = None) -> Hit:
        e = self.entries[i]
        return Hit(e.entry_id, e.kind, e.category, e.action, where, distance, e.why)

    def match_normalised(self, text: str) -> list[Hit]:
        """Keyword and regex hits in already-normalised text, each entry once, in entry order."""
        if not text:
            return []
        found: set[int] = set()
        if self._keywords is not None:
            for _end, ids in self._keywords.iter(text):
                found.update(ids)
        if self._regexes is not None:
            found.update(self._regex_ids[j] for j in self._regexes.Match(text) or ())  # None: no match
        return [self._hit(i) for i in sorted(found)]

    def match_text(self, text: str) -> list[Hit]:
        """Hits in raw text (normalised first)."""
        return self.match_normalised(normalise(text))

    def match_media(self, media: Sequence[MediaHashes]) -> list[Hit]:
        """SHA-256 and perceptual-hash hits for each media item."""
        hits: list[Hit] = []
        for item in media:
            seen: set[int] = set()
            for i in self._sha.get(item.sha256.lower(), []):
                seen.add(i)
                hits.append(self._hit(i, item.media_id))
            value = parse_phash(item.phash) if item.phash else None
            if value is None or not self._phash_ids:
                continue
            for pos, distance in self._phash.within(value, self._phash_reach):
                i = self._phash_ids[pos]
                if i not in seen and distance <= (self.entries[i].max_distance or 0):
                    seen.add(i)
                    hits.append(self._hit(i, item.media_id, distance))
        return hits


def _automaton(entries: Sequence[MatchEntry]) -> Any:
    words: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(entries):
        if e.kind == "keyword" and (word := normalise(e.pattern)):
            words[word].append(i)
    if not words:
        return None
    automaton = ahocorasick.Automaton()
    for word, ids in words.items():
        automaton.add_word(word, tuple(ids))
    automaton.make_automaton()
    return automaton


def _regex_set(entries: Sequence[MatchEntry]) -> tuple[list[int], Any]:
    ids: list[int] = []
    regex_set = re2.Set.SearchSet(regex_options())
    for i, e in enumerate(entries):
        if e.kind == "regex" and regex_error(e.pattern) is None:
            regex_set.Add(e.pattern)
            ids.append(i)
    if not ids:
        return [], None
    regex_set.Compile()
    return ids, regex_set
