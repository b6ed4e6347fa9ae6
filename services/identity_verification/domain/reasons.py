"""Rejection reason codes, each tied to the article that requires the check."""

from __future__ import annotations

from typing import Final

# code -> (article id from regulations.md, explanation). Codes are part of the public contract.
REASONS: Final[dict[str, tuple[str, str]]] = {
    "mobile_missing": ("DS-9", "method mobile needs a mobile number"),
    "mobile_invalid": ("DS-9", "not a mainland mobile number (11 digits, 1[3-9]…)"),
    "mobile_otp_missing": ("DS-9", "the SMS one-time code confirmation time is missing"),
    "mobile_otp_stale": ("DS-9", "the SMS one-time code was confirmed too long ago"),
    "mobile_otp_in_future": ("DS-9", "the SMS one-time code confirmation time is in the future"),
    "full_name_missing": ("DS-9", "method id_card needs the holder's full name"),
    "id_card_number_missing": ("DS-9", "method id_card needs the identity card number"),
    "id_card_format_invalid": ("DS-9", "identity card number is not 17 digits and a check character"),
    "id_card_checksum_invalid": ("DS-9", "identity card check character is wrong (GB 11643)"),
    "id_card_birth_date_invalid": ("DS-9", "identity card birth date is not a real date"),
    "id_card_birth_date_in_future": ("DS-9", "identity card birth date is in the future"),
    "id_card_name_mismatch": ("DS-9", "the authoritative source does not match name and number"),
    "organization_name_missing": ("DS-9", "method uscc needs the organisation name"),
    "uscc_missing": ("DS-9", "method uscc needs the unified social credit code"),
    "uscc_format_invalid": ("DS-9", "not an 18-character unified social credit code"),
    "uscc_checksum_invalid": ("DS-9", "unified social credit code check character is wrong (GB 32100)"),
    "network_id_token_missing": ("NI-3", "method national_network_id needs the network identity token"),
    "network_id_token_malformed": ("NI-1", "the network identity token is not an opaque printable token"),
    "network_id_token_invalid": ("NI-4", "the national network identity service rejected the token"),
}


def article_for(code: str) -> str:
    """The article id a reason code cites."""
    return REASONS[code][0]


def detail_for(code: str) -> str:
    """A human-readable explanation of a reason code."""
    return REASONS[code][1]
