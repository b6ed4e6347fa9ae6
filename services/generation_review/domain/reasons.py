"""Reason codes of the review service, each tied to the article that requires the check.

Codes are part of the public contract (`reasons` of `dsgov.generation.*` and `dsgov.output.*`).
"""

from __future__ import annotations

from typing import Final

from shared.contracts.base import Reason

# code -> (article id from regulations.md, explanation without personal data)
REASONS: Final[dict[str, tuple[str, str]]] = {
    "identity_unverified": ("DS-9", "the user is not real-name verified; resubmit after identity.verified"),
    "user_sanctioned": ("DS-10.3", "the user is sanctioned for this function"),
    "biometric_subject_undeclared": (
        "DS-14.2",
        "a face or voice editing service, or input media depicting a person, needs the ids of the people "
        "whose face or voice is used",
    ),
    "minor_restricted": ("GA-10", "this service type is not offered to minors"),
    "consent_missing": ("DS-14.2", "no consent of this subject granted to this user"),
    "consent_withdrawn": ("DS-14.2", "the subject withdrew the consent"),
    "consent_expired": ("DS-14.2", "the subject's consent expired"),
    "consent_scope": (
        "DS-14.2",
        "the subject's consent does not cover the biometric type or the service type needed",
    ),
    "prohibited_content": (
        "DS-10.2",
        "the content matches the feature library of illegal or negative information",
    ),
    "known_rumour": ("DS-11", "the content carries a claim determined to be a rumour"),
    "no_approved_request": ("DS-10.1", "the output belongs to no approved generation request"),
    # Never fail open: held for a person, not a rejection (DS-10.2 library, GA-14 review mechanisms).
    "library_empty": (
        "DS-10.2",
        "the provider has no approved feature library, so nothing could match (GA-14.1): held for a person",
    ),
}


def article_for(code: str) -> str:
    """The article id a reason code cites."""
    return REASONS[code][0]


def reason(code: str, detail: str | None = None) -> Reason:
    """The contract form of a code, with its article; `detail` replaces the standard explanation."""
    article, standard = REASONS[code]
    return Reason(code=code, article=article, detail=detail or standard)
