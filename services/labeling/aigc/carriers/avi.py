"""AVI: an `AIGC` entry in a `LIST`/`INFO` chunk holding the bare 7-field object (TC260-PG-20257A).

A `LIST INFO` chunk with that one entry (a NUL-terminated string, as INFO entries are) is
appended at the end of the RIFF `AVI ` form, where nothing refers to its offset: stream data,
`idx1` and OpenDML indexes keep their positions. ffprobe reads INFO lists wherever they are
(tag `AIGC`); exiftool shows the entry with `-u`. Stripping removes exactly that list, so the
original bytes come back; an `AIGC` entry in another INFO list (someone else's) is removed from
it. Files of more than one RIFF form (OpenDML `AVIX` extensions) are refused for writing.
"""

from __future__ import annotations

import struct
from typing import Final

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.carriers.wav import Chunk, chunks
from services.labeling.aigc.label import AigcLabel

ENTRY: Final = b"AIGC"
HEADER: Final = 12


def _end(data: bytes) -> int:
    if len(data) < HEADER or data[:4] != b"RIFF" or data[8:12] != b"AVI ":
        raise CarrierError("AVI: not a RIFF AVI file")
    size: int = struct.unpack("<I", data[4:8])[0]
    return min(8 + size, len(data))


def _entries(data: bytes, lst: Chunk) -> list[Chunk]:
    if lst.id != b"LIST" or data[lst.start + 8 : lst.start + 12] != b"INFO":
        return []
    return [c for c in chunks(data, lst.start + 12, lst.start + 8 + lst.size) if c.id.upper() == ENTRY]


def _sub(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


class AviCarrier:
    """RIFF AVI files."""

    name = "avi"

    def sniff(self, data: bytes) -> bool:
        """RIFF/AVI header."""
        return data[:4] == b"RIFF" and data[8:12] == b"AVI "

    def find(self, data: bytes) -> list[FoundLabel]:
        """AIGC entries of INFO lists."""
        labels: list[FoundLabel] = []
        for c in chunks(data, HEADER, _end(data)):
            for e in _entries(data, c):
                labels.append(
                    found("avi:LIST-INFO:AIGC", e.body(data).rstrip(b"\0").decode("utf-8", "replace"))
                )
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove AIGC entries; an INFO list left empty goes too. The RIFF size follows."""
        out = [data[:HEADER]]
        pos = HEADER
        for c in chunks(data, HEADER, _end(data)):
            drop = _entries(data, c)
            if not drop:
                continue
            out.append(data[pos : c.start])
            rest = b"".join(
                data[e.start : e.end]
                for e in chunks(data, c.start + 12, c.start + 8 + c.size)
                if e not in drop
            )
            if rest:
                out.append(_sub(b"LIST", b"INFO" + rest))
            pos = c.end
        if pos == HEADER:
            return data
        out.append(data[pos:])
        clean = b"".join(out)
        return clean[:4] + struct.pack("<I", _end(data) - 8 - (len(data) - len(clean))) + clean[8:]

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Append `LIST INFO AIGC` at the end of the RIFF form."""
        end = _end(data)
        chunks(data, HEADER, end)  # refuse damaged files
        if data[end:].startswith(b"RIFF"):
            raise CarrierError("AVI: OpenDML files with AVIX extensions are not supported for writing")
        added = _sub(b"LIST", b"INFO" + _sub(ENTRY, label.to_bare_json().encode("ascii") + b"\0"))
        out = data[:end] + added + data[end:]
        return out[:4] + struct.pack("<I", end - 8 + len(added)) + out[8:]
