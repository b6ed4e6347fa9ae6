"""The 27-character provider code (TC260-PG-20252A) with its embedded USCC (GB-I4, GB-I6)."""

from __future__ import annotations

import pytest

from services.labeling.aigc.provider_code import parse_provider_code, provider_code_problem
from tests.unit.labeling.samples import PLATFORM, PRODUCER

# Real codes seen in public files (regulations.md §5.4), parsed there into 00|11|USCC|type|4 chars.
REAL_CODES = ["001191440300708461136T1XGW3", "001191110102MACQD9K64018705", "001191110102MACQD9K64028705"]


@pytest.mark.parametrize("code", [*REAL_CODES, PRODUCER, PLATFORM])
def test_real_and_sample_codes_are_valid(code: str) -> None:
    assert provider_code_problem(code) is None


def test_parts_of_a_code() -> None:
    parsed = parse_provider_code("001191440300708461136T1XGW3")
    assert parsed.uscc == "91440300708461136T"
    assert parsed.role == "generation"
    assert parsed.custom == "XGW3"
    assert parse_provider_code("001191110102MACQD9K64028705").role == "propagation"


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("001191440300708461136T1XGW", "27"),  # too short
        ("001191440300708461136t1xgw3", "27"),  # lower case
        ("011191440300708461136T1XGW3", "format code"),
        ("002191440300708461136T1XGW3", "subject code"),
        ("001191440300708461136A1XGW3", "checksum"),  # GB 32100 check character wrong
        ("001191440300708461136I1XGW3", "format"),  # I is not in the USCC alphabet
        ("001191440300708461136T3XGW3", "extension"),  # service type must be 1 or 2
    ],
)
def test_invalid_codes_name_their_problem(code: str, fragment: str) -> None:
    problem = provider_code_problem(code)
    assert problem is not None
    assert fragment in problem
    with pytest.raises(ValueError, match="provider code"):
        parse_provider_code(code)


def test_unused_extension_is_allowed() -> None:
    assert provider_code_problem("001191440300708461136T00000") is None
