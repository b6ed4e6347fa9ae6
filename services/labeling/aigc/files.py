"""File-level operations over every carrier: detect the format, find, embed, and the content hash.

Content hash (what ReservedCode1 binds, GB-I5): SHA-256 of the file's bytes with every AIGC label
carrier removed. Because embedding only inserts a carrier, and stripping removes exactly what was
inserted, the content hash of a labeled file equals the SHA-256 of the file before labeling — the
hash the platform reports for its output. The exceptions are Office packages (DOCX/XLSX/PPTX),
hashed over their part manifest (carriers/ooxml.py), and OGG/Matroska, hashed over their packets
(carriers/remux.py): those containers are rewritten when the label goes in. Any change to the
content (pixels, samples, text) changes it; changes to the label alone do not.
"""

from __future__ import annotations

import hashlib
from typing import Final

from services.labeling.aigc.carriers.avi import AviCarrier
from services.labeling.aigc.carriers.base import Carrier, CarrierError, FoundLabel
from services.labeling.aigc.carriers.flac import FlacCarrier
from services.labeling.aigc.carriers.gif import GifCarrier
from services.labeling.aigc.carriers.heif import HeifCarrier
from services.labeling.aigc.carriers.jpeg import JpegCarrier
from services.labeling.aigc.carriers.mp3 import Mp3Carrier
from services.labeling.aigc.carriers.mp4 import Mp4Carrier
from services.labeling.aigc.carriers.ooxml import OoxmlCarrier, manifest_sha256
from services.labeling.aigc.carriers.pdf import PdfCarrier
from services.labeling.aigc.carriers.png import PngCarrier
from services.labeling.aigc.carriers.remux import MatroskaCarrier, OggCarrier, stream_digest
from services.labeling.aigc.carriers.text import TextCarrier
from services.labeling.aigc.carriers.tiff import TiffCarrier
from services.labeling.aigc.carriers.wav import WavCarrier
from services.labeling.aigc.carriers.webp import WebpCarrier
from services.labeling.aigc.label import AigcLabel

# Order matters: MP3 sniffs a bare frame sync, so it follows the formats with a magic number;
# the text carrier accepts anything that is clean UTF-8, so it is asked last.
CARRIERS: Final[tuple[Carrier, ...]] = (
    PngCarrier(),
    JpegCarrier(),
    WavCarrier(),
    WebpCarrier(),
    AviCarrier(),
    GifCarrier(),
    TiffCarrier(),
    HeifCarrier(),  # before MP4: both open with ftyp
    Mp4Carrier(),
    FlacCarrier(),
    OggCarrier(),
    MatroskaCarrier(),
    PdfCarrier(),
    OoxmlCarrier(),
    Mp3Carrier(),
    TextCarrier(),
)
NAMES: Final = ", ".join(c.name for c in CARRIERS)


class UnknownFormat(ValueError):
    """Not one of the supported formats."""


def carrier_for(data: bytes) -> Carrier:
    """The carrier of `data`'s format."""
    for carrier in CARRIERS:
        if carrier.sniff(data):
            return carrier
    raise UnknownFormat(f"not a supported format ({NAMES})")


def format_of(data: bytes) -> str:
    """The format name (a carrier's name, see NAMES)."""
    return carrier_for(data).name


def find_labels(data: bytes) -> list[FoundLabel]:
    """Every AIGC label in the file, primary and legacy (GB-I9 wants exactly one)."""
    return carrier_for(data).find(data)


def content_hash(data: bytes) -> str:
    """SHA-256 (hex) of the file without its label carrier (Office packages: of their part manifest)."""
    carrier = carrier_for(data)
    if isinstance(carrier, OoxmlCarrier):  # a ZIP cannot be restored byte for byte; see ooxml.py
        return manifest_sha256(data)
    if isinstance(carrier, OggCarrier | MatroskaCarrier):  # remuxed: the packets' digest; see remux.py
        return stream_digest(data, carrier.suffix_of(data))
    return hashlib.sha256(carrier.strip(data)).hexdigest()


def embed(data: bytes, label: AigcLabel) -> bytes:
    """The file carrying exactly `label`: any existing label, legacy ones included, is replaced (GB-I9)."""
    carrier = carrier_for(data)
    return carrier.insert(carrier.strip(data), label)


__all__ = [
    "CarrierError",
    "FoundLabel",
    "UnknownFormat",
    "carrier_for",
    "content_hash",
    "embed",
    "find_labels",
]
