"""What is reportable, under which articles, and the names of the actions reports list.

The ids come from regulations.md. Reason codes and action names are part of the public report
contract: keep them stable.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

# Review reason codes that make a blocked input or output reportable, with the article requiring it.
REPORTABLE_REASONS: Final[dict[str, str]] = {
    "prohibited_content": "DS-10.2",  # matched the feature library of illegal information
    "known_rumour": "DS-11",  # matched a recorded rumour
}

# Articles each category of report is made under, before the articles of its reasons are added.
CATEGORY_ARTICLES: Final[dict[str, tuple[str, ...]]] = {
    # DS-10.3: keep records and report promptly; GA-14.1: stop generation/transmission and report.
    "illegal_content": ("DS-10.3", "GA-14.1"),
    # DS-10.3 and GA-14.2: warn / restrict / suspend / close, keep records, report.
    "user_sanction": ("DS-10.3", "GA-14.2"),
    # DS-11: refute, keep records, report to the cyberspace administration.
    "rumour": ("DS-11",),
    # GA-14.1: remove the content and report; DS-10.3: handling measures on illegal information.
    "takedown": ("DS-10.3", "GA-14.1"),
    # CIR-4: the CAC Measures for Reporting Cybersecurity Incidents, Art. 4 (grades, 1 h / 4 h);
    # not yet in regulations.md (proposed id).
    "incident": ("CIR-4",),
    # DS-12 / GA-15: handle complaints and reports in the published time (+ PI-50 for rights requests).
    "complaint_overdue": ("DS-12", "GA-15"),
    "complaint_statistics": ("DS-12", "GA-15"),
}

# The enforcement ladder of DS-10.3 / GA-14.2, as the action each level took.
SANCTION_ACTIONS: Final[dict[str, str]] = {
    "warning": "user_warned",
    "restricted": "functions_restricted",
    "suspended": "service_suspended",
    "closed": "account_closed",
}

BLOCK_ACTIONS: Final[dict[str, str]] = {"input": "generation_blocked", "output": "output_blocked"}

_CODE = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")
_ARTICLE = re.compile(r"[A-Z]{2,4}-[A-Za-z0-9.]{1,12}")


def is_reportable(codes: list[str]) -> bool:
    """True when any reason code is one the regulator must hear about (DS-10.3, DS-11)."""
    return any(code in REPORTABLE_REASONS for code in codes)


def safe_code(value: str) -> str:
    """A code as is when it has the shape of one; otherwise its SHA-256 (free text never goes out)."""
    if _CODE.fullmatch(value):
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def safe_article(value: str) -> str | None:
    """An article id when it has the shape of one (e.g. `DS-10.2`, `GB-I2`), else None."""
    return value if _ARTICLE.fullmatch(value) else None
