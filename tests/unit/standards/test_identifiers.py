"""Unit tests for real-name identifier checks (GB 11643, GB 32100, mobile; DS-9)."""

from __future__ import annotations

import dataclasses
import random
from datetime import date, timedelta

import pytest

from shared.standards.identifiers import (
    IdCardResult,
    UsccResult,
    age_group,
    age_on,
    id_card_check_character,
    mask_id_card,
    mask_mobile,
    mask_name,
    mask_uscc,
    normalize_mobile,
    org_code_check_ok,
    uscc_check_character,
    validate_id_card,
    validate_uscc,
)

TODAY = date(2025, 6, 15)
SEED = 20250615
CASES = 500

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_SYMBOLS = "0123456789X"
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _fullwidth(text: str) -> str:
    """Replace ASCII digits by FULLWIDTH digits (U+FF10..U+FF19), which must be rejected."""
    return text.translate({ord("0") + i: 0xFF10 + i for i in range(10)})


def _with_id_check(first17: str) -> str:
    return first17 + id_card_check_character(first17)


def _random_id_body(rng: random.Random) -> str:
    """17 digits with a random address code, a valid birth date and a sequence code."""
    start = date(1900, 1, 1).toordinal()
    birth = date.fromordinal(rng.randint(start, TODAY.toordinal()))
    address = "".join(rng.choice("0123456789") for _ in range(6))
    sequence = "".join(rng.choice("0123456789") for _ in range(3))
    return f"{address}{birth:%Y%m%d}{sequence}"


# --- Resident identity card (GB 11643) -----------------------------------------------


@pytest.mark.parametrize(
    ("number", "birth"),
    [
        ("11010519491231002X", date(1949, 12, 31)),
        ("53010219200508011X", date(1920, 5, 8)),
    ],
)
def test_reference_id_card_vectors_are_valid(number: str, birth: date) -> None:
    result = validate_id_card(number, TODAY)
    assert result == IdCardResult(normalized=number, error=None, birth_date=birth)
    assert result.ok


def test_id_card_with_wrong_check_character_is_a_checksum_error() -> None:
    result = validate_id_card("530102192005080119", TODAY)
    assert result.error == "checksum"
    assert not result.ok


def test_id_card_born_1880_with_a_valid_checksum_is_valid_gb_11643() -> None:
    assert id_card_check_character("44052418800101001") == "4"
    result = validate_id_card("440524188001010014", TODAY)
    assert result.ok
    assert result.birth_date == date(1880, 1, 1)


def test_id_card_with_valid_checksum_but_31_april_is_birth_date_invalid() -> None:
    result = validate_id_card("440524199904310011", TODAY)
    assert result.error == "birth_date_invalid"
    assert result.birth_date is None
    assert not result.ok


@pytest.mark.parametrize(
    ("first17", "expected"),
    [
        ("11010519491231002", "X"),
        ("44052418800101001", "4"),
        ("53010219200508011", "X"),
    ],
)
def test_id_card_check_character_matches_reference_vectors(first17: str, expected: str) -> None:
    assert id_card_check_character(first17) == expected


@pytest.mark.parametrize(
    "body",
    [
        "1101051949123100",
        "110105194912310021",
        "1101051949123100X",
        "",
        _fullwidth("11010519491231002"),
    ],
)
def test_id_card_check_character_rejects_anything_but_17_ascii_digits(body: str) -> None:
    with pytest.raises(ValueError):
        id_card_check_character(body)


def test_id_card_check_character_satisfies_iso_7064_mod_11_2_for_random_bodies() -> None:
    rng = random.Random(SEED)
    for _ in range(CASES):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        check = id_card_check_character(body)
        check_value = 10 if check == "X" else int(check)
        weighted = sum(int(d) * w for d, w in zip(body, ID_WEIGHTS, strict=True))
        assert (weighted + check_value) % 11 == 1


def test_random_id_cards_validate_and_every_single_character_change_is_caught() -> None:
    rng = random.Random(SEED)
    for _ in range(CASES):
        number = _with_id_check(_random_id_body(rng))
        assert validate_id_card(number, TODAY).ok, number
        for pos in range(17):
            for digit in "0123456789":
                if digit == number[pos]:
                    continue
                changed = number[:pos] + digit + number[pos + 1 :]
                assert validate_id_card(changed, TODAY).error == "checksum", changed
        for symbol in ID_CHECK_SYMBOLS:
            if symbol == number[17]:
                continue
            changed = number[:17] + symbol
            assert validate_id_card(changed, TODAY).error == "checksum", changed


