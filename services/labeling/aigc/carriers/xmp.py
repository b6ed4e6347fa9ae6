"""The TC260 XMP property `<TC260:AIGC>` holding the bare 7-field Annex E object, inside an XMP packet.

Element form, as the image, audio and video guides show it (PG-20259A/202510A/20257A) and as the
AigcTotal checker and exiftool read it. (The GB45438 image toolkit reads only an attribute form
`TC260:AIGC="…"`; both forms are recognised here, element form is written.)

Namespace `http://www.tc260.org.cn/ns/AIGC/1.0/` (regulations.md §2, file-format carriers). This
library inserts exactly one `rdf:Description` fragment and removes exactly that fragment again,
so stripping restores the packet byte for byte; property forms written by other tools (element or
attribute `…:AIGC`) are recognised as legacy labels and removed on the next embed.
"""

from __future__ import annotations

import re
from typing import Final
from xml.sax.saxutils import escape, unescape

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found

NAMESPACE: Final = "http://www.tc260.org.cn/ns/AIGC/1.0/"
_ENTITIES: Final = {"&quot;": '"', "&apos;": "'"}
_OPEN: Final = f'<rdf:Description rdf:about="" xmlns:TC260="{NAMESPACE}"><TC260:AIGC>'.encode()
_CLOSE: Final = b"</TC260:AIGC></rdf:Description>"
_OURS: Final = re.compile(re.escape(_OPEN) + rb"([^<]*)" + re.escape(_CLOSE))
_ELEMENT: Final = re.compile(rb"<([A-Za-z][\w.-]*):AIGC\b[^>]*>([^<]*)</\1:AIGC>")
_ATTRIBUTE: Final = re.compile(rb"\s([A-Za-z][\w.-]*):AIGC\s*=\s*\"([^\"]*)\"")
_RDF_OPEN: Final = re.compile(rb"<rdf:RDF\b[^>]*>")
_HEAD: Final = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
)
_TAIL: Final = b'</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
EMPTY_PACKET: Final = _HEAD + _TAIL


def fragment(payload: str) -> bytes:
    """The `rdf:Description` this library writes (payload: the bare 7-field JSON)."""
    return _OPEN + escape(payload).encode("ascii") + _CLOSE


def packet(payload: str) -> bytes:
    """A whole XMP packet holding only the label."""
    return _HEAD + fragment(payload) + _TAIL


def _text(raw: bytes) -> str:
    return unescape(raw.decode("utf-8", "replace"), _ENTITIES)


def find(xmp: bytes, where: str) -> list[FoundLabel]:
    """Labels in one XMP packet: this library's fragment, then other tools' property forms."""
    labels = [found(where, _text(m[1])) for m in _OURS.finditer(xmp)]
    rest = _OURS.sub(b"", xmp)
    labels += [found(f"{where}:other-element", _text(m[2]), legacy=True) for m in _ELEMENT.finditer(rest)]
    labels += [found(f"{where}:attribute", _text(m[2]), legacy=True) for m in _ATTRIBUTE.finditer(rest)]
    return labels


def strip(xmp: bytes) -> bytes | None:
    """The packet without labels, or None when nothing but this library's empty packet is left."""
    clean = _ATTRIBUTE.sub(b"", _ELEMENT.sub(b"", _OURS.sub(b"", xmp)))
    return None if clean == EMPTY_PACKET else clean


def insert(xmp: bytes, payload: str) -> bytes:
    """Add the fragment right after the packet's `<rdf:RDF …>` tag."""
    match = _RDF_OPEN.search(xmp)
    if not match:
        raise CarrierError("the XMP packet has no rdf:RDF element to hold the label")
    return xmp[: match.end()] + fragment(payload) + xmp[match.end() :]


def has_label(xmp: bytes) -> bool:
    """True when the packet holds any AIGC property."""
    return bool(find(xmp, "xmp"))
