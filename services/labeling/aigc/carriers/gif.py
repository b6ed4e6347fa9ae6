"""GIF: the TC260 XMP property in an XMP application extension (TC260-PG-20259A).

The extension (`21 FF 0B "XMP DataXMP"`, the packet, the 258-byte "magic trailer" the XMP
specification defines so that GIF readers skip the packet as sub-blocks) goes right after the
global colour table, or the property is added to the file's existing XMP extension. Stripping
removes exactly that. A GIF87a file (which cannot hold extensions) is marked GIF89a when the
label goes in, and back to GIF87a when stripping leaves no extension at all — what encoders such
as Pillow do (they write 87a exactly when there is no extension).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from services.labeling.aigc.carriers import xmp
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel
from services.labeling.aigc.label import AigcLabel

APP_ID: Final = b"XMP DataXMP"
MAGIC: Final = b"\x01" + bytes(range(0xFF, -1, -1)) + b"\x00"  # 258 bytes, ends with the terminator
_HEAD: Final = b"\x21\xff\x0b" + APP_ID


@dataclass(frozen=True)
class Block:
    """An extension or image block: its introducer byte and byte range [start, end)."""

    kind: int
    start: int
    end: int


def _sub_blocks_end(data: bytes, pos: int) -> int:
    while True:
        if pos >= len(data):
            raise CarrierError("GIF: truncated data sub-blocks")
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def _header_end(data: bytes) -> int:
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise CarrierError("GIF: no GIF87a/GIF89a header")
    packed = data[10]
    return 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)


def blocks(data: bytes) -> list[Block]:
    """The blocks after the header and global colour table, up to the trailer."""
    pos = _header_end(data)
    found_: list[Block] = []
    while pos < len(data) and data[pos] != 0x3B:
        kind = data[pos]
        if kind == 0x21:
            end = _sub_blocks_end(data, pos + 2)
        elif kind == 0x2C:
            if pos + 10 > len(data):
                raise CarrierError("GIF: truncated image descriptor")
            packed = data[pos + 9]
            at = pos + 10 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)
            end = _sub_blocks_end(data, at + 1)
        else:
            raise CarrierError(f"GIF: unknown block 0x{kind:02x} at byte {pos}")
        found_.append(Block(kind, pos, end))
        pos = end
    return found_


def _xmp(data: bytes, block: Block) -> bytes | None:
    if not data.startswith(_HEAD, block.start) or not data.endswith(MAGIC, 0, block.end):
        return None
    return data[block.start + len(_HEAD) : block.end - len(MAGIC)]


def _extension(packet: bytes) -> bytes:
    return _HEAD + packet + MAGIC


class GifCarrier:
    """GIF images."""

    name = "gif"

    def sniff(self, data: bytes) -> bool:
        """GIF header."""
        return data[:6] in (b"GIF87a", b"GIF89a")

    def find(self, data: bytes) -> list[FoundLabel]:
        """TC260 properties in XMP application extensions."""
        labels: list[FoundLabel] = []
        for b in blocks(data):
            packet = _xmp(data, b)
            if packet is not None:
                labels += xmp.find(packet, "gif:XMP-DataXMP")
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove the property (the extension when nothing else is in it; 87a again when none is left)."""
        out: list[bytes] = []
        pos = 0
        for b in blocks(data):
            packet = _xmp(data, b)
            if packet is None or not xmp.has_label(packet):
                continue
            clean = xmp.strip(packet)
            out += [data[pos : b.start], b"" if clean is None else _extension(clean)]
            pos = b.end
        if pos == 0:
            return data
        clean = b"".join(out) + data[pos:]
        if not any(b.kind == 0x21 for b in blocks(clean)):
            clean = b"GIF87a" + clean[6:]  # no extension left: the 87a this library upgraded
        return clean

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Into the XMP extension, or a new one after the global colour table."""
        data = b"GIF89a" + data[6:]  # extensions need 89a
        payload = label.to_bare_json()
        for b in blocks(data):
            packet = _xmp(data, b)
            if packet is not None:
                return data[: b.start] + _extension(xmp.insert(packet, payload)) + data[b.end :]
        at = _header_end(data)
        return data[:at] + _extension(xmp.packet(payload)) + data[at:]
