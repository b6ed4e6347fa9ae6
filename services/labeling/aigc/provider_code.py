"""The 27-character service-provider code used in ContentProducer / ContentPropagator (GB-I4, GB-I6).

TC260 practice guide TC260-PG-20252A (regulations.md §2, "Provider code", status S):
``00`` (format) + 20-character subject code + 5-character extension. For organisations the
subject code is ``1`` (organisation) + ``1`` (bound to a USCC) + the 18-character USCC, whose
GB 32100 check character is verified with the shared check. The extension is ``00000`` when
unused, else a service-type character (``1`` generation, ``2`` propagation) and four characters
the provider chooses. Example: ``00|11|91440300708461136T|1|XGW3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from shared.standards.identifiers import validate_uscc

CodeRole = Literal["generation", "propagation", "unspecified"]

CODE_LENGTH: Final = 27
_SHAPE: Final = re.compile(r"[0-9A-Z]{27}")
_EXTENSION: Final = re.compile(r"00000|[12][0-9A-Z]{4}")
_ROLES: Final[dict[str, CodeRole]] = {"1": "generation", "2": "propagation", "0": "unspecified"}


@dataclass(frozen=True)
class ProviderCode:
    """A parsed, valid provider code."""

    code: str
    uscc: str
    role: CodeRole
    custom: str


def provider_code_problem(code: str) -> str | None:
    """Why `code` is not a valid organisation provider code, or None when it is."""
    if len(code) != CODE_LENGTH or not _SHAPE.fullmatch(code):
        return f"must be {CODE_LENGTH} digits or upper-case letters"
    if not code.startswith("00"):
        return "format code (characters 1-2) must be 00"
    if code[2:4] != "11":
        return "subject code must start with 11 (organisation bound to a unified social credit code)"
    uscc = validate_uscc(code[4:22])
    if not uscc.ok:
        return f"embedded unified social credit code fails its {uscc.error} check (GB 32100)"
    if not _EXTENSION.fullmatch(code[22:]):
        return "extension (characters 23-27) must be 00000, or 1/2 followed by four characters"
    return None


def parse_provider_code(code: str) -> ProviderCode:
    """The parts of a valid code; ValueError naming the problem otherwise."""
    problem = provider_code_problem(code)
    if problem:
        raise ValueError(f"provider code {code!r}: {problem}")
    return ProviderCode(code=code, uscc=code[4:22], role=_ROLES[code[22]], custom=code[23:])
