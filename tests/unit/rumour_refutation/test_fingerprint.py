# ruff: noqa: RUF001 - Chinese and full-width test text keeps its own punctuation
"""Normalisation, shingles, windows and stored sketches of the rumour matcher (DS-11)."""

from __future__ import annotations

import numpy as np
import pytest

from services.rumour_refutation.domain import fingerprint as fp


def test_normalisation_removes_width_case_punctuation_and_whitespace() -> None:
    assert fp.normalise("ＡＢＣ１２３ Hello,\tWORLD！") == "abc123helloworld"
    assert fp.normalise("某市今晚将发生８级地震，请撤离。") == "某市今晚将发生8级地震请撤离"
    assert fp.normalise("Straße ÉCOLE") == "strasseécole"


def test_chinese_is_shingled_in_bigrams_and_alphabetic_text_in_4_grams() -> None:
    assert len(fp.shingle_hashes("地震来了")) == 3  # 地震 震来 来了
    assert len(fp.shingle_hashes("bleach")) == 3  # blea leac each
    assert len(fp.shingle_hashes("ab")) == 1  # too short for a 4-gram: the piece itself
    assert len(fp.shingle_hashes("")) == 0
    assert len(fp.shingle_hashes("abab" * 10)) == 2  # distinct shingles only: abab, baba


def test_an_n_gram_hashes_the_same_wherever_it_occurs() -> None:
    assert set(fp.shingle_hashes("bleach")) < set(fp.shingle_hashes("xbleachy"))
    assert set(fp.shingle_hashes("地震来了")) < set(fp.shingle_hashes("今晚地震来了吗"))
    assert not set(fp.shingle_hashes("bleach")) & set(fp.shingle_hashes("地震来了"))


def test_output_windows_are_sketched_like_the_same_text_on_its_own() -> None:
    text = "".join(chr(0x4E00 + (i * 7) % 500) for i in range(300))
    assert [s.values.tolist() for s in fp.output_sketches(text)] == [
        fp.sketch(w).values.tolist() for w in fp.windows(text)
    ]


def test_windows_overlap_by_half_and_cover_the_end() -> None:
    text = "".join(chr(0x4E00 + i) for i in range(400))
    windows = fp.windows(text)
    assert all(len(w) == fp.WINDOW for w in windows)
    assert windows[0] == text[: fp.WINDOW]
    assert windows[-1] == text[-fp.WINDOW :]
    # any stretch of STRIDE characters lies whole inside one window
    for start in range(0, len(text) - fp.STRIDE + 1, 7):
        assert any(text[start : start + fp.STRIDE] in w for w in windows)
    assert fp.windows("short") == ["short"]
    assert fp.windows("") == []


def test_claim_pieces_are_no_longer_than_the_stride_and_keep_every_character() -> None:
    claim = "x" * (fp.STRIDE * 2 + 5)
    pieces = fp.claim_pieces(claim)
    assert len(pieces) == 3
    assert all(len(p) <= fp.STRIDE for p in pieces)
    assert "".join(pieces) == claim


def test_a_claim_with_too_little_text_has_no_sketches() -> None:
    assert fp.claim_sketches("谣言!") == []
    assert len(fp.claim_sketches("某市今晚将发生强烈地震")) == 1


def test_sketches_are_deterministic_and_survive_the_store_round_trip() -> None:
    a = fp.output_sketches("Drinking bleach cures the virus, doctors confirm. " * 8)
    b = fp.output_sketches("Drinking bleach cures the virus, doctors confirm. " * 8)
    assert [s.values.tolist() for s in a] == [s.values.tolist() for s in b]
    blob, sizes = fp.encode_sketches(a)
    back = fp.decode_sketches(blob, sizes)
    assert [(s.values.tolist(), s.size) for s in back] == [(s.values.tolist(), s.size) for s in a]
    assert all(s.values.dtype == np.uint8 and s.values.shape == (fp.NUM_PERM,) for s in back)
    with pytest.raises(ValueError, match="sketches"):
        fp.decode_sketches(blob, [*sizes, 3])


def test_containment_is_near_one_for_a_claim_inside_a_longer_window() -> None:
    claim = fp.sketch(fp.normalise("Drinking bleach every morning cures the virus within three days"))
    window = fp.sketch(
        fp.normalise("Weather report. Drinking bleach every morning cures the virus within three days!")
    )
    agreeing = np.array([np.count_nonzero(claim.values == window.values)])
    share = fp.containment(agreeing, claim.size, np.array([window.size], dtype=np.int32))[0]
    assert share > 0.8


def test_hamming_distance_of_perceptual_hashes() -> None:
    assert fp.hamming("ffff0000ffff0000", "ffff0000ffff0003") == 2
    assert fp.hamming("ff", "ffff") is None
    assert fp.hamming("zz", "00") is None
