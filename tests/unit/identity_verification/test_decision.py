"""The pure decision rules of identity verification (DS-9, NI-1..4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.identity_verification.domain.decision import Policy, Submission, check_locally, decide
from services.identity_verification.domain.reasons import REASONS, article_for

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ID = "11010519491231002X"


def test_a_valid_id_card_needs_the_authority_and_is_verified_when_it_confirms() -> None:
    check = check_locally(Submission("id_card", full_name="张三", id_card_number=ID.lower()), NOW)
    assert check.ok
    assert check.authority_check == "name_id"
    assert check.identifier == ID
    assert check.age_group == "adult"
    decision = decide(check, authority_confirmed=True)
    assert decision.verified
    assert decision.masked == "110***********002X"


def test_an_authority_mismatch_rejects_and_hides_the_age_group() -> None:
    check = check_locally(Submission("id_card", full_name="张三", id_card_number=ID), NOW)
    decision = decide(check, authority_confirmed=False)
    assert not decision.verified
    assert decision.reasons == ("id_card_name_mismatch",)
    assert decision.age_group == "unknown"


def test_deciding_without_the_needed_authority_answer_is_a_programming_error() -> None:
    check = check_locally(Submission("national_network_id", network_id_token="tok"), NOW)
    with pytest.raises(ValueError, match="authoritative"):
        decide(check, authority_confirmed=None)


@pytest.mark.parametrize(
    ("otp", "reason"),
    [
        (None, "mobile_otp_missing"),
        (NOW - timedelta(minutes=11), "mobile_otp_stale"),
        (NOW + timedelta(minutes=3), "mobile_otp_in_future"),
    ],
)
def test_the_sms_code_must_be_present_and_recent(otp: datetime | None, reason: str) -> None:
    check = check_locally(Submission("mobile", mobile="13800138000", mobile_otp_verified_at=otp), NOW)
    assert check.reasons == (reason,)


def test_a_recent_sms_code_within_the_allowed_skew_passes() -> None:
    for otp in (NOW - timedelta(minutes=9), NOW + timedelta(minutes=1)):
        check = check_locally(Submission("mobile", mobile="+8613800138000", mobile_otp_verified_at=otp), NOW)
        assert decide(check, None).verified
        assert check.masked == "138****8000"


def test_the_otp_window_is_configurable() -> None:
    sub = Submission("mobile", mobile="13800138000", mobile_otp_verified_at=NOW - timedelta(minutes=3))
    assert check_locally(sub, NOW, Policy(otp_max_age=timedelta(minutes=2))).reasons == ("mobile_otp_stale",)


def test_birthdays_are_counted_on_the_china_calendar() -> None:
    # 2012-11-22 birthday: at 2026-11-21T17:00Z it is already the 22nd in Beijing, so 14 years old.
    number = "110105201211220011"
    from shared.standards.identifiers import id_card_check_character

    number = number[:17] + id_card_check_character(number[:17])
    at = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    assert (
        check_locally(Submission("id_card", full_name="小明", id_card_number=number), at).age_group
        == "14_to_17"
    )
    early = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
    assert (
        check_locally(Submission("id_card", full_name="小明", id_card_number=number), early).age_group
        == "under_14"
    )


def test_blank_strings_count_as_missing() -> None:
    check = check_locally(Submission("uscc", organization_name="  ", uscc=" "), NOW)
    assert check.reasons == ("organization_name_missing", "uscc_missing")


def test_a_valid_uscc_is_verified_without_an_authority() -> None:
    check = check_locally(Submission("uscc", organization_name="Acme", uscc="91440300708461136t"), NOW)
    assert check.authority_check is None
    assert decide(check, None).verified


def test_the_network_identity_token_is_opaque_but_must_be_printable() -> None:
    assert check_locally(Submission("national_network_id", network_id_token="a b"), NOW).reasons == (
        "network_id_token_malformed",
    )
    assert check_locally(Submission("national_network_id", network_id_token="x" * 4097), NOW).reasons == (
        "network_id_token_malformed",
    )
    assert check_locally(Submission("national_network_id", network_id_token="opaque.TOKEN~1"), NOW).ok


def test_every_reason_code_cites_a_catalogued_article() -> None:
    for code in REASONS:
        assert article_for(code) in {"DS-9", "CS-2", "NI-1", "NI-3", "NI-4"}, code
