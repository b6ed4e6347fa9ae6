"""Reason codes carried in `dsgov.content.takedown-required`, each tied to the article behind it."""

from __future__ import annotations

from typing import Final

# code -> (article id from regulations.md, explanation). Codes are part of the public contract.
REASONS: Final[dict[str, tuple[str, str]]] = {
    "known_rumour": (
        "DS-11",
        "the output carries a claim the regulator (or a fact-check) determined to be false information",
    ),
    "takedown_ordered": (
        "DS-21",
        "the regulator ordered this content taken down; its recipients are told why (DS-11)",
    ),
}

# Why a case stopped sending (recorded on the case and the contents; not a takedown reason).
CLOSE_REASONS: Final[dict[str, tuple[str, str]]] = {
    "case_closed": ("DS-11", "the case was closed: no new refutation notice or takedown is sent for it"),
}


def article_for(code: str) -> str:
    """The article id a reason code cites."""
    return REASONS[code][0]


def detail_for(code: str) -> str:
    """A human-readable explanation of a reason code."""
    return REASONS[code][1]
