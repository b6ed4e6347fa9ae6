"""What every file-format carrier offers: find, strip and insert the `AIGC` label."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class CarrierError(ValueError):
    """The file's structure is damaged or unsupported, so its metadata cannot be handled."""


@dataclass(frozen=True)
class FoundLabel:
    """One `AIGC` label occurrence in a file (GB-I9 counts them)."""

    carrier: str  # where it sits, e.g. "png:iTXt:AIGC"
    text: str  # the serialised label as found (legacy carriers are converted to JSON text)
    legacy: bool = False  # written by another tool's carrier, replaced on the next embed


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

    def insert(self, data: bytes, label_json: str) -> bytes:
        """Add the label to a file that has none, touching no other byte's meaning."""
        ...
