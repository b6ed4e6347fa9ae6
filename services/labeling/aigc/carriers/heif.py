"""HEIF/HEIC/AVIF: the TC260 XMP property in an XMP item of the `meta` box (TC260-PG-20259A).

The label gets an item of its own: an `infe` (type `mime`, content type `application/rdf+xml`,
name `dsgov-aigc`) in `iinf`, an `iloc` entry addressing it by file offset (construction method
0; exiftool does not read XMP kept in `idat`), and its bytes in an `mdat` box of its own at the
end of the file. Growing `meta` moves the media data after it, so every `iloc` extent stored by
file offset past `meta` moves by the same amount; stripping removes exactly what was added and
moves them back, so the original bytes come back. An XMP item someone else wrote with a label in
it is refused (it cannot be rewritten in place).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from services.labeling.aigc.carriers import xmp
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel
from services.labeling.aigc.carriers.mp4 import Box, boxes
from services.labeling.aigc.label import AigcLabel

NAME: Final = b"dsgov-aigc"
MIME: Final = b"application/rdf+xml"
_BRANDS: Final = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"heim", b"heis", b"hevc")


@dataclass(frozen=True)
class Extent:
    """Where one extent's offset is written (for moving it) and what it holds."""

    offset_at: int  # byte position of the offset field in the file
    size: int  # width of the offset field
    offset: int
    length: int


@dataclass(frozen=True)
class Location:
    """One `iloc` item entry: its byte range and extents."""

    item: int
    start: int
    end: int
    method: int
    base: int
    base_at: int
    base_size: int
    extents: list[Extent]


@dataclass(frozen=True)
class Item:
    """One `infe` entry: id, type, name, content type, byte range of the infe box."""

    item: int
    type: bytes
    name: bytes
    content_type: bytes
    box: Box


@dataclass(frozen=True)
class Meta:
    """The parts of the top-level `meta` box this carrier reads or edits."""

    box: Box
    iinf: Box
    iloc: Box
    idat: Box | None
    items: list[Item]
    locations: list[Location]
    iloc_version: int


def _uint(data: bytes, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if pos + size > len(data):
        raise CarrierError("HEIF: truncated iloc")
    return int.from_bytes(data[pos : pos + size], "big")


def _iloc(data: bytes, box: Box) -> tuple[int, list[Location]]:
    version = data[box.body]
    if box.body + 8 > box.end:
        raise CarrierError("HEIF: truncated iloc")
    sizes = data[box.body + 4 : box.body + 6]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15 if version in (1, 2) else 0)
    pos = box.body + 6
    count_size = 2 if version < 2 else 4
    count = _uint(data, pos, count_size)
    pos += count_size
    out: list[Location] = []
    for _ in range(count):
        start = pos
        id_size = 2 if version < 2 else 4
        item = _uint(data, pos, id_size)
        pos += id_size
        method = _uint(data, pos, 2) & 15 if version in (1, 2) else 0
        pos += 2 if version in (1, 2) else 0
        pos += 2  # data_reference_index
        base, base_at = _uint(data, pos, base_size), pos
        pos += base_size
        extent_count = _uint(data, pos, 2)
        pos += 2
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset = _uint(data, pos, offset_size)
            extents.append(Extent(pos, offset_size, offset, _uint(data, pos + offset_size, length_size)))
            pos += offset_size + length_size
        if pos > box.end:
            raise CarrierError("HEIF: iloc runs past its box")
        out.append(Location(item, start, pos, method, base, base_at, base_size, extents))
    return version, out


