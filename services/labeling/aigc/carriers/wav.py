"""WAV: a RIFF chunk `AIGC` holding the bare 7-field object (TC260-PG-202510A), at the end of the form.

Chunks are word-aligned (a pad byte follows odd-sized data). The RIFF size field grows by exactly
the bytes added and shrinks by exactly the bytes removed, so stripping restores the original.
Legacy carriers also recognised: other chunks whose id is `aigc` in any case, and `LIST`/`INFO`
sub-chunks holding an AIGC label.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

CHUNK_ID: Final = b"AIGC"
HEADER: Final = 12  # "RIFF" size "WAVE"


@dataclass(frozen=True)
class Chunk:
    """One chunk: id and the byte range [start, end) including header and pad byte."""

    id: bytes
    start: int
    end: int
    size: int

    def body(self, data: bytes) -> bytes:
        """The chunk's data (without the pad byte)."""
        return data[self.start + 8 : self.start + 8 + self.size]


def _riff_end(data: bytes) -> int:
    if len(data) < HEADER or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise CarrierError("WAV: not a RIFF WAVE file")
    size: int = struct.unpack("<I", data[4:8])[0]
    return min(8 + size, len(data))


def chunks(data: bytes, start: int, end: int) -> list[Chunk]:
    """The chunks in data[start:end]."""
    kept: list[Chunk] = []
    pos = start
    while pos + 8 <= end:
        cid = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        stop = pos + 8 + size + (size & 1)
        if pos + 8 + size > end:
            raise CarrierError(f"WAV: chunk {cid!r} at byte {pos} runs past the end of the form")
        kept.append(Chunk(cid, pos, min(stop, end), size))
        pos = stop
    return kept


def _chunk(cid: bytes, body: bytes) -> bytes:
    return cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) & 1 else b"")


def _info_labels(data: bytes, chunk: Chunk) -> list[Chunk]:
    if chunk.id != b"LIST" or data[chunk.start + 8 : chunk.start + 12] != b"INFO":
        return []
    subs = chunks(data, chunk.start + 12, chunk.start + 8 + chunk.size)
    return [s for s in subs if s.id == CHUNK_ID or b'"AIGC"' in s.body(data) or b'"Label"' in s.body(data)]


def _set_size(data: bytes, delta: int) -> bytes:
    (size,) = struct.unpack("<I", data[4:8])
    return data[:4] + struct.pack("<I", size + delta) + data[8:]


class WavCarrier:
    """RIFF WAVE files."""

    name = "wav"

    def sniff(self, data: bytes) -> bool:
        """RIFF/WAVE header."""
        return data[:4] == b"RIFF" and data[8:12] == b"WAVE"

    def find(self, data: bytes) -> list[FoundLabel]:
        """AIGC chunks and INFO sub-chunks, in file order."""
        labels: list[FoundLabel] = []
        for c in chunks(data, HEADER, _riff_end(data)):
            if c.id.lower() == b"aigc":
                text = c.body(data).rstrip(b"\0").decode("utf-8", "replace")
                labels.append(found(f"wav:{c.id.decode('latin-1')}", text, legacy=c.id != CHUNK_ID))
            for sub in _info_labels(data, c):
                text = sub.body(data).rstrip(b"\0").decode("utf-8", "replace")
                labels.append(found(f"wav:LIST-INFO:{sub.id.decode('latin-1')}", text, legacy=True))
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove AIGC chunks and labeled INFO sub-chunks; adjust the sizes by what was removed."""
        out: list[bytes] = [data[:HEADER]]
        removed = 0
        pos = HEADER
        for c in chunks(data, HEADER, _riff_end(data)):
            subs = _info_labels(data, c)
            if c.id.lower() != b"aigc" and not subs:
                continue
            out.append(data[pos : c.start])
            if subs:  # keep the LIST, minus the labeled sub-chunks
                kept = _chunk(c.id, data[c.start + 8 : c.start + 12] + _between(data, c, subs))
                out.append(kept)
                removed += (c.end - c.start) - len(kept)
            else:
                removed += c.end - c.start
            pos = c.end
        if removed == 0:
            return data
        out.append(data[pos:])
        return _set_size(b"".join(out), -removed)

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Append the AIGC chunk at the end of the RIFF form."""
        end = _riff_end(data)
        chunks(data, HEADER, end)  # refuse damaged files
        added = _chunk(CHUNK_ID, label.to_bare_json().encode("ascii"))
        return _set_size(data[:end] + added + data[end:], len(added))


def _between(data: bytes, parent: Chunk, drop: list[Chunk]) -> bytes:
    """The LIST body after its form type, without the `drop` sub-chunks."""
    parts: list[bytes] = []
    pos = parent.start + 12
    for s in drop:
        parts.append(data[pos : s.start])
        pos = s.end
    parts.append(data[pos : parent.start + 8 + parent.size])
    return b"".join(parts)
