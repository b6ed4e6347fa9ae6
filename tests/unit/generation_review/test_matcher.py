"""The compiled library: keywords, RE2 regular expressions, SHA-256 and perceptual hashes (DS-10.2)."""

from __future__ import annotations

import random

import numpy as np

from services.generation_review.domain.matcher import MatchEntry, Matcher, MediaHashes, regex_error
from services.generation_review.domain.phash_index import PhashIndex, parse_phash

SHA = "ab" * 32


def test_each_kind_matches_and_reports_where() -> None:
    matcher = Matcher(
        4,
        [
            MatchEntry("kw", "keyword", "alpha", "c1", "block", why="criterion 1"),
            MatchEntry("re", "regex", r"code\d{3}", "c2", "review"),
            MatchEntry("sha", "sha256", SHA.upper(), "c3", "block"),
            MatchEntry("ph", "phash", "00000000000000ff", "c4", "block", max_distance=3),
        ],
    )
    assert [(h.entry_id, h.why) for h in matcher.match_text("ALPHA and code 123")] == [
        ("kw", "criterion 1"),
        ("re", ""),
    ]
    media = [
        MediaHashes("m1", SHA, "00000000000000fe"),  # 1 bit from the entry
        MediaHashes("m2", "cd" * 32, "000000000000000f"),  # 4 bits: beyond max_distance 3
    ]
    hits = matcher.match_media(media)
    assert [(h.entry_id, h.where, h.distance) for h in hits] == [("sha", "m1", None), ("ph", "m1", 1)]
    assert matcher.version == 4
    assert len(matcher) == 4


def test_an_empty_library_matches_nothing() -> None:
    matcher = Matcher(0, [])
    assert matcher.match_text("anything") == []
    assert matcher.match_media([MediaHashes("m", SHA, "00000000000000ff")]) == []


def test_regular_expressions_are_re2_so_no_backtracking_blow_up() -> None:
    assert regex_error("(a+)+b") is None
    assert (
        Matcher(1, [MatchEntry("re", "regex", "(a+)+b", "c", "block")]).match_text("a" * 50_000 + "c") == []
    )
    assert regex_error("(unclosed")
    assert regex_error("a(?=b)")  # look-ahead is not RE2: refused at proposal


def test_phash_index_agrees_with_a_linear_scan() -> None:
    rng = np.random.default_rng(7)
    bank = rng.integers(0, 2**63, size=20_000, dtype=np.int64).astype(np.uint64) * np.uint64(2)
    index = PhashIndex(bank)
    rand = random.Random(7)
    for trial in range(40):
        query = int(bank[trial * 97])
        for bit in rand.sample(range(64), rand.randint(0, 10)):
            query ^= 1 << bit
        for distance in (0, 3, 10):
            expected = np.nonzero(np.bitwise_count(bank ^ np.uint64(query)) <= distance)[0].tolist()
            assert sorted(p for p, _ in index.within(query, distance)) == expected


def test_phash_parsing_accepts_only_64_bit_hex() -> None:
    assert parse_phash("00000000000000ff") == 255
    assert parse_phash("ff") is None
    assert parse_phash("zz00000000000000") is None
    assert PhashIndex([]).within(0, 5) == []
