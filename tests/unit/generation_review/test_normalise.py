"""Evasions the normaliser must undo before matching (DS-10.2)."""

from __future__ import annotations

import pytest

from services.generation_review.domain.matcher import MatchEntry, Matcher
from services.generation_review.domain.normalise import normalise, text_sha256

KEYWORD = MatchEntry("k", "keyword", "demo-banned-term", "demo", "block")
CHINESE = MatchEntry("z", "keyword", "演示违禁词", "demo", "block")


@pytest.mark.parametrize(
    "evasion",
    [
        "demo-banned-term",
        "DEMO-BANNED-TERM",  # case
        "DeMo BaNnEd TeRm",  # case and spaces
        "\uff44\uff45\uff4d\uff4f\uff42\uff41\uff4e\uff4e\uff45\uff44\uff54\uff45\uff52\uff4d",  # full-width
        "d\u200be\u200bm\u200bo\u200cbanned\u200dterm\ufeff",  # zero-width characters
        "d.e.m.o/b_a_n_n_e_d|t-e-r-m",  # separators between letters
        "d e m o b a n n e d t e r m",  # spaces between letters
        "\u24d3\u24d4\u24dc\u24de banned term",  # circled letters
        "d\u0336e\u0336m\u0336o\u0336 banned term",  # combining strike-through marks
        "prefix...DEMO\u3000BANNED\u3000TERM...suffix",  # ideographic spaces, inside other text
    ],
)
def test_latin_evasions_still_match(evasion: str) -> None:
    assert [h.entry_id for h in Matcher(1, [KEYWORD]).match_text(evasion)] == ["k"]


@pytest.mark.parametrize(
    "evasion",
    [
        "演示违禁词",
        "演示違禁詞",
        "演 示 违 禁 词",
        "演\u200b示\u200b違\u200b禁\u200b詞",
        "这是「演示·违禁·词」",
    ],
)
def test_chinese_evasions_match_including_traditional_characters(evasion: str) -> None:
    assert [h.entry_id for h in Matcher(1, [CHINESE]).match_text(evasion)] == ["z"]


def test_innocent_text_does_not_match() -> None:
    assert Matcher(1, [KEYWORD, CHINESE]).match_text("demo banned, but not that term; 演示违规") == []


def test_normal_form_and_its_hash() -> None:
    assert normalise("\uff28\uff45\uff4c\uff4c\uff4f, 世界! \uff3f1\uff123") == "hello世界123"
    assert normalise("") == ""
    assert text_sha256(normalise("Hello")) == text_sha256(normalise("h-e-l-l-o"))
    assert len(text_sha256("x")) == 64
