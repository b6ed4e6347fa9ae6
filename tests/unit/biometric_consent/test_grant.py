"""Accepting and rejecting grants (DS-9, DS-14.2, PI-14, PI-19, PI-29..31)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from services.biometric_consent.domain.consent import (
    AdultDeclaration,
    GrantRequest,
    IdentityFacts,
    Policy,
    decide_grant,
    epoch_ms,
    grant_reasons,
)
from services.biometric_consent.domain.reasons import REASONS, article_for
from tests.unit.biometric_consent.conftest import ADULTS, ARTIFACT, NOW, cause, evidence, grant

POLICY = Policy()


def test_a_complete_grant_with_verified_people_is_granted() -> None:
    decision = decide_grant(None, grant(), ADULTS, cause(), POLICY)

    assert decision.state is not None
    assert decision.state.status == "granted"
    assert decision.state.expires_at_ms == epoch_ms(NOW + timedelta(days=30))
    assert decision.state.grant.given_by == "subject"
    [emitted] = decision.emissions
    assert emitted.kind == "granted"
    assert emitted.reasons == ()
    assert emitted.actor == "subject"
    assert emitted.fields.subject_id == "alice"
    assert emitted.fields.biometric_types == ("face",)
    [entry] = decision.state.history
    assert entry.event == "granted"
    assert entry.details["identities"]["alice"] == {"known": True, "verified": True, "age_group": "adult"}


REJECTIONS = [
    ("subject_unverified", grant(subject_id="stranger"), ADULTS),
    ("subject_unverified", grant(), {**ADULTS, "alice": IdentityFacts("alice", False, "unknown")}),
    ("grantee_unverified", grant(grantee_user_id="stranger"), ADULTS),
    ("biometric_types_missing", grant(biometric_types=()), ADULTS),
    ("expiry_not_in_future", grant(expires_at=NOW), ADULTS),
    ("expiry_not_in_future", grant(expires_at=NOW - timedelta(seconds=1)), ADULTS),
    ("expiry_too_far", grant(expires_at=NOW + timedelta(days=365, seconds=1)), ADULTS),
    ("notice_version_missing", grant(evidence=evidence(notice_version=None)), ADULTS),
    ("notice_version_missing", grant(evidence=evidence(notice_version="  ")), ADULTS),
    ("evidence_artifact_missing", grant(evidence=evidence(artifact_sha256=None)), ADULTS),
    ("evidence_artifact_invalid", grant(evidence=evidence(artifact_sha256="xyz")), ADULTS),
    ("evidence_artifact_invalid", grant(evidence=evidence(artifact_sha256=ARTIFACT.upper())), ADULTS),
    (
        "evidence_captured_in_future",
        grant(evidence=evidence(captured_at=NOW + timedelta(minutes=3))),
        ADULTS,
    ),
    ("guardian_unverified", grant(guardian_user_id="stranger"), ADULTS),
]


@pytest.mark.parametrize(("code", "request_", "identities"), REJECTIONS)
def test_each_rule_rejects_with_its_own_reason(
    code: str, request_: GrantRequest, identities: dict[str, IdentityFacts]
) -> None:
    decision = decide_grant(None, request_, identities, cause(), POLICY)

    assert decision.state is not None
    assert decision.state.status == "rejected"
    [emitted] = decision.emissions
    assert emitted.kind == "rejected"
    assert emitted.reasons == (code,)
    assert emitted.actor == "system"
    assert decision.state.history[-1].reasons == (code,)


def test_every_rejection_reason_is_covered_by_a_test() -> None:
    grant_codes = {
        c
        for c in REASONS
        if c
        not in {
            "withdrawal_not_by_subject",
            "withdrawal_actor_not_permitted",
            "consent_withdrawn",
            "consent_expired",
            "consent_id_reused",
            "consent_withdrawn_before_grant",
            "guardian_missing",
            "guardian_not_adult",
            "guardian_missing_age_unknown",  # PI-31 tests below
            "adult_declaration_not_accepted",
            "adult_declaration_contradicts_verified_age",
        }
    }
    assert grant_codes == {code for code, _, _ in REJECTIONS}


def test_all_reasons_are_reported_together_in_a_stable_order() -> None:
    bad = grant(
        subject_id="x",
        grantee_user_id="y",
        biometric_types=(),
        expires_at=NOW - timedelta(days=1),
        evidence=evidence(notice_version=None, artifact_sha256=None),
    )
    assert grant_reasons(bad, ADULTS, NOW, POLICY) == [
        "subject_unverified",
        "grantee_unverified",
        "biometric_types_missing",
        "expiry_not_in_future",
        "notice_version_missing",
        "evidence_artifact_missing",
    ]


def test_the_longest_period_is_inclusive_and_configurable() -> None:
    assert grant_reasons(grant(expires_at=NOW + timedelta(days=365)), ADULTS, NOW, POLICY) == []
    short = Policy(max_duration=timedelta(days=7))
    assert grant_reasons(grant(expires_at=NOW + timedelta(days=8)), ADULTS, NOW, short) == ["expiry_too_far"]
    assert grant_reasons(grant(expires_at=NOW + timedelta(days=7)), ADULTS, NOW, short) == []


def test_evidence_captured_within_the_clock_skew_is_fine() -> None:
    ok = grant(evidence=evidence(captured_at=NOW + timedelta(seconds=119)))
    assert grant_reasons(ok, ADULTS, NOW, POLICY) == []


CHILD = IdentityFacts("alice", verified=True, age_group="under_14")


def test_a_subject_under_14_needs_a_guardian() -> None:
    identities = {**ADULTS, "alice": CHILD}
    decision = decide_grant(None, grant(), identities, cause(), POLICY)
    assert decision.emissions[0].reasons == ("guardian_missing",)
    assert article_for("guardian_missing") == "PI-31"


def test_a_subject_under_14_with_a_verified_adult_guardian_is_granted_by_the_guardian() -> None:
    identities = {**ADULTS, "alice": CHILD}
    decision = decide_grant(None, grant(guardian_user_id="guardian"), identities, cause(), POLICY)
    [emitted] = decision.emissions
    assert emitted.kind == "granted"
    assert emitted.actor == "guardian"
    assert decision.state is not None
    assert decision.state.grant.given_by == "guardian"


@pytest.mark.parametrize(
    ("guardian", "code"),
    [
        (None, "guardian_unverified"),  # unknown to the projection
        (IdentityFacts("guardian", verified=False, age_group="unknown"), "guardian_unverified"),
        (IdentityFacts("guardian", verified=True, age_group="14_to_17"), "guardian_not_adult"),
        (IdentityFacts("guardian", verified=True, age_group="unknown"), "guardian_not_adult"),
        (IdentityFacts("guardian", verified=True, age_group="under_14"), "guardian_not_adult"),
    ],
)
def test_the_guardian_must_be_a_verified_adult(guardian: IdentityFacts | None, code: str) -> None:
    identities = {**ADULTS, "alice": CHILD}
    identities.pop("guardian")
    if guardian:
        identities["guardian"] = guardian
    decision = decide_grant(None, grant(guardian_user_id="guardian"), identities, cause(), POLICY)
    assert decision.emissions[0].reasons == (code,)


def test_a_subject_of_14_to_17_consents_alone() -> None:
    identities = {**ADULTS, "alice": IdentityFacts("alice", verified=True, age_group="14_to_17")}
    assert decide_grant(None, grant(), identities, cause(), POLICY).emissions[0].kind == "granted"


# Issue 14, correction 1 (PI-31): the former test here asserted that a subject of unknown age needs
# no guardian; a mobile-only verification or a signed form proves no age, so the subject may be under 14.
MOBILE_ONLY = {**ADULTS, "alice": IdentityFacts("alice", verified=True, age_group="unknown")}


DECLARATION_FIELDS = {"method", "artifact_sha256", "declared_at"}


def declared(**changes: Any) -> GrantRequest:
    """Alice's grant with the platform's declaration that she is an adult, backed by evidence.

    Declaration fields in `changes` change the declaration, the others the grant.
    """
    base = AdultDeclaration("id_document_check", "cd" * 32, NOW - timedelta(days=2))
    declaration = replace(base, **{k: v for k, v in changes.items() if k in DECLARATION_FIELDS})
    return grant(
        adult_declaration=declaration, **{k: v for k, v in changes.items() if k not in DECLARATION_FIELDS}
    )


def test_pi31_a_subject_of_unknown_age_needs_a_guardian() -> None:
    decision = decide_grant(None, grant(), MOBILE_ONLY, cause(), POLICY)
    [emitted] = decision.emissions
    assert emitted.kind == "rejected"
    assert emitted.reasons == ("guardian_missing_age_unknown",)
    assert article_for("guardian_missing_age_unknown") == "PI-31"


def test_pi31_a_subject_of_unknown_age_consents_through_a_verified_adult_guardian() -> None:
    decision = decide_grant(None, grant(guardian_user_id="guardian"), MOBILE_ONLY, cause(), POLICY)
    [emitted] = decision.emissions
    assert emitted.kind == "granted"
    assert emitted.actor == "guardian"
    assert decision.state is not None
    assert decision.state.grant is not None
    assert decision.state.grant.given_by == "guardian"


def test_pi31_a_named_guardian_of_a_subject_of_unknown_age_is_checked() -> None:
    teen_guardian = {**MOBILE_ONLY, "guardian": IdentityFacts("guardian", True, "14_to_17")}
    assert grant_reasons(grant(guardian_user_id="guardian"), teen_guardian, NOW, POLICY) == [
        "guardian_not_adult"
    ]


def test_pi31_the_platform_declaring_the_subject_adult_with_evidence_lets_the_subject_consent() -> None:
    decision = decide_grant(None, declared(), MOBILE_ONLY, cause(), POLICY)
    [emitted] = decision.emissions
    assert emitted.kind == "granted"
    assert emitted.actor == "subject"
    assert decision.state is not None
    submission = decision.state.history[0].details["submission"]
    assert isinstance(submission, dict)
    assert submission["subject_adult_declaration"] == {
        "method": "id_document_check",
        "artifact_sha256": "cd" * 32,
        "declared_at": "2026-11-20T12:00:00.000Z",
    }
    assert declared().fingerprint() != grant().fingerprint()


@pytest.mark.parametrize(
    "declaration",
    [
        {"artifact_sha256": None},
        {"artifact_sha256": "not-a-hash"},
        {"method": "self_declaration"},  # not an accepted method by default
    ],
)
def test_pi28_a_declaration_without_accepted_evidence_does_not_replace_the_guardian(
    declaration: dict[str, Any],
) -> None:
    decision = decide_grant(None, declared(**declaration), MOBILE_ONLY, cause(), POLICY)
    assert decision.emissions[0].reasons == ("guardian_missing_age_unknown", "adult_declaration_not_accepted")
    assert article_for("adult_declaration_not_accepted") == "PI-28"


def test_pi31_the_accepted_declaration_methods_are_configurable() -> None:
    lenient = Policy(adult_declaration_methods=frozenset({"self_declaration"}))
    assert grant_reasons(declared(method="self_declaration"), MOBILE_ONLY, NOW, lenient) == []
    assert grant_reasons(declared(), MOBILE_ONLY, NOW, lenient) == [
        "guardian_missing_age_unknown",
        "adult_declaration_not_accepted",
    ]


def test_pi31_under_the_guardian_required_policy_no_declaration_is_enough() -> None:
    strict = Policy(unknown_age="guardian_required")
    assert grant_reasons(declared(), MOBILE_ONLY, NOW, strict) == ["guardian_missing_age_unknown"]
    assert grant_reasons(declared(guardian_user_id="guardian"), MOBILE_ONLY, NOW, strict) == []


def test_pi31_a_declaration_never_overrides_a_verified_minor_age() -> None:
    child = {**ADULTS, "alice": CHILD}
    assert grant_reasons(declared(), child, NOW, POLICY) == [
        "adult_declaration_contradicts_verified_age",
        "guardian_missing",
    ]
    teen = {**ADULTS, "alice": IdentityFacts("alice", verified=True, age_group="14_to_17")}
    assert grant_reasons(declared(), teen, NOW, POLICY) == ["adult_declaration_contradicts_verified_age"]
    assert article_for("adult_declaration_contradicts_verified_age") == "PI-31"


def test_a_verified_adult_needs_neither_guardian_nor_declaration() -> None:
    assert grant_reasons(grant(), ADULTS, NOW, POLICY) == []
    assert grant_reasons(declared(), ADULTS, NOW, POLICY) == []


def test_grants_without_a_declaration_keep_their_fingerprint() -> None:
    # Pinned from before declarations existed: stored grants must still match their resubmission.
    assert grant().fingerprint() == "b13fcd4c15191b11cdf94a6a83b79df8bdcd1eb2aaf26609033d7c68925d44ca"


def test_a_signed_form_with_an_artifact_hash_stands_in_for_the_subjects_verification() -> None:
    # The signed form identifies the subject but proves no age (PI-31): the platform declares adulthood.
    signed = declared(subject_id="offline-person", evidence=evidence(method="signed_form"))
    decision = decide_grant(None, signed, ADULTS, cause(), POLICY)
    assert decision.emissions[0].kind == "granted"
    assert decision.state is not None
    assert decision.state.history[0].details["identities"]["offline-person"]["known"] is False
    undeclared = grant(subject_id="offline-person", evidence=evidence(method="signed_form"))
    assert grant_reasons(undeclared, ADULTS, NOW, POLICY) == ["guardian_missing_age_unknown"]


def test_a_signed_form_without_a_valid_hash_does_not() -> None:
    signed = grant(
        subject_id="offline-person", evidence=evidence(method="signed_form", artifact_sha256="nope")
    )
    assert grant_reasons(signed, ADULTS, NOW, POLICY) == ["subject_unverified", "evidence_artifact_invalid"]


def test_a_signed_form_does_not_replace_the_grantees_verification() -> None:
    signed = grant(grantee_user_id="stranger", evidence=evidence(method="signed_form"))
    assert grant_reasons(signed, ADULTS, NOW, POLICY) == ["grantee_unverified"]


def test_a_rejected_grant_is_decided_afresh_when_submitted_again() -> None:
    first = decide_grant(None, grant(), {}, cause("e1"), POLICY)
    assert first.emissions[0].reasons == ("subject_unverified", "grantee_unverified")
    second = decide_grant(first.state, grant(), ADULTS, cause("e2", NOW + timedelta(minutes=1)), POLICY)
    assert second.emissions[0].kind == "granted"
    assert second.state is not None
    assert [e.event for e in second.state.history] == ["rejected", "granted"]


def test_the_same_grant_again_changes_nothing() -> None:
    granted = decide_grant(None, grant(), ADULTS, cause("e1"), POLICY)
    again = decide_grant(granted.state, grant(), ADULTS, cause("e2", NOW + timedelta(minutes=1)), POLICY)
    assert again.state is None
    assert again.emissions == ()


def test_reusing_a_consent_id_with_other_content_is_rejected_and_the_consent_stays() -> None:
    granted = decide_grant(None, grant(), ADULTS, cause("e1"), POLICY)
    reused = grant(biometric_types=("face", "voice"))
    decision = decide_grant(granted.state, reused, ADULTS, cause("e2", NOW + timedelta(minutes=1)), POLICY)

    [emitted] = decision.emissions
    assert emitted.kind == "rejected"
    assert emitted.reasons == ("consent_id_reused",)
    assert emitted.fields.biometric_types == ("face", "voice")  # what was submitted
    assert decision.state is not None
    assert decision.state.status == "granted"
    assert decision.state.grant.biometric_types == ("face",)
    assert [e.event for e in decision.state.history] == ["granted", "rejected"]


def test_equal_content_in_another_order_is_the_same_grant() -> None:
    a = grant(biometric_types=("face", "voice"), service_types=("face_swap", "voice_cloning"))
    b = replace(a, biometric_types=("voice", "face"), service_types=("voice_cloning", "face_swap"))
    assert a.fingerprint() == b.fingerprint()
    assert a.fingerprint() != grant().fingerprint()


def test_a_grant_after_its_expiry_passed_is_expired_first() -> None:
    granted = decide_grant(None, grant(), ADULTS, cause("e1"), POLICY)
    later = cause("e2", NOW + timedelta(days=31))
    decision = decide_grant(granted.state, grant(purpose="changed"), ADULTS, later, POLICY)
    assert [e.kind for e in decision.emissions] == ["expired", "rejected"]
    assert decision.state is not None
    assert decision.state.status == "expired"


ARTICLES = {"DS-9", "DS-14.2", "PI-14", "PI-15", "PI-19", "PI-28", "PI-29", "PI-30", "PI-31"}


def test_every_reason_code_is_snake_case_and_cites_a_catalogued_article() -> None:
    for code in REASONS:
        assert code.replace("_", "").isalnum(), code
        assert code == code.lower(), code
        assert article_for(code) in ARTICLES, code
