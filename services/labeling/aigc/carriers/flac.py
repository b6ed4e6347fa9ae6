"""FLAC: a Vorbis comment `AIGC=<bare 7-field object>` (TC260-PG-202510A).

Added as the last comment of the file's VORBIS_COMMENT block (count and block length grow by
exactly what was added), or, when the file has none, in a new VORBIS_COMMENT block right after
STREAMINFO whose vendor string marks it as ours. Stripping removes exactly that (the block too
when it is ours and empty), so the original bytes come back. mutagen would rewrite the metadata
blocks and padding when it saves, so the splice is done here; the tests read the result with
mutagen, ffprobe and exiftool.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

MAGIC: Final = b"fLaC"
VORBIS_COMMENT: Final = 4
VENDOR: Final = b"dsgov-label"
FIELD: Final = b"AIGC"


@dataclass(frozen=True)
class Block:
    """One metadata block: type, last flag, byte range [start, end) including its 4-byte header."""

    type: int
    last: bool
    start: int
    end: int


def blocks(data: bytes) -> list[Block]:
    """The metadata blocks."""
    if not data.startswith(MAGIC):
        raise CarrierError("FLAC: no fLaC marker")
    found_: list[Block] = []
    pos = 4
    while True:
        if pos + 4 > len(data):
            raise CarrierError("FLAC: truncated metadata block header")
        head = data[pos]
        length = int.from_bytes(data[pos + 1 : pos + 4], "big")
        if pos + 4 + length > len(data):
            raise CarrierError(f"FLAC: metadata block at byte {pos} runs past the end")
        found_.append(Block(head & 0x7F, bool(head & 0x80), pos, pos + 4 + length))
        pos += 4 + length
        if head & 0x80:
            return found_


def _comments(body: bytes) -> tuple[bytes, list[bytes]]:
    """Vendor string and comments of a VORBIS_COMMENT body."""
    try:
        (vlen,) = struct.unpack("<I", body[:4])
        vendor = body[4 : 4 + vlen]
        pos = 4 + vlen
        (count,) = struct.unpack("<I", body[pos : pos + 4])
        pos += 4
        comments = []
        for _ in range(count):
            (clen,) = struct.unpack("<I", body[pos : pos + 4])
            comments.append(body[pos + 4 : pos + 4 + clen])
            pos += 4 + clen
    except struct.error:
        raise CarrierError("FLAC: damaged Vorbis comment block") from None
    return vendor, comments


def _body(vendor: bytes, comments: list[bytes]) -> bytes:
    parts = [struct.pack("<I", len(vendor)), vendor, struct.pack("<I", len(comments))]
    parts += [struct.pack("<I", len(c)) + c for c in comments]
    return b"".join(parts)


def _block(kind: int, last: bool, body: bytes) -> bytes:
    if len(body) >= 1 << 24:
        raise CarrierError("FLAC: metadata block too large")
    return bytes([kind | (0x80 if last else 0)]) + len(body).to_bytes(3, "big") + body


def _is_label(comment: bytes) -> bool:
    return comment.split(b"=", 1)[0].upper() == FIELD


class FlacCarrier:
    """FLAC files."""

    name = "flac"

    def sniff(self, data: bytes) -> bool:
        """The fLaC marker."""
        return data.startswith(MAGIC)

    def find(self, data: bytes) -> list[FoundLabel]:
        """AIGC comments (field names are case-insensitive in Vorbis comments)."""
        labels: list[FoundLabel] = []
        for b in blocks(data):
            if b.type == VORBIS_COMMENT:
                _, comments = _comments(data[b.start + 4 : b.end])
                labels += [
                    found("flac:VORBIS_COMMENT:AIGC", c.split(b"=", 1)[1].decode("utf-8", "replace"))
                    for c in comments
                    if _is_label(c) and b"=" in c
                ]
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove AIGC comments; our own block when it is left empty."""
        all_blocks = blocks(data)
        out = bytearray(data[:4])
        for i, b in enumerate(all_blocks):
            if b.type != VORBIS_COMMENT:
                out += data[b.start : b.end]
                continue
            vendor, comments = _comments(data[b.start + 4 : b.end])
            kept = [c for c in comments if not _is_label(c)]
            if len(kept) == len(comments):
                out += data[b.start : b.end]
            elif kept or vendor != VENDOR:
                out += _block(VORBIS_COMMENT, b.last, _body(vendor, kept))
            elif b.last and i > 0:  # the previous block becomes the last one again
                prev = len(out) - (all_blocks[i - 1].end - all_blocks[i - 1].start)
                out[prev] |= 0x80
        out += data[all_blocks[-1].end :]
        return bytes(out)

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Append to the VORBIS_COMMENT block, or add our own block after STREAMINFO."""
        comment = FIELD + b"=" + label.to_bare_json().encode("ascii")
        all_blocks = blocks(data)
        for b in all_blocks:
            if b.type == VORBIS_COMMENT:
                vendor, comments = _comments(data[b.start + 4 : b.end])
                new = _block(VORBIS_COMMENT, b.last, _body(vendor, [*comments, comment]))
                return data[: b.start] + new + data[b.end :]
        first = all_blocks[0]
        head = bytes([data[first.start] & 0x7F]) + data[first.start + 1 : first.end]
        ours = _block(VORBIS_COMMENT, first.last, _body(VENDOR, [comment]))
        return data[: first.start] + head + ours + data[first.end :]
