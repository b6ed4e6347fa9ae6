"""MP4 (ISO BMFF): a top-level box of type `AIGC` whose payload is the label JSON, appended at the end.

Why not an `ilst` tag written with mutagen: mutagen rewrites `moov` and shifts the sample offsets,
so the labeled file could no longer be mapped back to the hash of the file the platform reported
(the label's integrity data binds to it, GB-I5). A trailing top-level box moves no byte of the
movie: every offset stays valid, readers skip unknown boxes (ISO/IEC 14496-12), and stripping it
restores the original exactly. mutagen is used for what it is good at: finding and removing
legacy labels that other tools wrote as iTunes-style `ilst` tags (e.g. `----:com.apple.iTunes:AIGC`).
A `moov/udta/AIGC` box written by other tools is recognised but cannot be removed without
re-muxing; embed refuses such files rather than leave two labels (GB-I9).
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Final

from mutagen import MutagenError
from mutagen.mp4 import MP4, MP4Tags
from mutagen.mp4._atom import Atoms  # the atom tree reader mutagen itself uses

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel

BOX_TYPE: Final = b"AIGC"


@dataclass(frozen=True)
class Box:
    """A top-level box: type and byte range [start, end)."""

    type: bytes
    start: int
    end: int
    header: int

    def payload(self, data: bytes) -> bytes:
        """The box content after its header."""
        return data[self.start + self.header : self.end]


def boxes(data: bytes) -> list[Box]:
    """The top-level boxes."""
    found: list[Box] = []
    pos = 0
    while pos < len(data):
        if pos + 8 > len(data):
            raise CarrierError(f"MP4: truncated box header at byte {pos}")
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > len(data):
                raise CarrierError(f"MP4: truncated large box header at byte {pos}")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = len(data) - pos  # extends to the end of the file
        if size < header or pos + size > len(data):
            raise CarrierError(f"MP4: box {kind!r} at byte {pos} runs past the end of the file")
        found.append(Box(kind, pos, pos + size, header))
        pos += size
    return found


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", len(payload) + 8, kind) + payload


def _tags(data: bytes) -> MP4Tags | None:
    try:
        tags = MP4(io.BytesIO(data)).tags  # type: ignore[no-untyped-call]
    except (MutagenError, struct.error, ValueError):
        return None
    return tags


def _tag_labels(tags: MP4Tags | None) -> list[tuple[str, str]]:
    if tags is None:
        return []
    found: list[tuple[str, str]] = []
    for key, values in tags.items():  # type: ignore[no-untyped-call]
        if "aigc" in key.lower():
            for value in values:
                text = bytes(value).decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                found.append((key, text))
    return found


def _udta_label(data: bytes) -> str | None:
    try:
        atoms = Atoms(io.BytesIO(data))
        atom = atoms.path(b"moov", b"udta", BOX_TYPE)[-1]
    except (KeyError, MutagenError, struct.error, ValueError):
        return None
    return data[atom.offset + 8 : atom.offset + atom.length].decode("utf-8", "replace")


class Mp4Carrier:
    """MP4/ISO BMFF files."""

    name = "mp4"

    def sniff(self, data: bytes) -> bool:
        """An `ftyp` box first."""
        return len(data) >= 12 and data[4:8] == b"ftyp"

    def find(self, data: bytes) -> list[FoundLabel]:
        """Top-level AIGC boxes, then legacy ilst tags and a moov/udta/AIGC box."""
        found = [
            FoundLabel("mp4:AIGC-box", b.payload(data).decode("utf-8", "replace"))
            for b in boxes(data)
            if b.type == BOX_TYPE
        ]
        found += [FoundLabel(f"mp4:ilst:{k}", t, legacy=True) for k, t in _tag_labels(_tags(data))]
        legacy_box = _udta_label(data)
        if legacy_box is not None:
            found.append(FoundLabel("mp4:moov/udta/AIGC", legacy_box, legacy=True))
        return found

    def strip(self, data: bytes) -> bytes:
        """Cut top-level AIGC boxes; remove legacy ilst tags with mutagen."""
        kept = [data[b.start : b.end] for b in boxes(data) if b.type != BOX_TYPE]
        clean = b"".join(kept)
        tags = _tags(clean)
        legacy = [k for k, _ in _tag_labels(tags)]
        if tags is not None and legacy:
            for key in legacy:
                del tags[key]  # type: ignore[no-untyped-call]
            buffer = io.BytesIO(clean)
            tags.save(buffer)
            clean = buffer.getvalue()
        return clean

    def insert(self, data: bytes, label_json: str) -> bytes:
        """Append the AIGC box after the last top-level box."""
        existing = boxes(data)
        if existing and data[existing[-1].start : existing[-1].start + 4] == b"\0\0\0\0":
            raise CarrierError("MP4: the last box extends to the end of the file; nothing may follow it")
        if _udta_label(data) is not None:
            raise CarrierError("MP4: a legacy moov/udta/AIGC box is present; re-mux the file without it")
        return data + _box(BOX_TYPE, label_json.encode("ascii"))