def test_lower_case_x_is_accepted_and_normalised_to_upper_case() -> None:
    result = validate_id_card("11010519491231002x", TODAY)
    assert result.ok
    assert result.normalized == "11010519491231002X"


def test_surrounding_whitespace_is_stripped() -> None:
    result = validate_id_card("  11010519491231002X\n", TODAY)
    assert result.ok
    assert result.normalized == "11010519491231002X"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "11010519491231002",
        "11010519491231002X1",
        "1101051949123100XX",
        "11010519491231002Y",
        "A1010519491231002X",
        "110105 19491231002X",
        "11010519491231002X\n0",
        _fullwidth("11010519491231002X"),
        "110105490101002",
    ],
)
def test_wrong_length_or_letters_in_an_id_card_is_a_format_error(raw: str) -> None:
    result = validate_id_card(raw, TODAY)
    assert result.error == "format"
    assert result.birth_date is None
    assert not result.ok


@pytest.mark.parametrize("yyyymmdd", ["20000230", "19990229", "20001301", "20000000", "20000431"])
def test_impossible_calendar_birth_date_is_birth_date_invalid(yyyymmdd: str) -> None:
    result = validate_id_card(_with_id_check(f"110105{yyyymmdd}002"), TODAY)
    assert result.error == "birth_date_invalid"
    assert result.birth_date is None


def test_birth_date_on_leap_day_of_a_leap_year_is_accepted() -> None:
    result = validate_id_card(_with_id_check("11010520000229002"), TODAY)
    assert result.ok
    assert result.birth_date == date(2000, 2, 29)


def test_birth_date_tomorrow_is_birth_date_in_future() -> None:
    tomorrow = TODAY + timedelta(days=1)
    result = validate_id_card(_with_id_check(f"110105{tomorrow:%Y%m%d}002"), TODAY)
    assert result.error == "birth_date_in_future"
    assert result.birth_date == tomorrow


def test_birth_date_today_is_accepted() -> None:
    result = validate_id_card(_with_id_check(f"110105{TODAY:%Y%m%d}002"), TODAY)
    assert result.ok
    assert result.birth_date == TODAY


@pytest.mark.parametrize("yyyymmdd", ["18991231", "18500228", "17990101", "19000101"])
def test_gb_11643_sets_no_earliest_year_so_real_dates_before_1900_are_valid(yyyymmdd: str) -> None:
    # Issue 14 correction 2: the former 1900 floor was a guess, not the standard.
    result = validate_id_card(_with_id_check(f"110105{yyyymmdd}002"), TODAY)
    assert result.ok
    assert result.birth_date == date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))


@pytest.mark.parametrize("yyyymmdd", ["18990230", "19001301", "00000101", "19990431"])
def test_birth_date_invalid_is_given_only_to_dates_that_do_not_exist(yyyymmdd: str) -> None:
    result = validate_id_card(_with_id_check(f"110105{yyyymmdd}002"), TODAY)
    assert result.error == "birth_date_invalid"


def test_id_card_result_is_frozen() -> None:
    result = validate_id_card("11010519491231002X", TODAY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.error = "format"  # type: ignore[misc]


# --- Age ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "expected_age", "expected_group"),
    [
        (date(2024, 3, 14), 13, "under_14"),
        (date(2024, 3, 15), 14, "14_to_17"),
        (date(2028, 3, 14), 17, "14_to_17"),
        (date(2028, 3, 15), 18, "adult"),
        (date(2010, 3, 15), 0, "under_14"),
    ],
)
def test_age_and_group_change_on_the_14th_and_18th_birthdays(
    today: date, expected_age: int, expected_group: str
) -> None:
    birth = date(2010, 3, 15)
    assert age_on(birth, today) == expected_age
    assert age_group(birth, today) == expected_group


