"""JPEG: an APP1 XMP segment holding the TC260 property, written at segment level.

The image data is never re-encoded, so embedding does not touch a single coefficient (DS-16:
the mark must not affect use).

Pillow can write XMP into a JPEG only by re-encoding it, which would change the pixels, so the
segments are handled here. If the file already has an XMP packet the property is added to it;
otherwise a new APP1 segment follows the leading APPn segments (JFIF, Exif), as the XMP
specification asks. Legacy carriers also recognised: COM segments holding an AIGC label and
other tools' AIGC properties in the XMP packet.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from services.labeling.aigc.carriers import xmp
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

SOI: Final = b"\xff\xd8"
APP1: Final = 0xE1
COM: Final = 0xFE
SOS: Final = 0xDA
EOI: Final = 0xD9
XMP_HEADER: Final = b"http://ns.adobe.com/xap/1.0/\x00"
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})
MAX_SEGMENT: Final = 0xFFFF - 2


@dataclass(frozen=True)
class Segment:
    """One marker segment of the header: bytes [start, end) including marker and length."""

    marker: int
    start: int
    end: int

    def payload(self, data: bytes) -> bytes:
        """The segment's content after the length field."""
        return data[self.start + 4 : self.end]


def segments(data: bytes) -> list[Segment]:
    """The header segments after SOI, up to (not including) SOS or EOI."""
    if not data.startswith(SOI):
        raise CarrierError("JPEG: no SOI marker")
    segs: list[Segment] = []
    pos = 2
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise CarrierError(f"JPEG: expected a marker at byte {pos}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (SOS, EOI):
            return segs
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise CarrierError(f"JPEG: segment at byte {pos} runs past the end of the file")
        segs.append(Segment(marker, pos, end))
        pos = end


def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > MAX_SEGMENT:
        raise CarrierError("JPEG: metadata segment larger than 64 KiB")
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def _is_xmp(seg: Segment, data: bytes) -> bool:
    return seg.marker == APP1 and seg.payload(data).startswith(XMP_HEADER)


def _is_com_label(seg: Segment, data: bytes) -> bool:
    return seg.marker == COM and b'"AIGC"' in seg.payload(data)


class JpegCarrier:
    """JPEG files."""

    name = "jpeg"

    def sniff(self, data: bytes) -> bool:
        """SOI followed by a marker."""
        return data.startswith(b"\xff\xd8\xff")

    def find(self, data: bytes) -> list[FoundLabel]:
        """XMP properties and COM labels, in file order."""
        labels: list[FoundLabel] = []
        for seg in segments(data):
            if _is_xmp(seg, data):
                labels += xmp.find(seg.payload(data)[len(XMP_HEADER) :], "jpeg:APP1-XMP")
            elif _is_com_label(seg, data):
                text = seg.payload(data).decode("utf-8", "replace")
                labels.append(found("jpeg:COM", text, legacy=True))
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove the property from XMP packets (the segment too if it held only that) and COM labels."""
        out: list[bytes] = []
        pos = 0
        for seg in segments(data):
            if _is_com_label(seg, data):
                replacement: bytes | None = None
            elif _is_xmp(seg, data) and xmp.has_label(seg.payload(data)):
                clean = xmp.strip(seg.payload(data)[len(XMP_HEADER) :])
                replacement = None if clean is None else _segment(APP1, XMP_HEADER + clean)
            else:
                continue
            out.append(data[pos : seg.start])
            if replacement is not None:
                out.append(replacement)
            pos = seg.end
        if pos == 0:
            return data
        return b"".join(out) + data[pos:]

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Into the existing XMP packet, or a new APP1 segment after the leading APPn segments."""
        label_json = label.to_bare_json()
        segs = segments(data)
        for seg in segs:
            if _is_xmp(seg, data):
                packet = xmp.insert(seg.payload(data)[len(XMP_HEADER) :], label_json)
                return data[: seg.start] + _segment(APP1, XMP_HEADER + packet) + data[seg.end :]
        at = 2
        for seg in segs:
            if not 0xE0 <= seg.marker <= 0xEF:
                break
            at = seg.end
        return data[:at] + _segment(APP1, XMP_HEADER + xmp.packet(label_json)) + data[at:]
