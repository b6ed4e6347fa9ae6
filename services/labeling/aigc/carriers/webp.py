"""WebP: the TC260 XMP property in the `XMP ` RIFF chunk (TC260-PG-20259A).

The property is added to an existing `XMP ` chunk, or a new `XMP ` chunk goes at the end of the
form; the VP8X header's XMP flag is set (a simple VP8/VP8L file gets a VP8X header first, with the
canvas size read from its bitstream, as the container specification requires). Stripping undoes
exactly that: the chunk (or the property), the flag, and a VP8X header left with no flag at all.
"""

from __future__ import annotations

import struct
from typing import Final

from services.labeling.aigc.carriers import xmp
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel
from services.labeling.aigc.carriers.wav import Chunk, chunks
from services.labeling.aigc.label import AigcLabel

XMP_ID: Final = b"XMP "
XMP_FLAG: Final = 0x04
HEADER: Final = 12


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def _all(data: bytes) -> list[Chunk]:
    if len(data) < HEADER or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise CarrierError("WebP: not a RIFF WEBP file")
    (size,) = struct.unpack("<I", data[4:8])
    return chunks(data, HEADER, min(8 + size, len(data)))


def _canvas(data: bytes, image: Chunk) -> tuple[int, int]:
    body = image.body(data)
    if image.id == b"VP8L" and len(body) >= 5 and body[0] == 0x2F:
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if image.id == b"VP8 " and len(body) >= 10 and body[3:6] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    raise CarrierError("WebP: cannot read the canvas size of the image data")


def _vp8x(flags: int, width: int, height: int) -> bytes:
    body = bytes([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return _chunk(b"VP8X", body)


def _form(data: bytes, parts: list[bytes]) -> bytes:
    body = b"WEBP" + b"".join(parts)
    return b"RIFF" + struct.pack("<I", len(body)) + body


class WebpCarrier:
    """WebP files."""

    name = "webp"

    def sniff(self, data: bytes) -> bool:
        """RIFF/WEBP header."""
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"

    def find(self, data: bytes) -> list[FoundLabel]:
        """TC260 properties in XMP chunks."""
        labels: list[FoundLabel] = []
        for c in _all(data):
            if c.id == XMP_ID:
                labels += xmp.find(c.body(data), "webp:XMP")
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove the property (the chunk when nothing else is in it); clear the flag; drop an idle VP8X."""
        parts = _all(data)
        if not any(c.id == XMP_ID and xmp.has_label(c.body(data)) for c in parts):
            return data
        out: list[bytes] = []
        xmp_left = False
        for c in parts:
            if c.id == XMP_ID and xmp.has_label(c.body(data)):
                clean = xmp.strip(c.body(data))
                if clean is not None:
                    out.append(_chunk(XMP_ID, clean))
                    xmp_left = True
                continue
            out.append(data[c.start : c.end])
        if not xmp_left and out and out[0][:4] == b"VP8X":
            flags = out[0][8] & ~XMP_FLAG
            out[0] = out[0][:8] + bytes([flags]) + out[0][9:]
            if flags == 0 and len(out) == 2 and out[1][:4] in (b"VP8 ", b"VP8L"):
                out = out[1:]  # the VP8X header was only there for the XMP chunk
        return _form(data, out)

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Into the XMP chunk, or a new one at the end; VP8X flag set."""
        payload = label.to_bare_json()
        parts = _all(data)
        if not parts:
            raise CarrierError("WebP: no chunks")
        out = [data[c.start : c.end] for c in parts]
        if parts[0].id == b"VP8X":
            out[0] = out[0][:8] + bytes([out[0][8] | XMP_FLAG]) + out[0][9:]
        else:
            out.insert(0, _vp8x(XMP_FLAG, *_canvas(data, parts[0])))
        for i, c in enumerate(parts):
            if c.id == XMP_ID:
                index = i + (len(out) - len(parts))
                out[index] = _chunk(XMP_ID, xmp.insert(c.body(data), payload))
                return _form(data, out)
        return _form(data, [*out, _chunk(XMP_ID, xmp.packet(payload))])