def _cstr(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    stop = data.find(b"\0", pos, end)
    return (data[pos:end], end) if stop < 0 else (data[pos:stop], stop + 1)


def _items(data: bytes, box: Box) -> list[Item]:
    version = data[box.body]
    first = box.body + 4 + (2 if version == 0 else 4)
    out: list[Item] = []
    for infe in boxes(data, first, box.end):
        if infe.type != b"infe" or data[infe.body] < 2:
            continue
        wide = data[infe.body] >= 3
        pos = infe.body + 4
        item = _uint(data, pos, 4 if wide else 2)
        pos += (4 if wide else 2) + 2
        kind = data[pos : pos + 4]
        name, pos = _cstr(data, pos + 4, infe.end)
        content_type = _cstr(data, pos, infe.end)[0] if kind == b"mime" else b""
        out.append(Item(item, kind, name, content_type, infe))
    return out


def _meta(data: bytes) -> Meta:
    meta = next((b for b in boxes(data) if b.type == b"meta"), None)
    if meta is None:
        raise CarrierError("HEIF: no meta box")
    inner = {b.type: b for b in boxes(data, meta.body + 4, meta.end)}
    if b"iinf" not in inner or b"iloc" not in inner:
        raise CarrierError("HEIF: meta has no iinf or iloc")
    version, locations = _iloc(data, inner[b"iloc"])
    items = _items(data, inner[b"iinf"])
    return Meta(meta, inner[b"iinf"], inner[b"iloc"], inner.get(b"idat"), items, locations, version)


def _item_bytes(data: bytes, meta: Meta, location: Location) -> bytes:
    parts = []
    for e in location.extents:
        if location.method == 0:
            start = location.base + e.offset
        elif location.method == 1 and meta.idat is not None:
            start = meta.idat.body + location.base + e.offset
        else:
            raise CarrierError("HEIF: item data by reference is not supported")
        end = start + (e.length or len(data) - start)
        if end > len(data):
            raise CarrierError("HEIF: item data runs past the end of the file")
        parts.append(data[start:end])
    return b"".join(parts)


def _xmp_items(data: bytes, meta: Meta) -> list[tuple[Item, Location, bytes]]:
    where = {loc.item: loc for loc in meta.locations}
    out = []
    for item in meta.items:
        if item.type == b"mime" and item.content_type == MIME and item.item in where:
            out.append((item, where[item.item], _item_bytes(data, meta, where[item.item])))
    return out


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", len(payload) + 8, kind) + payload


def _grow(out: bytearray, box: Box, delta: int) -> None:
    if box.header != 8:
        raise CarrierError("HEIF: 64-bit box sizes in meta are not supported")
    (size,) = struct.unpack(">I", out[box.start : box.start + 4])
    out[box.start : box.start + 4] = struct.pack(">I", size + delta)


def _set_count(out: bytearray, pos: int, size: int, delta: int) -> None:
    value = int.from_bytes(out[pos : pos + size], "big") + delta
    out[pos : pos + size] = value.to_bytes(size, "big")


def _move_file_offsets(out: bytearray, meta: Meta, after: int, delta: int) -> None:
    """Extents stored by file offset (construction method 0) past `after` move by `delta`."""
    for loc in meta.locations:
        if loc.method != 0:
            continue
        if loc.base_size and loc.base >= after:
            _set_count(out, loc.base_at, loc.base_size, delta)
            continue
        for e in loc.extents:
            if loc.base + e.offset >= after:
                if e.size == 0:
                    raise CarrierError("HEIF: an extent without an offset field cannot be moved")
                _set_count(out, e.offset_at, e.size, delta)


class HeifCarrier:
    """HEIF/HEIC/AVIF still images."""

    name = "heif"

    def sniff(self, data: bytes) -> bool:
        """An `ftyp` box with a HEIF/AVIF brand."""
        return len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _BRANDS

    def find(self, data: bytes) -> list[FoundLabel]:
        """TC260 properties in XMP items."""
        meta = _meta(data)
        labels: list[FoundLabel] = []
        for item, _, packet in _xmp_items(data, meta):
            labels += xmp.find(packet, f"heif:meta/XMP-item-{item.item}")
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove our XMP item (infe, iloc entry, idat bytes); move file offsets back."""
        meta = _meta(data)
        ours = [(i, loc, p) for i, loc, p in _xmp_items(data, meta) if i.name == NAME]
        if not ours:
            return data
        item, loc, packet = ours[0]
        edits: list[Edit] = [
            Edit(item.box.start, item.box.end, b"", meta.iinf, _count_field(data, meta.iinf, meta), -1),
            Edit(loc.start, loc.end, b"", meta.iloc, _count_field(data, meta.iloc, meta), -1),
        ]
        holder = next(
            (b for b in boxes(data) if b.type == b"mdat" and b.body == loc.base + loc.extents[0].offset), None
        )
        if holder is not None and holder.end - holder.body == len(packet):
            edits.append(Edit(holder.start, holder.end, b"", None, None, 0))  # the mdat that holds only it
        return _apply(data, meta, edits)

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """An XMP item of our own, its bytes in idat (construction method 1)."""
        meta = _meta(data)
        if any(xmp.has_label(p) for _, _, p in _xmp_items(data, meta)):
            raise CarrierError("HEIF: another tool's XMP item holds a label; it cannot be replaced in place")
        packet = xmp.packet(label.to_bare_json())
        new_id = max([0, *(i.item for i in meta.items), *(loc.item for loc in meta.locations)]) + 1
        if new_id > 0xFFFF:
            raise CarrierError("HEIF: too many items")
        infe = _box(
            b"infe", b"\x02\0\0\0" + struct.pack(">HH", new_id, 0) + b"mime" + NAME + b"\0" + MIME + b"\0"
        )
        sizes = data[meta.iloc.body + 4 : meta.iloc.body + 6]
        offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
        if offset_size == 0 or length_size == 0:
            raise CarrierError("HEIF: iloc without offset/length fields is not supported")
        # The packet goes into an mdat box of its own at the end of the file, addressed by file
        # offset (construction method 0): exiftool does not read XMP stored in idat.
        growth = len(infe) + len(_entry(meta, new_id, 0, len(packet), sizes))
        at = len(data) + growth + 8
        if at + len(packet) >= 1 << (8 * offset_size):
            raise CarrierError("HEIF: the file is too large for the iloc offset fields")
        edits = [
            Edit(meta.iinf.end, meta.iinf.end, infe, meta.iinf, _count_field(data, meta.iinf, meta), 1),
            Edit(
                meta.iloc.end,
                meta.iloc.end,
                _entry(meta, new_id, at, len(packet), sizes),
                meta.iloc,
                _count_field(data, meta.iloc, meta),
                1,
            ),
            Edit(len(data), len(data), _box(b"mdat", packet), None, None, 0),
        ]
        return _apply(data, meta, edits)


def _entry(meta: Meta, item: int, offset: int, length: int, sizes: bytes) -> bytes:
    """An iloc entry: one extent at file `offset` (construction method 0)."""
    offset_size, length_size, base_size, index_size = (
        sizes[0] >> 4,
        sizes[0] & 15,
        sizes[1] >> 4,
        sizes[1] & 15,
    )
    return b"".join(
        (
            item.to_bytes(2 if meta.iloc_version < 2 else 4, "big"),
            b"\0\0" if meta.iloc_version else b"",  # reserved, construction method 0 (file offset)
            b"\0\0",  # data reference index: this file
            b"\0" * base_size,
            b"\0\x01",  # one extent
            b"\0" * index_size,
            offset.to_bytes(offset_size, "big"),
            length.to_bytes(length_size, "big"),
        )
    )


@dataclass(frozen=True)
class Edit:
    """Replace data[start:end] with `new`; grow `parent` and bump its entry count by `count`."""

    start: int
    end: int
    new: bytes
    parent: Box | None
    count_field: tuple[int, int] | None  # (position, width) of the parent's entry count
    count: int


def _count_field(data: bytes, box: Box, meta: Meta) -> tuple[int, int]:
    if box.type == b"iinf":
        return box.body + 4, 2 if data[box.body] == 0 else 4
    return box.body + 6, 2 if meta.iloc_version < 2 else 4


def _apply(data: bytes, meta: Meta, edits: list[Edit]) -> bytes:
    """Apply the edits inside meta.

    Fixed-width fields (file offsets, box sizes, entry counts) are rewritten in place first, while
    every position is still the original one; then bytes are inserted or cut, highest position
    first, so lower positions stay valid.
    """
    delta = sum(len(e.new) - (e.end - e.start) for e in edits if e.start < meta.box.end)  # meta's growth
    out = bytearray(data)
    _move_file_offsets(out, meta, meta.box.end, delta)
    for e in edits:
        if e.parent is not None:
            _grow(out, e.parent, len(e.new) - (e.end - e.start))
        if e.count_field is not None:
            _set_count(out, *e.count_field, e.count)
    _grow(out, meta.box, delta)
    for e in sorted(edits, key=lambda e: -e.start):
        out[e.start : e.end] = e.new
    return bytes(out)
