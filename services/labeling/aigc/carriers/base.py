"""What every file-format carrier offers: find, strip and insert the `AIGC` label."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.labeling.aigc.label import AigcLabel


class CarrierError(ValueError):
    """The file's structure is damaged or unsupported, so its metadata cannot be handled."""


@dataclass(frozen=True)
class FoundLabel:
    """One `AIGC` label occurrence in a file (GB-I9 counts them)."""

    carrier: str  # where it sits, e.g. "png:iTXt:XML:com.adobe.xmp"
    text: str  # the label as `{"AIGC":{...}}` JSON text (a bare 7-field payload is wrapped as found)
    legacy: bool = False  # not the carrier this library writes; replaced on the next embed
    bare: bool = False  # the payload was the bare 7-field object (what the TC260 guides carry)


def found(carrier: str, payload: str, *, legacy: bool = False) -> FoundLabel:
    """A FoundLabel from a carrier's payload; a bare 7-field object is wrapped as text.

    Wrapping the text (not a parsed dict) keeps the Annex E checks (key order, duplicates) on the
    bytes that were in the file.
    """
    text = payload.strip()
    if text.startswith("{") and not re.match(r'\{\s*"AIGC"\s*:', text):
        return FoundLabel(carrier, '{"AIGC":' + text + "}", legacy, bare=True)
    return FoundLabel(carrier, text, legacy)


class Carrier(Protocol):
    """One file format's metadata carrier (LB-5.3)."""

    name: str

    def sniff(self, data: bytes) -> bool:
        """True when `data` is this format."""
        ...

    def find(self, data: bytes) -> list[FoundLabel]:
        """Every label in the file, in file order (primary and legacy carriers)."""
        ...

    def strip(self, data: bytes) -> bytes:
        """The file without any label; for a file labeled by `insert`, exactly the original bytes."""
        ...

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Add the label to a file that has none, touching no other byte's meaning."""
        ...
