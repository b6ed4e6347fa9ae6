"""MP3: an ID3v2 `TXXX` frame with description `AIGC` holding the bare 7-field object (TC260-PG-202510A).

A file without an ID3v2 tag gets a new ID3v2.4 tag holding only that frame; a file with a v2.3 or
v2.4 tag gets the frame as the tag's first frame and the tag size grows by exactly the frame's
length. Stripping removes exactly that (the whole tag when nothing else is in it), so the original
bytes come back. mutagen reads the tag (`find`); the splice is done here because mutagen rewrites
the whole tag (version, padding, frame order) when it saves, which would break the content hash.
Unsynchronised tags, tags with an extended header and ID3v2.2 are refused for writing.
"""

from __future__ import annotations

import io
import struct
from typing import Final

from mutagen import MutagenError
from mutagen.id3 import ID3, ID3NoHeaderError

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

DESCRIPTION: Final = "AIGC"
HEADER: Final = 10


def _syncsafe(value: int) -> bytes:
    return bytes(((value >> shift) & 0x7F) for shift in (21, 14, 7, 0))


def _unsyncsafe(raw: bytes) -> int:
    return (raw[0] << 21) | (raw[1] << 14) | (raw[2] << 7) | raw[3]


def _tag(data: bytes) -> tuple[int, int, int] | None:
    """(major version, flags, tag size without header) of a leading ID3v2 tag, or None."""
    if not data.startswith(b"ID3") or len(data) < HEADER:
        return None
    return data[3], data[5], _unsyncsafe(data[6:10])


def frame(payload: str, version: int) -> bytes:
    """A TXXX frame (UTF-8) for ID3v2.`version`."""
    body = b"\x03" + DESCRIPTION.encode("ascii") + b"\0" + payload.encode("ascii")
    size = _syncsafe(len(body)) if version == 4 else struct.pack(">I", len(body))
    return b"TXXX" + size + b"\0\0" + body


def _is_label_frame(body: bytes) -> bool:
    encoding, rest = body[:1], body[1:]
    if encoding in (b"\x01", b"\x02"):  # UTF-16: description ends with two zero bytes
        end = next((i for i in range(0, len(rest) - 1, 2) if rest[i : i + 2] == b"\0\0"), len(rest))
        desc = rest[:end].decode("utf-16" if encoding == b"\x01" else "utf-16-be", "replace")
    else:
        desc = rest.split(b"\0", 1)[0].decode("latin-1")
    return desc.lstrip("\ufeff").upper() == DESCRIPTION


def _frames(data: bytes, version: int, size: int) -> list[tuple[int, int, bool]]:
    """(start, end, is a label) of each frame in the tag, stopping at padding."""
    spans: list[tuple[int, int, bool]] = []
    pos, end = HEADER, HEADER + size
    while pos + 10 <= end and data[pos] != 0:
        raw = data[pos + 4 : pos + 8]
        length = _unsyncsafe(raw) if version == 4 else struct.unpack(">I", raw)[0]
        stop = pos + 10 + length
        if stop > end:
            raise CarrierError(f"MP3: ID3 frame at byte {pos} runs past the tag")
        spans.append((pos, stop, data[pos : pos + 4] == b"TXXX" and _is_label_frame(data[pos + 10 : stop])))
        pos = stop
    return spans


def _writable(data: bytes) -> tuple[int, int, int] | None:
    tag = _tag(data)
    if tag is None:
        return None
    version, flags, size = tag
    if version not in (3, 4):
        raise CarrierError(f"MP3: ID3v2.{version} tags are not supported for writing")
    if flags & 0xC0:
        raise CarrierError("MP3: unsynchronised ID3 tags or tags with an extended header are not supported")
    if HEADER + size > len(data):
        raise CarrierError("MP3: the ID3 tag runs past the end of the file")
    return tag


class Mp3Carrier:
    """MPEG audio with an optional leading ID3v2 tag."""

    name = "mp3"

    def sniff(self, data: bytes) -> bool:
        """An ID3v2 tag, or an MPEG audio frame sync at the start."""
        return data.startswith(b"ID3") or (len(data) > 2 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0)

    def find(self, data: bytes) -> list[FoundLabel]:
        """TXXX frames described AIGC (any case), read with mutagen."""
        try:
            tags = ID3(io.BytesIO(data))  # type: ignore[no-untyped-call]
        except ID3NoHeaderError:
            return []
        except (MutagenError, struct.error, ValueError) as exc:
            raise CarrierError(f"MP3: {exc}") from None
        return [
            found(f"mp3:ID3v2.{tags.version[1]}:TXXX:{f.desc}", str(f.text[0]) if f.text else "")
            for f in tags.getall("TXXX")  # type: ignore[no-untyped-call]
            if str(f.desc).upper() == DESCRIPTION
        ]

    def strip(self, data: bytes) -> bytes:
        """Remove the label frames; the whole tag when it held nothing else."""
        tag = _writable(data)
        if tag is None:
            return data
        version, _, size = tag
        spans = _frames(data, version, size)
        drop = [(s, e) for s, e, label in spans if label]
        if not drop:
            return data
        removed = sum(e - s for s, e in drop)
        if removed == size:  # nothing else, no padding: the tag was ours alone
            return data[HEADER + size :]
        body = bytearray(data[HEADER : HEADER + size])
        for s, e in reversed(drop):
            del body[s - HEADER : e - HEADER]
        return data[:6] + _syncsafe(size - removed) + bytes(body) + data[HEADER + size :]

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """First frame of the existing tag, or a new ID3v2.4 tag."""
        tag = _writable(data)
        if tag is None:
            added = frame(label.to_bare_json(), 4)
            return b"ID3\x04\x00\x00" + _syncsafe(len(added)) + added + data
        version, _, size = tag
        added = frame(label.to_bare_json(), version)
        return data[:6] + _syncsafe(size + len(added)) + added + data[HEADER:]
