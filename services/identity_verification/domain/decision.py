"""Deciding an identity submission (DS-9, CS-2, NI-1..4).

Two steps, both pure: `check_locally` validates what can be validated without anyone else
(formats, check characters, dates, OTP recency) and says which authoritative check, if any,
is still needed; `decide` combines that with the authority's verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from shared.standards.identifiers import (
    AgeGroup,
    age_group,
    mask_id_card,
    mask_mobile,
    mask_uscc,
    normalize_mobile,
    validate_id_card,
    validate_uscc,
)

Method = Literal["mobile", "id_card", "uscc", "national_network_id"]
AuthorityCheck = Literal["name_id", "network_token"]

# Birthdays are counted on the calendar of mainland China (UTC+8, no daylight saving).
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")  # printable ASCII, no spaces: opaque, never parsed (NI-1)


@dataclass(frozen=True)
class Submission:
    """The identity fields of a submission, as plain values."""

    method: Method
    mobile: str | None = None
    mobile_otp_verified_at: datetime | None = None
    full_name: str | None = None
    id_card_number: str | None = None
    organization_name: str | None = None
    uscc: str | None = None
    network_id_token: str | None = None


@dataclass(frozen=True)
class Policy:
    """Tunable limits."""

    otp_max_age: timedelta = timedelta(minutes=10)
    clock_skew: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class LocalCheck:
    """What local validation found."""

    reasons: tuple[str, ...]
    age_group: AgeGroup = "unknown"
    identifier: str | None = None  # normalised identifier, to be HMAC'd; never stored as is
    masked: str | None = None
    authority_check: AuthorityCheck | None = None
    birth_date: date | None = None  # from an ID card; only its age boundaries are kept (PI-31)

    @property
    def ok(self) -> bool:
        """True when nothing local stands in the way."""
        return not self.reasons


@dataclass(frozen=True)
class Decision:
    """The verdict on one submission."""

    verified: bool
    reasons: tuple[str, ...] = field(default_factory=tuple)
    age_group: AgeGroup = "unknown"
    masked: str | None = None


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _check_mobile(sub: Submission, now: datetime, policy: Policy) -> LocalCheck:
    if _blank(sub.mobile):
        return LocalCheck(("mobile_missing",))
    national = normalize_mobile(sub.mobile or "")
    reasons: list[str] = [] if national else ["mobile_invalid"]
    otp = sub.mobile_otp_verified_at
    if otp is None:
        reasons.append("mobile_otp_missing")
    elif otp > now + policy.clock_skew:
        reasons.append("mobile_otp_in_future")
    elif now - otp > policy.otp_max_age:
        reasons.append("mobile_otp_stale")
    return LocalCheck(tuple(reasons), identifier=national, masked=mask_mobile(national) if national else None)


_ID_ERRORS = {
    "format": "id_card_format_invalid",
    "checksum": "id_card_checksum_invalid",
    "birth_date_invalid": "id_card_birth_date_invalid",
    "birth_date_in_future": "id_card_birth_date_in_future",
}


def _check_id_card(sub: Submission, today: date) -> LocalCheck:
    reasons = ["full_name_missing"] if _blank(sub.full_name) else []
    if _blank(sub.id_card_number):
        return LocalCheck((*reasons, "id_card_number_missing"))
    result = validate_id_card(sub.id_card_number or "", today)
    if result.error:
        return LocalCheck((*reasons, _ID_ERRORS[result.error]))
    return LocalCheck(
        tuple(reasons),
        age_group=age_group(result.birth_date, today),
        identifier=result.normalized,
        masked=mask_id_card(result.normalized),
        authority_check=None if reasons else "name_id",
        birth_date=result.birth_date,
    )


def _check_uscc(sub: Submission) -> LocalCheck:
    reasons = ["organization_name_missing"] if _blank(sub.organization_name) else []
    if _blank(sub.uscc):
        return LocalCheck((*reasons, "uscc_missing"))
    result = validate_uscc(sub.uscc or "")
    if result.error:
        reasons.append("uscc_format_invalid" if result.error == "format" else "uscc_checksum_invalid")
        return LocalCheck(tuple(reasons))
    return LocalCheck(tuple(reasons), identifier=result.normalized, masked=mask_uscc(result.normalized))


def _check_network_id(sub: Submission) -> LocalCheck:
    # NI-3: this path never asks for, nor uses, plaintext identity information.
    token = sub.network_id_token
    if _blank(token):
        return LocalCheck(("network_id_token_missing",))
    if not _TOKEN.fullmatch(token or ""):
        return LocalCheck(("network_id_token_malformed",))
    return LocalCheck((), identifier=token, authority_check="network_token")


def check_locally(sub: Submission, now: datetime, policy: Policy = Policy()) -> LocalCheck:
    """Validate everything that needs no outside party."""
    if sub.method == "mobile":
        return _check_mobile(sub, now, policy)
    if sub.method == "id_card":
        return _check_id_card(sub, now.astimezone(CHINA_TZ).date())
    if sub.method == "uscc":
        return _check_uscc(sub)
    return _check_network_id(sub)


def decide(check: LocalCheck, authority_confirmed: bool | None) -> Decision:
    """Combine the local check with the authority's verdict (None when none was needed)."""
    reasons = list(check.reasons)
    if check.ok and check.authority_check is not None:
        if authority_confirmed is None:
            raise ValueError("an authoritative check was needed but not made")
        if not authority_confirmed:
            reasons.append(
                "id_card_name_mismatch" if check.authority_check == "name_id" else "network_id_token_invalid"
            )
    return Decision(
        verified=not reasons,
        reasons=tuple(reasons),
        age_group=check.age_group if not reasons else "unknown",
        masked=check.masked,
    )
