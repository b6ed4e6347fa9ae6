"""PDF: the document Info dictionary key `/AIGC` holding the bare 7-field object (TC260-PG-20258A).

Written as an incremental update (ISO 32000-1 §7.5.6) appended to the file: a new Info dictionary
(the old entries plus `/AIGC`), a one-entry cross-reference section and a trailer whose `/Prev`
points at the previous one — exactly how exiftool edits PDF metadata. Nothing before the update
changes, so stripping cuts it off and the original bytes come back. pikepdf (qpdf) reads the
file: the current Info dictionary for `find`, its entries and the trailer for the update. A label
someone else wrote into the original Info is removed by a second update without `/AIGC`.
Encrypted PDFs are refused.
"""

from __future__ import annotations

import io
import re
from typing import Final

import pikepdf

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

KEY: Final = "/AIGC"
MARKER: Final = b"\n%dsgov-aigc-label\n"
_STARTXREF: Final = re.compile(rb"startxref\s+(\d+)\s+%%EOF\s*\Z")


def _open(data: bytes) -> pikepdf.Pdf:
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except (pikepdf.PdfError, pikepdf.PasswordError, ValueError) as exc:
        raise CarrierError(f"PDF: {exc}") from None
    if pdf.is_encrypted:
        raise CarrierError("PDF: encrypted files are not supported")
    return pdf


def _info_value(pdf: pikepdf.Pdf) -> str | None:
    info = pdf.trailer.get("/Info")
    if not isinstance(info, pikepdf.Dictionary) or KEY not in info:
        return None
    return str(info[KEY])


def _update(data: bytes, pdf: pikepdf.Pdf, label_payload: str | None) -> bytes:
    """An incremental update replacing the Info dictionary (with `/AIGC` = payload, or without it)."""
    tail = _STARTXREF.search(data[-1024:])
    if tail is None:
        raise CarrierError("PDF: no startxref at the end of the file")
    prev = int(tail[1])
    size = int(pdf.trailer.get("/Size", len(pdf.objects) + 1))
    old = pdf.trailer.get("/Info")
    # Redefine the Info object under its own number (as exiftool does); a new one only if there is none.
    number, generation = old.objgen if isinstance(old, pikepdf.Dictionary) and old.is_indirect else (size, 0)
    entries = b""
    if isinstance(old, pikepdf.Dictionary):
        entries = b"".join(k.encode() + b" " + v.unparse() + b"\n" for k, v in old.items() if k != KEY)
    if label_payload is not None:
        entries += KEY.encode() + b" " + pikepdf.String(label_payload).unparse() + b"\n"
    head = data  # the marker starts with a line break, so the update starts on a line of its own
    offset = len(head) + len(MARKER)
    body = f"{number} {generation} obj\n".encode() + b"<<\n" + entries + b">>\nendobj\n"
    root = pdf.trailer.Root.objgen
    info = f"{number} {generation} R"
    trailer = f"/Size {max(size, number + 1)} /Root {root[0]} {root[1]} R /Info {info} /Prev {prev}".encode()
    if "/ID" in pdf.trailer:
        trailer += b" /ID " + pdf.trailer.ID.unparse()
    xref_at = offset + len(body)
    xref = f"xref\n{number} 1\n{offset:010d} {generation:05d} n \n".encode()
    end = b"trailer\n<< " + trailer + b" >>\nstartxref\n" + str(xref_at).encode() + b"\n%%EOF\n"
    return head + MARKER + body + xref + end


class PdfCarrier:
    """PDF documents."""

    name = "pdf"

    def sniff(self, data: bytes) -> bool:
        """The %PDF- header."""
        return data.startswith(b"%PDF-")

    def find(self, data: bytes) -> list[FoundLabel]:
        """`/AIGC` in the current Info dictionary."""
        with _open(data) as pdf:
            value = _info_value(pdf)
        return [] if value is None else [found("pdf:Info:/AIGC", value)]

    def strip(self, data: bytes) -> bytes:
        """Cut our update off; a label in the original Info is hidden by an update without it."""
        at = data.rfind(MARKER)
        if at >= 0 and self._ours(data, at):
            data = data[:at]
        with _open(data) as pdf:
            if _info_value(pdf) is None:
                return data
            return _update(data, pdf, None)

    @staticmethod
    def _ours(data: bytes, at: int) -> bool:
        """The bytes after the marker are one update this library wrote (object, xref, trailer)."""
        return (
            re.fullmatch(
                rb"\d+ \d+ obj\n<<\n.*>>\nendobj\nxref\n\d+ 1\n\d{10} \d{5} n \ntrailer\n<< [^\n]* >>\n"
                rb"startxref\n\d+\n%%EOF\n",
                data[at + len(MARKER) :],
                re.DOTALL,
            )
            is not None
        )

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Append the update with the new Info dictionary."""
        with _open(data) as pdf:
            return _update(data, pdf, label.to_bare_json())
