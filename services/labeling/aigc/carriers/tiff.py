"""TIFF: the TC260 XMP property in IFD0 tag 700 (XMP, 0x02BC) (TC260-PG-20259A).

TIFF data are addressed by absolute offsets, so nothing is moved: the XMP packet (the file's own
with the property added, or a new one) and a copy of IFD0 whose tag 700 points at it are
appended to the file, the header is pointed at the new IFD0, and a 29-byte record of the
original length and IFD0 offset closes the file. Stripping reads that record, cuts the file back
and restores the header, so the original bytes come back. A label someone else wrote into the
original XMP is removed by an update of the same kind that stripping does not undo. BigTIFF is
refused.
"""

from __future__ import annotations

import struct
from typing import Final

from services.labeling.aigc.carriers import xmp
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel
from services.labeling.aigc.label import AigcLabel

XMP_TAG: Final = 700
RECORD: Final = b"DSGOV-AIGC-TIFF/"  # + kind (A: ours, undone by strip; C: a cleaning) + length + offset
_RECORD_LEN: Final = len(RECORD) + 1 + 8 + 4


def _order(data: bytes) -> str:
    if data[:4] == b"II*\0":
        return "<"
    if data[:4] == b"MM\0*":
        return ">"
    if data[:4] in (b"II+\0", b"MM\0+"):
        raise CarrierError("TIFF: BigTIFF is not supported")
    raise CarrierError("TIFF: no TIFF header")


def _ifd0(data: bytes) -> tuple[str, int, list[bytes], int]:
    """(byte order, IFD0 offset, raw 12-byte entries, next-IFD offset)."""
    order = _order(data)
    (offset,) = struct.unpack(order + "I", data[4:8])
    if offset + 2 > len(data):
        raise CarrierError("TIFF: IFD0 offset past the end of the file")
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    end = offset + 2 + 12 * count
    if end + 4 > len(data):
        raise CarrierError("TIFF: IFD0 runs past the end of the file")
    entries = [data[offset + 2 + 12 * i : offset + 14 + 12 * i] for i in range(count)]
    (next_ifd,) = struct.unpack(order + "I", data[end : end + 4])
    return order, offset, entries, next_ifd


def _xmp_packet(data: bytes, order: str, entries: list[bytes]) -> bytes | None:
    for entry in entries:
        tag, kind, count = struct.unpack(order + "HHI", entry[:8])
        if tag != XMP_TAG:
            continue
        if kind not in (1, 7):
            raise CarrierError("TIFF: the XMP tag is not of type BYTE/UNDEFINED")
        if count <= 4:
            return entry[8 : 8 + count]
        (at,) = struct.unpack(order + "I", entry[8:12])
        if at + count > len(data):
            raise CarrierError("TIFF: the XMP packet runs past the end of the file")
        return data[at : at + count]
    return None


def _record(data: bytes) -> tuple[bytes, int, int] | None:
    tail = data[-_RECORD_LEN:]
    if len(data) < _RECORD_LEN or not tail.startswith(RECORD):
        return None
    kind = tail[len(RECORD) : len(RECORD) + 1]
    length, offset = struct.unpack(">QI", tail[len(RECORD) + 1 :])
    return kind, length, offset


def _update(data: bytes, packet: bytes, kind: bytes) -> bytes:
    """Append `packet` and an IFD0 copy pointing at it; point the header there; close with the record."""
    order, offset, entries, next_ifd = _ifd0(data)
    out = bytearray(data)
    if len(out) % 2:
        out += b"\0"
    at = len(out)
    out += packet + (b"\0" if len(packet) % 2 else b"")
    ours = struct.pack(order + "HHII", XMP_TAG, 7, len(packet), at)
    kept = [e for e in entries if struct.unpack(order + "H", e[:2])[0] != XMP_TAG]
    new = sorted([*kept, ours], key=lambda e: struct.unpack(order + "H", e[:2])[0])
    ifd_at = len(out)
    out += struct.pack(order + "H", len(new)) + b"".join(new) + struct.pack(order + "I", next_ifd)
    out[4:8] = struct.pack(order + "I", ifd_at)
    return bytes(out) + RECORD + kind + struct.pack(">QI", len(data), offset)


class TiffCarrier:
    """Baseline TIFF (and TIFF-based files such as DNG)."""

    name = "tiff"

    def sniff(self, data: bytes) -> bool:
        """TIFF byte-order mark and magic number."""
        return data[:4] in (b"II*\0", b"MM\0*")

    def find(self, data: bytes) -> list[FoundLabel]:
        """TC260 properties in IFD0's XMP packet."""
        order, _, entries, _ = _ifd0(data)
        packet = _xmp_packet(data, order, entries)
        return [] if packet is None else xmp.find(packet, "tiff:IFD0:XMP")

    def strip(self, data: bytes) -> bytes:
        """Undo our update; then remove a label still in the XMP with an update of its own."""
        record = _record(data)
        if record and record[0] == b"A":
            _, length, offset = record
            order = _order(data)
            data = data[:4] + struct.pack(order + "I", offset) + data[8:length]
        order, _, entries, _ = _ifd0(data)
        packet = _xmp_packet(data, order, entries)
        if packet is None or not xmp.has_label(packet):
            return data
        return _update(data, xmp.strip(packet) or xmp.EMPTY_PACKET, b"C")

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Append the packet with the property and the IFD0 copy."""
        order, _, entries, _ = _ifd0(data)
        packet = _xmp_packet(data, order, entries)
        payload = label.to_bare_json()
        new = xmp.packet(payload) if packet is None else xmp.insert(packet, payload)
        return _update(data, new, b"A")
