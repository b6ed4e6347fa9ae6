"""MP4, MOV, M4A: `moov/udta/meta` with `keys` entry `mdta` `AIGC` and its `ilst` item (PG-20257A).

Byte for byte what `ffmpeg -movflags use_metadata_tags -metadata AIGC=…` writes, so ffprobe,
exiftool (`Keys:AIGC`) and the public checkers read it.

The label gets a `meta` box of its own (handler `mdta`, one key) at the end of `moov/udta` (a new
`udta` when there is none). Inserting bytes into `moov` moves the media data when `moov` comes
first ("fast start"), so every `stco`/`co64` chunk offset past the insertion point moves by the
same amount; stripping removes exactly that box and moves them back, so the original bytes come
back and the content hash stays the SHA-256 of the file the platform reported. mutagen rewrites
`moov` when it saves and writes only iTunes-style (`mdir`) tags, so it is used where it fits:
finding and removing iTunes freeform `AIGC` tags other tools wrote.

Also read, and replaced on embed (GB-I9): an `AIGC` key among other keys in someone else's `mdta`
meta (the key and its item are removed), a `moov/udta/AIGC` box, the top-level `AIGC` box dsgov
wrote before, iTunes `----:…:AIGC` tags. Fragmented files whose `moov` precedes a `moof` are
refused (their absolute offsets are not rewritten).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Final

from mutagen import MutagenError
from mutagen.mp4 import MP4, MP4Tags

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

KEY: Final = b"AIGC"
BOX_TYPE: Final = b"AIGC"  # legacy top-level / udta box
_CONTAINERS: Final = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta"})
_BRANDS: Final = (b"ftyp", b"moov", b"wide", b"free", b"mdat", b"skip")


@dataclass(frozen=True)
class Box:
    """A box: type and byte range [start, end), header length."""

    type: bytes
    start: int
    end: int
    header: int

    @property
    def body(self) -> int:
        """Where the payload starts."""
        return self.start + self.header

    def payload(self, data: bytes) -> bytes:
        """The box content after its header."""
        return data[self.body : self.end]


def boxes(data: bytes | bytearray, start: int = 0, end: int | None = None) -> list[Box]:
    """The boxes in data[start:end] (the top level by default)."""
    stop = len(data) if end is None else end
    found_: list[Box] = []
    pos = start
    while pos < stop:
        if pos + 8 > stop:
            raise CarrierError(f"MP4: truncated box header at byte {pos}")
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > stop:
                raise CarrierError(f"MP4: truncated large box header at byte {pos}")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            header = 16
        elif size == 0:
            size = stop - pos  # extends to the end of its parent
        if size < header or pos + size > stop:
            raise CarrierError(f"MP4: box {kind!r} at byte {pos} runs past its end")
        found_.append(Box(kind, pos, pos + size, header))
        pos += size
    return found_


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", len(payload) + 8, kind) + payload


def _child(data: bytes, parent: Box, kind: bytes) -> Box | None:
    return next((b for b in boxes(data, parent.body, parent.end) if b.type == kind), None)


def meta_box(payload: str) -> bytes:
    """The `meta` box this library writes: hdlr `mdta`, keys [`mdta` AIGC], ilst item 1 (UTF-8)."""
    hdlr = _box(b"hdlr", b"\0" * 8 + b"mdta" + b"\0" * 12 + b"\0")
    keys = _box(b"keys", b"\0" * 4 + struct.pack(">I", 1) + struct.pack(">I", 8 + len(KEY)) + b"mdta" + KEY)
    data = _box(b"data", struct.pack(">II", 1, 0) + payload.encode("ascii"))
    ilst = _box(b"ilst", _box(struct.pack(">I", 1), data))
    return _box(b"meta", b"\0" * 4 + hdlr + keys + ilst)


@dataclass(frozen=True)
class MdtaMeta:
    """One `meta` box with handler `mdta`: its keys (1-based) and item values."""

    box: Box
    keys: list[bytes]
    items: dict[int, list[bytes]]

    def aigc_indexes(self) -> list[int]:
        """1-based indexes of the AIGC keys."""
        return [i for i, k in enumerate(self.keys, 1) if k.upper() == KEY]


def _mdta_meta(data: bytes, meta: Box) -> MdtaMeta | None:
    inner = boxes(data, meta.body + 4, meta.end)  # meta is a full box
    hdlr = next((b for b in inner if b.type == b"hdlr"), None)
    if hdlr is None or data[hdlr.body + 8 : hdlr.body + 12] != b"mdta":
        return None
    keys: list[bytes] = []
    items: dict[int, list[bytes]] = {}
    for b in inner:
        if b.type == b"keys":
            for entry in boxes(data, b.body + 8, b.end):  # after version/flags and entry_count
                keys.append(data[entry.body : entry.end])  # namespace is the entry's "type"
        elif b.type == b"ilst":
            for item in boxes(data, b.body, b.end):
                (index,) = struct.unpack(">I", item.type)
                values = [d.payload(data)[8:] for d in boxes(data, item.body, item.end) if d.type == b"data"]
                items[index] = values
    return MdtaMeta(meta, keys, items)


def _metas(data: bytes) -> Iterator[tuple[list[Box], MdtaMeta]]:
    """Every mdta meta in moov/udta and moov, with its ancestors (outermost first)."""
    for moov in (b for b in boxes(data) if b.type == b"moov"):
        for child in boxes(data, moov.body, moov.end):
            if child.type == b"meta":
                parsed = _mdta_meta(data, child)
                if parsed:
                    yield [moov], parsed
            elif child.type == b"udta":
                for meta in (b for b in boxes(data, child.body, child.end) if b.type == b"meta"):
                    parsed = _mdta_meta(data, meta)
                    if parsed:
                        yield [moov, child], parsed


def _udta_boxes(data: bytes) -> Iterator[tuple[list[Box], Box]]:
    """`moov/udta/AIGC` boxes other tools wrote."""
    for moov in (b for b in boxes(data) if b.type == b"moov"):
        for udta in (b for b in boxes(data, moov.body, moov.end) if b.type == b"udta"):
            for b in boxes(data, udta.body, udta.end):
                if b.type.upper() == BOX_TYPE:
                    yield [moov, udta], b


def _set_size(data: bytearray, box: Box, delta: int) -> None:
    if box.header == 16:
        (size,) = struct.unpack(">Q", data[box.start + 8 : box.start + 16])
        data[box.start + 8 : box.start + 16] = struct.pack(">Q", size + delta)
        return
    (size,) = struct.unpack(">I", data[box.start : box.start + 4])
    if size == 0:
        return  # "to the end of the file": nothing to update
    if size + delta > 0xFFFFFFFF:
        raise CarrierError("MP4: the box would outgrow a 32-bit size")
    data[box.start : box.start + 4] = struct.pack(">I", size + delta)


def _shift_chunk_offsets(data: bytearray, at: int, delta: int) -> None:
    """Move every stco/co64 entry that points at or past `at` (old coordinates) by `delta`."""
    for table in list(_offset_tables(data)):
        wide = table.type == b"co64"
        (count,) = struct.unpack(">I", data[table.body + 4 : table.body + 8])
        fmt, width = (">Q", 8) if wide else (">I", 4)
        pos = table.body + 8
        if pos + count * width > table.end:
            raise CarrierError("MP4: chunk offset table runs past its box")
        for _ in range(count):
            (value,) = struct.unpack(fmt, data[pos : pos + width])
            if value >= at:
                if not wide and value + delta > 0xFFFFFFFF:
                    raise CarrierError("MP4: a 32-bit chunk offset would overflow")
                data[pos : pos + width] = struct.pack(fmt, value + delta)
            pos += width


def _offset_tables(data: bytes | bytearray) -> Iterator[Box]:
    def walk(parent_start: int, parent_end: int) -> Iterator[Box]:
        for b in boxes(data, parent_start, parent_end):
            if b.type in (b"stco", b"co64"):
                yield b
            elif b.type in _CONTAINERS and b.type != b"udta":
                yield from walk(b.body, b.end)

    for moov in (b for b in boxes(data) if b.type == b"moov"):
        yield from walk(moov.body, moov.end)


def _splice(data: bytes, ancestors: list[Box], start: int, end: int, new: bytes) -> bytes:
    """Replace data[start:end] (inside `ancestors`, the first being moov) with `new`.

    Only the moov box is rebuilt: the sizes of the enclosing boxes and the chunk offsets (which
    live in moov) follow; the media data is copied once, untouched.
    """
    moov = ancestors[0]
    delta = len(new) - (end - start)
    if delta and _moof_after(data, moov):
        raise CarrierError("MP4: fragmented file with moov before moof; its offsets cannot be moved")
    region = bytearray(data[moov.start : moov.end])
    region[start - moov.start : end - moov.start] = new
    for box in ancestors:
        _set_size(region, replace(box, start=box.start - moov.start, end=box.end - moov.start), delta)
    if delta:
        _shift_chunk_offsets(region, end if delta < 0 else start, delta)
    return data[: moov.start] + bytes(region) + data[moov.end :]


def _moof_after(data: bytes, moov: Box) -> bool:
    return any(b.type == b"moof" and b.start > moov.start for b in boxes(data))


def _without_keys(data: bytes, meta: MdtaMeta, drop: list[int]) -> bytes:
    """The meta box rebuilt without the `drop` keys and their items (indexes renumbered)."""
    kept = [i for i in range(1, len(meta.keys) + 1) if i not in drop]
    parts: list[bytes] = []
    for b in boxes(data, meta.box.body + 4, meta.box.end):
        if b.type == b"keys":
            entries = b"".join(struct.pack(">I", 4 + len(meta.keys[i - 1])) + meta.keys[i - 1] for i in kept)
            parts.append(_box(b"keys", b"\0" * 4 + struct.pack(">I", len(kept)) + entries))
        elif b.type == b"ilst":
            items = b"".join(
                _box(
                    struct.pack(">I", new),
                    b"".join(_box(b"data", struct.pack(">II", 1, 0) + v) for v in meta.items.get(old, [])),
                )
                for new, old in enumerate(kept, 1)
                if old in meta.items
            )
            parts.append(_box(b"ilst", items))
        else:
            parts.append(data[b.start : b.end])
    return _box(b"meta", data[meta.box.body : meta.box.body + 4] + b"".join(parts))


def _tags(data: bytes) -> MP4Tags | None:
    try:
        tags = MP4(io.BytesIO(data)).tags  # type: ignore[no-untyped-call]
    except (MutagenError, struct.error, ValueError):
        return None
    return tags


def _itunes_labels(tags: MP4Tags | None) -> list[tuple[str, str]]:
    if tags is None:
        return []
    labels: list[tuple[str, str]] = []
    for key, values in tags.items():  # type: ignore[no-untyped-call]
        if "aigc" in key.lower():
            for value in values:
                text = bytes(value).decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                labels.append((key, text))
    return labels


class Mp4Carrier:
    """MP4, MOV and M4A files."""

    name = "mp4"

    def sniff(self, data: bytes) -> bool:
        """An `ftyp` box first (QuickTime files may open with `wide`/`free`/`moov`/`mdat`)."""
        return len(data) >= 12 and data[4:8] in _BRANDS and (data[4:8] == b"ftyp" or b"moov" in data[:64])

    def find(self, data: bytes) -> list[FoundLabel]:
        """Mdta keys `AIGC`, then legacy carriers: udta/AIGC box, top-level AIGC box, iTunes tags."""
        labels: list[FoundLabel] = []
        for _, meta in _metas(data):
            for index in meta.aigc_indexes():
                for value in meta.items.get(index, []):
                    labels.append(
                        found("mp4:moov/udta/meta/keys:mdta:AIGC", value.decode("utf-8", "replace"))
                    )
        for _, box in _udta_boxes(data):
            labels.append(
                found("mp4:moov/udta/AIGC", box.payload(data).decode("utf-8", "replace"), legacy=True)
            )
        for b in boxes(data):
            if b.type == BOX_TYPE:
                labels.append(found("mp4:AIGC-box", b.payload(data).decode("utf-8", "replace"), legacy=True))
        labels += [found(f"mp4:ilst:{k}", t, legacy=True) for k, t in _itunes_labels(_tags(data))]
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove every label; a meta (and a udta) left empty goes too, so an embed is undone exactly."""
        top = boxes(data)
        if any(b.type == BOX_TYPE for b in top):  # dsgov's old top-level box
            data = b"".join(data[b.start : b.end] for b in top if b.type != BOX_TYPE)
        clean = data
        clean = self._strip_one_at_a_time(clean)
        tags = _tags(clean)
        legacy = [k for k, _ in _itunes_labels(tags)]
        if tags is not None and legacy:
            for key in legacy:
                del tags[key]  # type: ignore[no-untyped-call]
            buffer = io.BytesIO(clean)
            tags.save(buffer)
            clean = buffer.getvalue()
        return clean

    def _strip_one_at_a_time(self, data: bytes) -> bytes:
        """Each removal changes offsets, so re-read the file after each one."""
        for _ in range(64):
            step = self._strip_step(data)
            if step is None:
                return data
            data = step
        raise CarrierError("MP4: too many labels")

    def _strip_step(self, data: bytes) -> bytes | None:
        for ancestors, meta in _metas(data):
            drop = meta.aigc_indexes()
            if not drop:
                continue
            if len(drop) < len(meta.keys):
                return _splice(data, ancestors, meta.box.start, meta.box.end, _without_keys(data, meta, drop))
            udta = ancestors[-1] if ancestors[-1].type == b"udta" else None
            if udta is not None and boxes(data, udta.body, udta.end) == [meta.box]:
                return _splice(data, ancestors[:-1], udta.start, udta.end, b"")
            return _splice(data, ancestors, meta.box.start, meta.box.end, b"")
        for ancestors, box in _udta_boxes(data):
            udta = ancestors[-1]
            if boxes(data, udta.body, udta.end) == [box]:  # a udta left empty goes too, as for ours
                return _splice(data, ancestors[:-1], udta.start, udta.end, b"")
            return _splice(data, ancestors, box.start, box.end, b"")
        return None

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """A meta box of our own at the end of moov/udta (a new udta at the end of moov)."""
        moov = next((b for b in boxes(data) if b.type == b"moov"), None)
        if moov is None:
            raise CarrierError("MP4: no moov box")
        meta = meta_box(label.to_bare_json())
        udta = _child(data, moov, b"udta")
        if udta is None:
            return _splice(data, [moov], moov.end, moov.end, _box(b"udta", meta))
        return _splice(data, [moov, udta], udta.end, udta.end, meta)