@pytest.mark.parametrize(
    ("today", "expected_age"),
    [
        (date(2023, 2, 28), 18),
        (date(2023, 3, 1), 19),
        (date(2024, 2, 28), 19),
        (date(2024, 2, 29), 20),
    ],
)
def test_feb_29_birthday_is_reached_on_march_1_in_non_leap_years(today: date, expected_age: int) -> None:
    assert age_on(date(2004, 2, 29), today) == expected_age


def test_feb_29_birthday_18th_in_a_non_leap_year_switches_group_on_march_1() -> None:
    birth = date(2008, 2, 29)
    assert age_group(birth, date(2026, 2, 28)) == "14_to_17"
    assert age_group(birth, date(2026, 3, 1)) == "adult"


def test_age_on_rejects_a_birth_date_after_today() -> None:
    with pytest.raises(ValueError):
        age_on(TODAY + timedelta(days=1), TODAY)


def test_age_group_is_unknown_for_a_missing_or_future_birth_date() -> None:
    assert age_group(None, TODAY) == "unknown"
    assert age_group(TODAY + timedelta(days=1), TODAY) == "unknown"


# --- Unified social credit code (GB 32100) --------------------------------------------------

USCC_VECTORS = [
    "91440300708461136T",
    "9144030071526726XG",
    "91110000802100433B",
    "91110102MACQD9K640",
    "91110114MACY9KQ17M",
]


@pytest.mark.parametrize("code", USCC_VECTORS)
def test_reference_uscc_vectors_are_valid(code: str) -> None:
    result = validate_uscc(code)
    assert result == UsccResult(normalized=code, error=None)
    assert result.ok


@pytest.mark.parametrize("code", USCC_VECTORS)
def test_uscc_check_character_matches_reference_vectors(code: str) -> None:
    assert uscc_check_character(code[:17]) == code[17]


@pytest.mark.parametrize("code", USCC_VECTORS)
def test_lower_case_and_padded_uscc_is_normalised(code: str) -> None:
    result = validate_uscc(f"  {code.lower()} ")
    assert result.ok
    assert result.normalized == code


@pytest.mark.parametrize("letter", ["I", "O", "S", "V", "Z"])
@pytest.mark.parametrize("position", [0, 9, 17])
def test_uscc_containing_an_unused_letter_is_a_format_error(letter: str, position: int) -> None:
    code = USCC_VECTORS[3]
    changed = code[:position] + letter + code[position + 1 :]
    assert validate_uscc(changed).error == "format"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "91440300708461136",
        "91440300708461136TT",
        "9144A300708461136T",
        "91440300-708461136",
        "91440300708461136T\n1",
    ],
)
def test_uscc_with_wrong_length_or_letters_in_the_division_code_is_a_format_error(
    raw: str,
) -> None:
    result = validate_uscc(raw)
    assert result.error == "format"
    assert not result.ok


@pytest.mark.parametrize("code", USCC_VECTORS)
def test_every_single_character_change_of_a_uscc_is_detected(code: str) -> None:
    for pos in range(18):
        for symbol in USCC_CHARSET:
            if symbol == code[pos]:
                continue
            changed = code[:pos] + symbol + code[pos + 1 :]
            result = validate_uscc(changed)
            expected = "format" if 2 <= pos < 8 and not symbol.isdigit() else "checksum"
            assert result.error == expected, changed


def test_uscc_check_character_satisfies_mod_31_for_random_bodies() -> None:
    rng = random.Random(SEED)
    weights = [pow(3, i, 31) for i in range(17)]
    for _ in range(CASES):
        body = "".join(rng.choice(USCC_CHARSET) for _ in range(17))
        check = uscc_check_character(body)
        weighted = sum(USCC_CHARSET.index(c) * w for c, w in zip(body, weights, strict=True))
        assert (weighted + USCC_CHARSET.index(check)) % 31 == 0


@pytest.mark.parametrize(
    "body",
    ["9144030070846113", "91440300708461136T", "9144030070846113o", "9144030070846113I", ""],
)
def test_uscc_check_character_rejects_bad_length_or_characters(body: str) -> None:
    with pytest.raises(ValueError):
        uscc_check_character(body)


def test_org_code_check_passes_for_the_reference_vector() -> None:
    assert org_code_check_ok("91440300708461136T") is True


