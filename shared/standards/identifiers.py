"""Real-name identifier checks (DS-9): GB 11643 identity card, GB 32100 USCC, mainland mobile.

Pure functions only: no I/O, no clock reads, no logging. Callers pass ``today``
explicitly wherever a date comparison is needed.

Covered identifiers (formats per regulations.md section 5):

* resident identity card number, GB 11643-1999 (ISO 7064 MOD 11-2 check);
* unified social credit code (USCC), GB 32100-2015 (MOD 31 check);
* mainland mobile numbers (MIIT numbering plan, pragmatic shape check).

Also provides masking helpers so that logs and UIs never show full identifiers
(PIPL minimisation and de-identification: PI-5/6, PI-51). Age bands support the
under-14 guardian-consent rule (PI-31).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

__all__ = [
    "AgeGroup",
    "IdCardError",
    "IdCardResult",
    "UsccError",
    "UsccResult",
    "age_group",
    "age_on",
    "id_card_check_character",
    "mask_id_card",
    "mask_mobile",
    "mask_name",
    "mask_uscc",
    "normalize_mobile",
    "org_code_check_ok",
    "uscc_check_character",
    "validate_id_card",
    "validate_uscc",
]

AgeGroup = Literal["under_14", "14_to_17", "adult", "unknown"]
"""Age bands used for minor protection: under 14, 14 to 17, adult (18+), unknown."""

IdCardError = Literal["format", "checksum", "birth_date_invalid", "birth_date_in_future"]
"""Reasons a resident identity card number is rejected."""

UsccError = Literal["format", "checksum"]
"""Reasons a unified social credit code is rejected."""

# --- Resident identity card number (GB 11643-1999) ---

# GB 11643: 17 ASCII digits followed by a digit or X (``\d`` would also accept
# non-ASCII digits, hence the explicit class).
_ID_CARD_RE: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_CARD_BODY_RE: Final = re.compile(r"[0-9]{17}")
# GB 11643 / ISO 7064 MOD 11-2: weight of position k is 2^(18-k) mod 11.
_ID_CARD_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# GB 11643: check character indexed by (weighted sum mod 11).
_ID_CARD_CHECK_CHARS: Final = "10X98765432"


@dataclass(frozen=True)
class IdCardResult:
    """Outcome of validating a resident identity card number (GB 11643, DS-9)."""

    normalized: str
    """Upper-cased, stripped input (may be invalid)."""
    error: IdCardError | None
    """Why the number was rejected, or ``None`` when it is valid."""
    birth_date: date | None
    """Birth date from positions 7-14, set whenever that part parsed as a date."""

    @property
    def ok(self) -> bool:
        """Return True when the number passed every check."""
        return self.error is None


def id_card_check_character(first17: str) -> str:
    """Return the GB 11643 check character ("0"-"9" or "X") for 17 ASCII digits.

    Raises ``ValueError`` when ``first17`` is not exactly 17 ASCII digits.
    """
    if _ID_CARD_BODY_RE.fullmatch(first17) is None:
        raise ValueError("identity card body must be exactly 17 ASCII digits")
    total = sum(int(ch) * w for ch, w in zip(first17, _ID_CARD_WEIGHTS, strict=True))
    return _ID_CARD_CHECK_CHARS[total % 11]


def _parse_birth_date(normalized: str) -> date | None:
    """Parse positions 7-14 (YYYYMMDD, GB 11643) of a shape-valid number."""
    try:
        return date(int(normalized[6:10]), int(normalized[10:12]), int(normalized[12:14]))
    except ValueError:
        return None


def validate_id_card(raw: str, today: date) -> IdCardResult:
    """Validate an 18-character resident identity card number (GB 11643, DS-9).

    Checks, in order: shape, check character, birth date (a real calendar date
    not after ``today``; GB 11643 sets no earliest year, so none is guessed here).
    Legacy 15-digit numbers are not accepted.
    """
    normalized = raw.strip().upper()
    if _ID_CARD_RE.fullmatch(normalized) is None:
        return IdCardResult(normalized=normalized, error="format", birth_date=None)
    birth_date = _parse_birth_date(normalized)
    error: IdCardError | None
    if id_card_check_character(normalized[:17]) != normalized[17]:
        error = "checksum"
    elif birth_date is None:  # GB 11643 sets no earliest year: any real date up to today is valid
        error = "birth_date_invalid"
    elif birth_date > today:
        error = "birth_date_in_future"
    else:
        error = None
    return IdCardResult(normalized=normalized, error=error, birth_date=birth_date)


# --- Age (minor protection; under-14 guardian consent, PI-31) ---


def age_on(birth_date: date, today: date) -> int:
    """Return the age in completed years on ``today``.

    The age increases on the birthday itself. A 29 February birthday counts as
    reached on 1 March in non-leap years (the later, minor-protective reading).
    Raises ``ValueError`` when ``birth_date`` is after ``today``.
    """
    if birth_date > today:
        raise ValueError("birth_date is after today")
    not_yet = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(not_yet)


def age_group(birth_date: date | None, today: date) -> AgeGroup:
    """Return the minor-protection age band for ``birth_date`` on ``today``.

    Under 14 -> "under_14", 14 to 17 -> "14_to_17", 18 or older -> "adult".
    A missing birth date or one after ``today`` gives "unknown".
    """
    if birth_date is None or birth_date > today:
        return "unknown"
    age = age_on(birth_date, today)
    if age < 14:
        return "under_14"
    if age < 18:
        return "14_to_17"
    return "adult"


# --- Unified social credit code (GB 32100-2015) ---

# GB 32100: 31-symbol alphabet, value = index; I, O, S, V and Z are not used.
_USCC_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUES: Final = {ch: i for i, ch in enumerate(_USCC_CHARSET)}
# GB 32100: weight of position k is 3^(k-1) mod 31.
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 32100 shape: 2 authority/category chars, 6-digit division code, 10 chars.
_USCC_RE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}")
# GB 11714 organisation code (USCC positions 9-17): weights for its first 8 chars.
_ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_CODE_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class UsccResult:
    """Outcome of validating a unified social credit code (GB 32100, DS-9)."""

    normalized: str
    """Upper-cased, stripped input (may be invalid)."""
    error: UsccError | None
    """Why the code was rejected, or ``None`` when it is valid."""

    @property
    def ok(self) -> bool:
        """Return True when the code passed every check."""
        return self.error is None


def uscc_check_character(first17: str) -> str:
    """Return the GB 32100 check character for the first 17 USCC characters.

    Raises ``ValueError`` unless ``first17`` is exactly 17 characters from the
    GB 32100 alphabet (upper case; I, O, S, V, Z excluded).
    """
    if len(first17) != 17 or any(ch not in _USCC_VALUES for ch in first17):
        raise ValueError("USCC body must be exactly 17 characters of the GB 32100 alphabet")
    total = sum(_USCC_VALUES[ch] * w for ch, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_CHARSET[(31 - total % 31) % 31]


def validate_uscc(raw: str) -> UsccResult:
    """Validate a unified social credit code: shape and check character (GB 32100, DS-9).

    The first two characters are not checked against a code list, and the
    optional GB 11714 inner check is not enforced (see ``org_code_check_ok``).
    """
    normalized = raw.strip().upper()
    if _USCC_RE.fullmatch(normalized) is None:
        return UsccResult(normalized=normalized, error="format")
    if uscc_check_character(normalized[:17]) != normalized[17]:
        return UsccResult(normalized=normalized, error="checksum")
    return UsccResult(normalized=normalized, error=None)


def org_code_check_ok(uscc: str) -> bool:
    """Return True when USCC positions 9-17 pass the GB 11714 organisation-code check.

    Informational only: validation does not depend on it. Input is stripped and
    upper-cased; anything not shaped like a USCC gives False.
    """
    normalized = uscc.strip().upper()
    if _USCC_RE.fullmatch(normalized) is None:
        return False
    org_code = normalized[8:17]
    # GB 11714: 0-9 -> 0-9, A-Z -> 10-35; c = 11 - (sum mod 11); 10 -> X, 11 -> 0.
    total = sum(
        _ORG_CODE_ALPHABET.index(ch) * w for ch, w in zip(org_code[:8], _ORG_CODE_WEIGHTS, strict=True)
    )
    c = 11 - total % 11
    expected = "X" if c == 10 else "0" if c == 11 else str(c)
    return org_code[8] == expected


# --- Mainland mobile numbers (DS-9, regulations.md section 5.3) ---

# Separators removed before matching: whitespace, hyphens, parentheses.
_MOBILE_SEPARATORS_RE: Final = re.compile(r"[\s\-()]")
# Optional country code (+86 / 0086 / 86) followed by exactly 11 digits.
_MOBILE_RE: Final = re.compile(r"(?:\+86|0086|86)?([0-9]{11})")
# Mainland mobile numbering (pragmatic check, regulations.md section 5.3).
_MOBILE_NATIONAL_RE: Final = re.compile(r"1[3-9][0-9]{9}")


def normalize_mobile(raw: str) -> str | None:
    """Return the 11-digit national mobile number, or None when ``raw`` is not one (DS-9).

    Whitespace, hyphens and parentheses are ignored; an optional "+86", "0086"
    or "86" prefix is accepted only when exactly 11 digits follow it.
    """
    compact = _MOBILE_SEPARATORS_RE.sub("", raw)
    match = _MOBILE_RE.fullmatch(compact)
    if match is None:
        return None
    national = match.group(1)
    if _MOBILE_NATIONAL_RE.fullmatch(national) is None:
        return None
    return national


# --- Masking (PI-5/6 minimisation, PI-51 de-identification) ---


def _mask_middle(value: str, keep_head: int, keep_tail: int, expected_len: int) -> str:
    """Keep ``keep_head`` and ``keep_tail`` characters; star the rest.

    Values not of ``expected_len`` are starred entirely (same length).
    """
    if len(value) != expected_len:
        return "*" * len(value)
    hidden = len(value) - keep_head - keep_tail
    return value[:keep_head] + "*" * hidden + value[len(value) - keep_tail :]


def mask_id_card(normalized: str) -> str:
    """Mask an identity card number, keeping the first 3 and last 4 characters.

    The result has the same length; input not 18 characters long is fully starred.
    """
    return _mask_middle(normalized, 3, 4, 18)


def mask_uscc(normalized: str) -> str:
    """Mask a USCC, keeping the first 2 and last 4 characters.

    The result has the same length; input not 18 characters long is fully starred.
    """
    return _mask_middle(normalized, 2, 4, 18)


def mask_mobile(national: str) -> str:
    """Mask an 11-digit national mobile number as "138****5678".

    Input not 11 characters long is fully starred (same length).
    """
    return _mask_middle(national, 3, 4, 11)


def mask_name(name: str) -> str:
    """Mask a personal name: first character, then one "*" per remaining character."""
    if not name:
        return ""
    return name[0] + "*" * (len(name) - 1)
