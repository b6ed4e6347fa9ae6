"""Reason codes of the consent service, each tied to the article that requires the check.

Codes are part of the public contract (`reasons` and `reason_details` of `dsgov.consent.*`).
`consent_withdrawn` and `consent_expired` keep the article CONTRACT.md gives them (DS-14.2).
"""

from __future__ import annotations

from typing import Final

# code -> (article id from regulations.md, explanation without personal data)
REASONS: Final[dict[str, tuple[str, str]]] = {
    # grant rejections
    "subject_unverified": (
        "DS-14.2",
        "the person whose face or voice is edited is not real-name verified, "
        "and the evidence is not a signed form with an artifact hash",
    ),
    "grantee_unverified": ("DS-9", "the user allowed to edit is not real-name verified"),
    "guardian_missing": ("PI-31", "the subject is under 14: a parent or guardian must consent"),
    "guardian_missing_age_unknown": (
        "PI-31",
        "the subject's age is unknown (not verified with an age) and the subject is not declared adult "
        "with accepted evidence: the subject may be under 14, so a parent or guardian must consent",
    ),
    "adult_declaration_not_accepted": (
        "PI-28",
        "the platform's adult declaration has no artifact_sha256 (64 lowercase hex characters) or rests "
        "on a method the provider does not accept; biometrics of a possible minor stay protected",
    ),
    "adult_declaration_contradicts_verified_age": (
        "PI-31",
        "the platform declares the subject adult, but the subject is verified as a minor; "
        "the verified age wins",
    ),
    "guardian_unverified": ("PI-31", "the named guardian is not real-name verified"),
    "guardian_not_adult": ("PI-31", "the named guardian is not verified as an adult"),
    "biometric_types_missing": ("DS-14.2", "the consent names no biometric type (face, voice)"),
    "expiry_not_in_future": ("PI-14", "expires_at is not in the future"),
    "expiry_too_far": ("PI-19", "expires_at is beyond the longest consent period the provider allows"),
    "notice_version_missing": ("PI-30", "the evidence does not say which notice the subject was shown"),
    "evidence_artifact_missing": ("PI-29", "the evidence has no artifact hash (artifact_sha256)"),
    "evidence_artifact_invalid": ("PI-29", "artifact_sha256 is not 64 lowercase hexadecimal characters"),
    "evidence_captured_in_future": ("PI-14", "the evidence claims to be captured in the future"),
    "consent_id_reused": (
        "PI-14",
        "this consent_id already names a consent with different content; a changed consent needs a new id",
    ),
    "consent_withdrawn_before_grant": (
        "PI-15",
        "a withdrawal of this consent_id arrived before the grant; the grant cannot take effect",
    ),
    # refused withdrawals (recorded in the history, nothing published)
    "withdrawal_not_by_subject": ("PI-15", "only the subject may withdraw from the platform"),
    "withdrawal_actor_not_permitted": ("PI-15", "a console viewer may not withdraw consents"),
    # end of a consent
    "consent_withdrawn": ("DS-14.2", "the consent was withdrawn; no processing from now on"),
    "consent_expired": ("DS-14.2", "the consent reached its expires_at"),
}


def article_for(code: str) -> str:
    """The article id a reason code cites."""
    return REASONS[code][0]


def detail_for(code: str) -> str:
    """A human-readable explanation of a reason code."""
    return REASONS[code][1]
