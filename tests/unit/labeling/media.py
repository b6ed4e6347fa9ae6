"""Real media files for the carrier tests, made here with ffmpeg, Pillow and pikepdf (tiny, a second long)."""

from __future__ import annotations

import functools
import io
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pikepdf
from PIL import Image

from tests.unit.labeling import samples


def ffmpeg(*args: str, suffix: str) -> bytes:
    """Run ffmpeg with `args` (inputs and options) and return the output file's bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"out{suffix}"
        subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args, str(out)], check=True, timeout=60)
        return out.read_bytes()


TONE = ("-f", "lavfi", "-i", "sine=frequency=440:duration=1")
PICTURE = ("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-t", "1", "-pix_fmt", "yuv420p")


@functools.cache
def mp3(tagged: bool = False) -> bytes:
    extra = ("-metadata", "title=song", "-id3v2_version", "3") if tagged else ("-write_id3v2", "0")
    return ffmpeg(*TONE, "-c:a", "libmp3lame", "-b:a", "32k", *extra, suffix=".mp3")


@functools.cache
def flac() -> bytes:
    return ffmpeg(*TONE, "-c:a", "flac", suffix=".flac")


@functools.cache
def m4a() -> bytes:
    return ffmpeg(*TONE, "-c:a", "aac", "-b:a", "32k", suffix=".m4a")


@functools.cache
def mp4(faststart: bool = True) -> bytes:
    flags = ("-movflags", "+faststart") if faststart else ()
    return ffmpeg(*PICTURE, "-c:v", "libx264", "-preset", "ultrafast", *flags, suffix=".mp4")


@functools.cache
def mov() -> bytes:
    return ffmpeg(*PICTURE, "-c:v", "libx264", "-preset", "ultrafast", suffix=".mov")


@functools.cache
def mp4_labeled_by_ffmpeg(payload: str) -> bytes:
    """What another provider's pipeline writes: ffmpeg's own mdta keys (AIGC among `encoder`)."""
    return ffmpeg(
        *PICTURE,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-movflags",
        "+faststart+use_metadata_tags",
        "-metadata",
        f"AIGC={payload}",
        suffix=".mp4",
    )


def webp(lossless: bool) -> bytes:
    out = io.BytesIO()
    samples.gradient(64, 48).save(out, "WEBP", lossless=lossless, quality=80)
    return out.getvalue()


def pdf() -> bytes:
    doc = pikepdf.new()
    doc.add_blank_page()
    doc.docinfo["/Title"] = "report"
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


MARKDOWN = "# 标题\n\nA paragraph.\n".encode()


_MAIN = {
    "docx": ("word/document.xml", "wordprocessingml.document.main+xml", "<w:document/>"),
    "xlsx": ("xl/workbook.xml", "spreadsheetml.sheet.main+xml", "<workbook/>"),
    "pptx": ("ppt/presentation.xml", "presentationml.presentation.main+xml", "<p:presentation/>"),
}


def ooxml(kind: str) -> bytes:
    """A minimal Office Open XML package: content types, the package relationship, a main part."""
    part, content_type, body = _MAIN[kind]
    ct = "application/vnd.openxmlformats-officedocument." + content_type
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/><Override PartName="/{part}" '
            f'ContentType="{ct}"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/officeDocument" Target="{part}"/></Relationships>',
        )
        z.writestr(part, f'<?xml version="1.0" encoding="UTF-8"?>\n{body}')
    return out.getvalue()


def pillow(fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    samples.gradient(64, 48).save(out, fmt, **options)
    return out.getvalue()


def animated_gif() -> bytes:
    first = samples.gradient(64, 48)
    return pillow("GIF", save_all=True, append_images=[first.rotate(90)], duration=100, loop=0)


@functools.cache
def avi() -> bytes:
    return ffmpeg(*PICTURE, "-c:v", "mpeg4", suffix=".avi")


@functools.cache
def ogg(codec: str = "libvorbis") -> bytes:
    return ffmpeg(*TONE, "-c:a", codec, suffix=".ogg")


@functools.cache
def matroska(webm: bool = False) -> bytes:
    codec = (
        ("-c:v", "libvpx-vp9", "-deadline", "realtime")
        if webm
        else ("-c:v", "libx264", "-preset", "ultrafast")
    )
    return ffmpeg(*PICTURE, *codec, suffix=".webm" if webm else ".mkv")


@functools.cache
def heic() -> bytes:
    """An HEIC still image made by libheif's heif-enc (Debian libheif-examples)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.png", Path(tmp) / "out.heic"
        src.write_bytes(pillow("PNG"))
        subprocess.run(
            ["heif-enc", "-q", "50", "-o", str(out), str(src)], check=True, timeout=60, capture_output=True
        )
        return out.read_bytes()


def heif_pixels(data: bytes) -> bytes:
    """The decoded image (heif-convert to PNG, read with Pillow)."""
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "in.heic", Path(tmp) / "out.png"
        src.write_bytes(data)
        subprocess.run(["heif-convert", str(src), str(out)], check=True, timeout=60, capture_output=True)
        with Image.open(out) as image:
            return image.convert("RGB").tobytes()
