r"""Text normalisation before matching, so that trivial evasions do not pass (DS-10.2).

One function, applied alike to library keywords, to claims of known rumours and to the text
under review:

1. Unicode NFKC: compatibility forms fold to their plain letters (full-width letters
   U+FF41..U+FF5A, circled `ⓓ`, ligatures `ﬁ`, superscripts);
2. traditional → simplified Chinese with OpenCC (`t2s`), so `違禁` matches `违禁`;
3. case folding (`DEMO`, `Demo` → `demo`; also ß → ss);
4. only letters and digits are kept (Unicode categories L and N): zero-width characters,
   spaces, punctuation, symbols and combining marks inserted between letters disappear, so
   `d.e.m.o`, `d e m o`, `d<U+200B>emo` and `違-禁` all read as one word.

Step 4 drops word boundaries, which is what Chinese text needs (it has none) but means that a
short Latin keyword can match across words ("ass" in "class"). Keep Latin keywords specific, or
use a `regex` entry. Not handled: look-alike letters from other scripts (Cyrillic U+0430 for `a`), pinyin,
and characters split into their components.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from typing import Final

import opencc

# Python's \w is exactly "alphanumeric" (categories L* and N*) plus the underscore.
_NOT_LETTER_OR_DIGIT: Final = re.compile(r"[\W_]+")


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def normalise(text: str) -> str:
    """The matching form of `text`: NFKC, simplified Chinese, case-folded, letters and digits only."""
    if not text:
        return ""
    folded = _t2s().convert(unicodedata.normalize("NFKC", text)).casefold()
    return _NOT_LETTER_OR_DIGIT.sub("", folded)


def text_sha256(normalised: str) -> str:
    """SHA-256 of normalised text: what a decision record names as the text it checked."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()
