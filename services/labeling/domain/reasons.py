"""Reason codes of the labeling service, each tied to the article that requires it."""

from __future__ import annotations

from typing import Final

# code -> (article id from regulations.md, explanation). Kept in the ledger and in dead letters.
REASONS: Final[dict[str, tuple[str, str]]] = {
    "implicit_label_issued": ("DS-16", "every output carries the GB 45438 metadata label (LB-5.1)"),
    "explicit_label_ds17_service": (
        "DS-17.1",
        "the service type is listed in DS Art. 17(1): conspicuous label",
    ),
    "explicit_label_review_required": ("DS-17.1", "the review decided the output may confuse or mislead"),
    "explicit_label_function_offered": (
        "DS-17.2",
        "not mandatory: the label function is offered to the user",
    ),
    "content_id_missing": ("DS-16", "output.approved without content_id: a label needs a content number"),
    "output_missing": ("DS-16", "output.approved without output hashes: the label cannot be bound"),
    "unlabeled_copy_logged": ("LB-9", "a copy without the explicit label was provided; recipients logged"),
}


def article_for(code: str) -> str:
    """The article id a reason code cites."""
    return REASONS[code][0]


def reason(code: str) -> dict[str, str]:
    """The stored form `{code, article}`."""
    return {"code": code, "article": article_for(code)}
