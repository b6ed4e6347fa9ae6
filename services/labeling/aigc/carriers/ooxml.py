"""DOCX, XLSX, PPTX: the custom document property `AIGC` in `docProps/custom.xml` (TC260-PG-20258A).

The value (`vt:lpwstr`) is the bare 7-field object. When the package has no custom properties
part, one is added with its `[Content_Types].xml` override and its package relationship.

Content hash: a ZIP cannot be edited in place and undone byte for byte (the entries are
recompressed, the central directory rewritten), so for these formats the content hash is not the
file's SHA-256 but the SHA-256 of a manifest of the package: every part's name and the SHA-256 of
its uncompressed bytes, sorted by name, with `docProps/custom.xml` left out and the override and
relationship that point at it removed from the two package parts. Platforms hash Office files
with `dsgov-label inspect` (`content_sha256`), not with sha256sum. Any change to a part that holds
content changes it; the label alone does not.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
import zlib
from typing import Final
from xml.sax.saxutils import escape, unescape

from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

CUSTOM: Final = "docProps/custom.xml"
TYPES: Final = "[Content_Types].xml"
RELS: Final = "_rels/.rels"
MAX_PART: Final = 64 * 1024 * 1024  # decompression cap per package part (zip bombs)
_FMTID: Final = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
_CUSTOM_TYPE: Final = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
_CUSTOM_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
_EMPTY: Final = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/custom-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"></Properties>'
)
_PROPERTY: Final = re.compile(
    r'<property\b[^>]*\bname="AIGC"[^>]*>\s*<vt:lpwstr>([^<]*)</vt:lpwstr>\s*</property>', re.I
)
_PID: Final = re.compile(r'\bpid="(\d+)"')
_OVERRIDE: Final = re.compile(r'<Override\b[^>]*PartName="/docProps/custom\.xml"[^>]*/>')
_REL: Final = re.compile(r'<Relationship\b[^>]*Target="/?docProps/custom\.xml"[^>]*/>')


def _zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as exc:
        raise CarrierError(f"OOXML: {exc}") from None


_ZIP_ERRORS: Final = (zipfile.BadZipFile, zlib.error, NotImplementedError, KeyError, EOFError, ValueError)


def _bytes(z: zipfile.ZipFile, name: str | zipfile.ZipInfo) -> bytes:
    """One part's bytes, capped; a damaged archive is a CarrierError."""
    try:
        info = name if isinstance(name, zipfile.ZipInfo) else z.getinfo(name)
        if info.file_size > MAX_PART:
            raise CarrierError(f"OOXML: part {info.filename} is larger than {MAX_PART} bytes")
        return z.read(info)
    except _ZIP_ERRORS as exc:
        raise CarrierError(f"OOXML: part {name if isinstance(name, str) else name.filename}: {exc}") from None


def _read(z: zipfile.ZipFile, name: str) -> str:
    try:
        return _bytes(z, name).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CarrierError(f"OOXML: part {name}: {exc}") from None


def _custom(z: zipfile.ZipFile) -> str | None:
    return _read(z, CUSTOM) if CUSTOM in z.namelist() else None


def manifest_sha256(data: bytes) -> str:
    """The content hash of a package (see the module docstring)."""
    lines: list[bytes] = []
    with _zip(data) as z:
        for name in sorted(z.namelist()):
            if name == CUSTOM:
                continue
            if name == TYPES:
                part = _OVERRIDE.sub("", _read(z, name)).encode()
            elif name == RELS:
                part = _REL.sub("", _read(z, name)).encode()
            else:
                part = _bytes(z, name)
            lines.append(name.encode() + b"\0" + hashlib.sha256(part).hexdigest().encode())
    return hashlib.sha256(b"\n".join(lines)).hexdigest()


def _rewrite(data: bytes, parts: dict[str, str | None]) -> bytes:
    """The package with `parts` replaced (None: removed; new names appended), other entries kept."""
    out = io.BytesIO()
    with _zip(data) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in parts:
                text = parts[info.filename]
                if text is not None:
                    dst.writestr(info, text.encode("utf-8"), compress_type=zipfile.ZIP_DEFLATED)
            else:
                dst.writestr(info, _bytes(src, info), compress_type=info.compress_type)
        for name, text in parts.items():
            if name not in src.namelist() and text is not None:
                dst.writestr(
                    zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), text.encode("utf-8"), zipfile.ZIP_DEFLATED
                )
    return out.getvalue()


class OoxmlCarrier:
    """Office Open XML packages (DOCX, XLSX, PPTX)."""

    name = "ooxml"

    def sniff(self, data: bytes) -> bool:
        """A ZIP whose first entries include `[Content_Types].xml`."""
        return data.startswith(b"PK\x03\x04") and TYPES.encode() in data[:4096]

    def find(self, data: bytes) -> list[FoundLabel]:
        """`AIGC` properties in docProps/custom.xml."""
        with _zip(data) as z:
            custom = _custom(z)
        if custom is None:
            return []
        return [
            found("ooxml:docProps/custom.xml:AIGC", unescape(m[1], {"&quot;": '"'}))
            for m in _PROPERTY.finditer(custom)
        ]

    def strip(self, data: bytes) -> bytes:
        """Remove the property (and the part, override and relationship when nothing else is left)."""
        with _zip(data) as z:
            custom = _custom(z)
            if custom is None or not _PROPERTY.search(custom):
                return data
            clean = _PROPERTY.sub("", custom)
            if clean == _EMPTY:
                return _rewrite(
                    data,
                    {
                        CUSTOM: None,
                        TYPES: _OVERRIDE.sub("", _read(z, TYPES)),
                        RELS: _REL.sub("", _read(z, RELS)),
                    },
                )
        return _rewrite(data, {CUSTOM: clean})

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Add the property; the part, its override and relationship if the package has none."""
        with _zip(data) as z:
            custom = _custom(z) or _EMPTY
            types, rels = _read(z, TYPES), _read(z, RELS) if RELS in z.namelist() else None
        if rels is None:
            raise CarrierError("OOXML: the package has no _rels/.rels")
        pid = max([1, *(int(p) for p in _PID.findall(custom))]) + 1
        value = escape(label.to_bare_json())
        prop = f'<property fmtid="{_FMTID}" pid="{pid}" name="AIGC"><vt:lpwstr>{value}</vt:lpwstr></property>'
        if "</Properties>" not in custom:
            raise CarrierError("OOXML: docProps/custom.xml has no Properties element")
        parts: dict[str, str | None] = {CUSTOM: custom.replace("</Properties>", prop + "</Properties>")}
        if not _OVERRIDE.search(types):
            parts[TYPES] = types.replace(
                "</Types>", f'<Override PartName="/{CUSTOM}" ContentType="{_CUSTOM_TYPE}"/></Types>'
            )
        if not _REL.search(rels):
            parts[RELS] = rels.replace(
                "</Relationships>",
                f'<Relationship Id="rIdAIGC" Type="{_CUSTOM_REL}" Target="{CUSTOM}"/></Relationships>',
            )
        return _rewrite(data, parts)