@pytest.mark.parametrize("code", USCC_VECTORS)
def test_org_code_check_passes_for_all_reference_vectors(code: str) -> None:
    assert org_code_check_ok(code)


def test_org_code_check_fails_for_a_wrong_inner_check_or_malformed_input() -> None:
    assert not org_code_check_ok("91440300708461137T")
    assert not org_code_check_ok("not a uscc")
    assert not org_code_check_ok("")


def test_validate_uscc_does_not_enforce_the_org_code_check() -> None:
    # Inner GB 11714 check fails (position 17 is 7, expected 6); outer check recomputed.
    code = "91440300708461137" + uscc_check_character("91440300708461137")
    assert not org_code_check_ok(code)
    assert validate_uscc(code).ok


# --- Mobile numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "008613812345678",
        "8613812345678",
        "138 1234 5678",
        "138-1234-5678",
        "+86 138-1234-5678",
        "(+86) 138 1234 5678",
        "0086 (138) 1234-5678",
        " 13812345678 ",
    ],
)
def test_mainland_mobile_numbers_in_common_formats_are_normalised(raw: str) -> None:
    assert normalize_mobile(raw) == "13812345678"


@pytest.mark.parametrize("second_digit", "3456789")
def test_second_digits_3_to_9_are_accepted(second_digit: str) -> None:
    number = f"1{second_digit}012345678"
    assert normalize_mobile(number) == number


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1381234567",
        "138123456789",
        "12812345678",
        "10812345678",
        "23812345678",
        "1381234567a",
        "abcdefghijk",
        "+86",
        "+861381234567",
        "+8612812345678",
        "8612812345678",
        "+85213812345678",
        "+1 13812345678",
        "0013812345678",
        "13812345678+86",
        "138.1234.5678",
        _fullwidth("13812345678"),
    ],
)
def test_invalid_mobile_numbers_are_rejected(raw: str) -> None:
    assert normalize_mobile(raw) is None


# --- Masking ------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["11010519491231002X", "53010219200508011X"])
def test_id_card_mask_keeps_first_3_and_last_4_and_hides_the_middle(number: str) -> None:
    masked = mask_id_card(number)
    assert masked == number[:3] + "*" * 11 + number[-4:]
    assert len(masked) == len(number)
    assert number[3:14] not in masked
    assert masked[3:14] == "*" * 11


def test_id_card_mask_example() -> None:
    assert mask_id_card("11010519491231002X") == "110***********002X"


@pytest.mark.parametrize("garbage", ["", "1101", "11010519491231002", "11010519491231002X99"])
def test_id_card_mask_stars_short_or_garbage_input_entirely(garbage: str) -> None:
    assert mask_id_card(garbage) == "*" * len(garbage)


@pytest.mark.parametrize("code", USCC_VECTORS)
def test_uscc_mask_keeps_first_2_and_last_4_and_hides_the_middle(code: str) -> None:
    masked = mask_uscc(code)
    assert masked == code[:2] + "*" * 12 + code[-4:]
    assert len(masked) == len(code)
    assert code[2:14] not in masked


@pytest.mark.parametrize("garbage", ["", "9144", "91440300708461136"])
def test_uscc_mask_stars_short_or_garbage_input_entirely(garbage: str) -> None:
    assert mask_uscc(garbage) == "*" * len(garbage)


def test_mobile_mask_example_hides_the_middle_four_digits() -> None:
    masked = mask_mobile("13812345678")
    assert masked == "138****5678"
    assert "1234" not in masked
    assert len(masked) == 11


@pytest.mark.parametrize("garbage", ["", "1381234", "+8613812345678"])
def test_mobile_mask_stars_short_or_garbage_input_entirely(garbage: str) -> None:
    assert mask_mobile(garbage) == "*" * len(garbage)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("张三丰", "张**"),
        ("李雷", "李*"),
        ("Li Lei", "L*****"),
        ("王", "王"),
        ("", ""),
    ],
)
def test_name_mask_keeps_only_the_first_character(name: str, expected: str) -> None:
    masked = mask_name(name)
    assert masked == expected
    assert len(masked) == len(name)
    for hidden in name[1:]:
        if hidden != name[0]:
            assert hidden not in masked
