"""PNG: the TC260 XMP property in the `iTXt` chunk with keyword `XML:com.adobe.xmp` (TC260-PG-20259A).

The property `<TC260:AIGC>` (bare 7-field object) is added to the file's XMP packet when it has
one, else a new uncompressed XMP `iTXt` chunk goes right before the first `IDAT`; stripping removes exactly
that, so the original bytes come back. Chunk framing and CRCs by pypng.

Also read (GB-I9 counts them; embed replaces them): a `tEXt`/`zTXt` chunk with keyword `AIGC`
(image guide Annex B, `{"AIGC":{...}}`), and any other text chunk whose keyword contains `AIGC`
(e.g. the `iTXt` keyword `AIGC` dsgov wrote before).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Final

import png  # type: ignore[import-untyped]  # pypng ships no type information

from services.labeling.aigc.carriers import xmp
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
KEYWORD: Final = b"AIGC"
XMP_KEYWORD: Final = b"XML:com.adobe.xmp"
TEXT_TYPES: Final = (b"tEXt", b"zTXt", b"iTXt")
MAX_TEXT: Final = 4 * 1024 * 1024  # decompression cap for text chunks (zip bombs)

Chunk = tuple[bytes, bytes]


def _chunks(data: bytes) -> tuple[list[Chunk], bytes]:
    """Every chunk up to IEND (CRC-checked) and whatever trails it."""
    try:
        chunks = list(png.Reader(bytes=data).chunks())
    except (png.FormatError, png.ChunkError, ValueError) as exc:
        raise CarrierError(f"PNG: {exc}") from None
    used = len(SIGNATURE) + sum(12 + len(body) for _, body in chunks)
    return chunks, data[used:]


def _write(chunks: list[Chunk], tail: bytes) -> bytes:
    out = _Sink()
    png.write_chunks(out, chunks)
    return out.value() + tail


class _Sink:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, b: bytes) -> None:
        self.parts.append(bytes(b))

    def value(self) -> bytes:
        return b"".join(self.parts)


def _inflate(raw: bytes) -> bytes:
    d = zlib.decompressobj()
    try:
        out = d.decompress(raw, MAX_TEXT)
    except zlib.error as exc:
        raise CarrierError(f"PNG text chunk: {exc}") from None
    return out


def _text_chunk(kind: bytes, body: bytes) -> tuple[bytes, bytes, bool]:
    """(keyword, text bytes, uncompressed iTXt) of a text chunk."""
    keyword, _, rest = body.partition(b"\0")
    if kind == b"tEXt":
        return keyword, rest, False
    if kind == b"zTXt":
        return keyword, _inflate(rest[1:]), False
    flag, rest = rest[:1], rest[2:]
    _lang, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    compressed = flag == b"\x01"
    return keyword, _inflate(text) if compressed else text, not compressed


def _is_label_keyword(keyword: bytes) -> bool:
    return b"aigc" in keyword.lower()


def itxt(keyword: bytes, text: bytes) -> bytes:
    """An uncompressed iTXt body without language tags."""
    return keyword + b"\0\0\0\0\0" + text


class PngCarrier:
    """PNG files."""

    name = "png"

    def sniff(self, data: bytes) -> bool:
        """PNG signature."""
        return data.startswith(SIGNATURE)

    def _labels(self, chunks: list[Chunk]) -> Iterator[FoundLabel]:
        for kind, body in chunks:
            if kind not in TEXT_TYPES:
                continue
            keyword, text, _ = _text_chunk(kind, body)
            where = f"png:{kind.decode()}:{keyword.decode('latin-1')}"
            if _is_label_keyword(keyword):
                guide = kind in (b"tEXt", b"zTXt") and keyword == KEYWORD  # Annex B
                yield found(where, text.decode("utf-8", "replace"), legacy=not guide)
            elif keyword == XMP_KEYWORD:
                yield from xmp.find(text, where)

    def find(self, data: bytes) -> list[FoundLabel]:
        """Label chunks and XMP properties, in file order."""
        chunks, _ = _chunks(data)
        return list(self._labels(chunks))

    def strip(self, data: bytes) -> bytes:
        """Drop label chunks; remove the property from an XMP packet."""
        chunks, tail = _chunks(data)
        kept: list[Chunk] = []
        changed = False
        for kind, body in chunks:
            if kind in TEXT_TYPES:
                keyword, text, plain = _text_chunk(kind, body)
                if _is_label_keyword(keyword):
                    changed = True
                    continue
                if keyword == XMP_KEYWORD and xmp.has_label(text):
                    changed = True
                    clean = xmp.strip(text)
                    if clean is not None:  # keep the chunk's own header (language tags) when it can
                        head = body[: len(body) - len(text)] if plain else itxt(XMP_KEYWORD, b"")
                        kept.append((b"iTXt", head + clean))
                    continue
            kept.append((kind, body))
        return _write(kept, tail) if changed else data

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Into the existing uncompressed XMP iTXt, or a new XMP iTXt chunk just before IDAT."""
        chunks, tail = _chunks(data)
        if not chunks or chunks[-1][0] != b"IEND":
            raise CarrierError("PNG: no IEND chunk")
        payload = label.to_bare_json()
        for i, (kind, body) in enumerate(chunks):
            if kind != b"iTXt" or not body.startswith(XMP_KEYWORD + b"\0"):
                continue
            _, text, plain = _text_chunk(kind, body)
            if not plain:
                raise CarrierError("PNG: the XMP iTXt chunk is compressed; re-save it uncompressed")
            head = body[: len(body) - len(text)]  # keyword, flags, language tags as they were
            return _write([*chunks[:i], (kind, head + xmp.insert(text, payload)), *chunks[i + 1 :]], tail)
        # Before the image data: exiftool warns that readers may ignore text chunks after IDAT.
        at = next((i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT"), len(chunks) - 1)
        chunk = (b"iTXt", itxt(XMP_KEYWORD, xmp.packet(payload)))
        return _write([*chunks[:at], chunk, *chunks[at:]], tail)
