"""Each format's label sits where its TC260 guide puts it, and readers nobody here wrote find it.

exiftool (Debian libimage-exiftool-perl), ffprobe (Debian ffmpeg), mutagen, Pillow, pikepdf and
PyYAML read every file `embed` writes (LB-5.3, GB-I2): the label they report is the bare 7-field
object (the `{"AIGC": ...}` wrapper only where the guide has it), exactly one per file (GB-I9),
and stripping it gives back the original bytes, so the content hash is the platform's SHA-256.
"""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import subprocess
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import mutagen
import pikepdf
import pytest
import yaml
from mutagen._riff import RiffFile
from mutagen.mp4._atom import Atoms
from PIL import Image

from services.labeling.aigc import files, issue
from services.labeling.aigc.carriers.base import CarrierError
from services.labeling.aigc.label import FIELDS, AigcLabel
from services.labeling.aigc.verify import verify
from tests.unit.labeling import media, samples
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY, PRODUCER_SM2, sha256

MAKERS: dict[str, tuple[str, Callable[[], bytes]]] = {
    "png": ("png", samples.png),
    "jpeg": ("jpeg", samples.jpeg),
    "webp-lossless": ("webp", lambda: media.webp(lossless=True)),
    "webp-lossy": ("webp", lambda: media.webp(lossless=False)),
    "gif87a": ("gif", lambda: media.pillow("GIF")),
    "gif89a-animated": ("gif", media.animated_gif),
    "tiff": ("tiff", lambda: media.pillow("TIFF")),
    "tiff-lzw": ("tiff", lambda: media.pillow("TIFF", compression="tiff_lzw")),
    "heic": ("heif", media.heic),
    "wav": ("wav", samples.wav),
    "mp3": ("mp3", media.mp3),
    "mp3-id3v2.3": ("mp3", lambda: media.mp3(tagged=True)),
    "flac": ("flac", media.flac),
    "mp4-faststart": ("mp4", media.mp4),
    "mp4-moov-last": ("mp4", lambda: media.mp4(faststart=False)),
    "mov": ("mp4", media.mov),
    "m4a": ("mp4", media.m4a),
    "avi": ("avi", media.avi),
    "ogg-vorbis": ("ogg", media.ogg),
    "ogg-opus": ("ogg", lambda: media.ogg("libopus")),
    "mkv": ("matroska", media.matroska),
    "webm": ("matroska", lambda: media.matroska(webm=True)),
    "pdf": ("pdf", media.pdf),
    "markdown": ("text", lambda: media.MARKDOWN),
    "docx": ("ooxml", lambda: media.ooxml("docx")),
    "xlsx": ("ooxml", lambda: media.ooxml("xlsx")),
    "pptx": ("ooxml", lambda: media.ooxml("pptx")),
}
SUFFIX = {"png": ".png", "jpeg": ".jpg", "webp": ".webp", "wav": ".wav", "mp3": ".mp3", "flac": ".flac"}
SUFFIX |= {"gif": ".gif", "tiff": ".tif", "avi": ".avi", "ogg": ".ogg", "heif": ".heic"}
SUFFIX |= {"pdf": ".pdf", "text": ".md"}


def suffix_of(case: str) -> str:
    fmt = MAKERS[case][0]
    if fmt in ("mp4", "ooxml", "matroska"):
        return "." + {"mp4-faststart": "mp4", "mp4-moov-last": "mp4"}.get(case, case)
    return SUFFIX[fmt]


def label_for(data: bytes) -> AigcLabel:
    return issue.produce(
        producer_code=PRODUCER,
        produce_id="pid-tc260",
        content_sha256=files.content_hash(data),
        key=PRODUCER_KEY,
    )


def labeled(case: str) -> tuple[bytes, bytes, AigcLabel]:
    original = MAKERS[case][1]()
    label = label_for(original)
    return original, files.embed(original, label), label


# --- independent readers: each returns the label payloads it sees ---


def exiftool(data: bytes, tmp: Path, suffix: str) -> list[str]:
    path = tmp / f"file{suffix}"
    path.write_bytes(data)
    out = subprocess.run(
        ["exiftool", "-j", "-a", "-u", "-b", "-G1", str(path)], check=True, capture_output=True, timeout=60
    )
    [tags] = json.loads(out.stdout)
    values = [v for k, v in tags.items() if k.split(":")[-1].upper() in ("AIGC", "UNKNOWN_AIGC")]
    for key, value in tags.items():  # ID3 TXXX: exiftool names it UserDefinedText, "(description) value"
        if key.endswith(":UserDefinedText"):
            texts = value if isinstance(value, list) else [value]
            values += [t.removeprefix("(AIGC) ") for t in texts if t.startswith("(AIGC) ")]
    # A RIFF chunk of odd size is followed by a pad byte, which exiftool's unknown-chunk dump keeps.
    return [
        base64.b64decode(v[7:]).decode().rstrip("\0") if str(v).startswith("base64:") else str(v)
        for v in values
    ]


def ffprobe(data: bytes, tmp: Path, suffix: str, entries: str = "format_tags") -> list[str]:
    path = tmp / f"file{suffix}"
    path.write_bytes(data)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    parsed = json.loads(out.stdout)
    if entries == "stream_tags":  # Ogg keeps Vorbis comments per logical stream
        return [v for s in parsed["streams"] for k, v in s.get("tags", {}).items() if k.upper() == "AIGC"]
    tags: dict[str, str] = parsed.get("format", {}).get("tags", {})
    return [v for k, v in tags.items() if k.upper() == "AIGC"]


def mutagen_tags(data: bytes) -> list[str]:
    f: Any = mutagen.File(io.BytesIO(data))
    if hasattr(f.tags, "getall"):  # ID3
        return [str(t.text[0]) for t in f.tags.getall("TXXX") if t.desc == "AIGC"]
    return list(f.get("AIGC", []))


def mutagen_mp4_atoms(data: bytes) -> list[str]:
    """mutagen's MP4 tag API reads only iTunes (mdir) items, so walk its atom tree to moov/udta/meta."""
    udta = Atoms(io.BytesIO(data)).path(b"moov", b"udta")[-1]
    values = []
    for meta in (c for c in udta.children if c.name == b"meta"):
        body = data[meta.offset : meta.offset + meta.length]
        if b"hdlr\0\0\0\0\0\0\0\0mdta" not in body:
            continue  # e.g. ffmpeg's iTunes (mdir) meta in an M4A
        assert b"\0\0\0\x0cmdtaAIGC" in body  # one keys entry: namespace mdta, key AIGC
        ilst = next(c for c in meta.children if c.name == b"ilst")
        [item] = ilst.children
        assert item.name == b"\0\0\0\x01"  # the item for key 1
        raw = data[item.offset + 8 : item.offset + item.length]
        values.append(raw[16:].decode())  # after the data box header, type 1 (UTF-8) and locale
    return values


def mutagen_riff(data: bytes) -> list[str]:
    riff = RiffFile(io.BytesIO(data))
    return [c.read().decode() for c in riff.root.subchunks() if c.id == "AIGC"]


def mutagen_riff_info(data: bytes) -> list[str]:
    riff = RiffFile(io.BytesIO(data))
    lists = [c for c in riff.root.subchunks() if c.id == "LIST" and c.name == "INFO"]
    return [e.read().rstrip(b"\0").decode() for c in lists for e in c.subchunks() if e.id == "AIGC"]


def pillow_xmp(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        packet = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
        if not packet and hasattr(image, "tag_v2"):  # TIFF: the XMP tag of IFD0
            packet = image.tag_v2.get(700, b"")
    text = packet.decode() if isinstance(packet, bytes) else packet
    start = text.index("<TC260:AIGC>") + len("<TC260:AIGC>")
    assert 'xmlns:TC260="http://www.tc260.org.cn/ns/AIGC/1.0/"' in text
    return [text[start : text.index("</TC260:AIGC>")].replace("&quot;", '"')]


def pikepdf_info(data: bytes) -> list[str]:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        return [str(pdf.docinfo["/AIGC"])]


def yaml_front_matter(data: bytes) -> list[str]:
    head = data.decode().split("---\n")[1]
    block = yaml.safe_load(head)["AIGC"]
    return [json.dumps(block, separators=(",", ":"))]


def custom_property(data: bytes) -> list[str]:
    """The package as an Office application opens it: content type override, relationship, property."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        types = z.read("[Content_Types].xml").decode()
        rels = z.read("_rels/.rels").decode()
        custom = ElementTree.fromstring(z.read("docProps/custom.xml"))
    assert 'PartName="/docProps/custom.xml"' in types
    assert "relationships/custom-properties" in rels
    ns = {"cp": "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"}
    vt = "{http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes}lpwstr"
    return [str(p.find(vt).text) for p in custom.findall("cp:property", ns) if p.get("name") == "AIGC"]  # type: ignore[union-attr]


READERS: dict[str, list[str]] = {
    "png": ["exiftool", "pillow"],
    "jpeg": ["exiftool", "pillow"],
    "webp": ["exiftool", "pillow"],
    "gif": ["exiftool"],  # Pillow keeps only the application extension's id, not the packet
    "tiff": ["exiftool", "pillow"],
    "heif": ["exiftool"],  # libheif's tools do not print XMP; the pixels are checked below
    "wav": ["exiftool", "mutagen-riff"],
    "mp3": ["exiftool", "ffprobe", "mutagen"],
    "flac": ["exiftool", "ffprobe", "mutagen"],
    "mp4": ["exiftool", "ffprobe", "mutagen-atoms"],
    "avi": ["exiftool", "ffprobe", "mutagen-riff-info"],
    "ogg": ["exiftool", "ffprobe-stream", "mutagen"],
    "matroska": ["exiftool", "ffprobe"],  # mutagen has no Matroska support
    "pdf": ["exiftool", "pikepdf"],
    "text": ["yaml"],
    "ooxml": ["exiftool", "zipfile"],
}


def read(reader: str, data: bytes, tmp: Path, case: str) -> list[str]:
    suffix = suffix_of(case)
    runs: dict[str, Callable[[], list[str]]] = {
        "exiftool": lambda: exiftool(data, tmp, suffix),
        "ffprobe": lambda: ffprobe(data, tmp, suffix),
        "ffprobe-stream": lambda: ffprobe(data, tmp, suffix, "stream_tags"),
        "mutagen": lambda: mutagen_tags(data),
        "mutagen-atoms": lambda: mutagen_mp4_atoms(data),
        "mutagen-riff": lambda: mutagen_riff(data),
        "mutagen-riff-info": lambda: mutagen_riff_info(data),
        "pillow": lambda: pillow_xmp(data),
        "pikepdf": lambda: pikepdf_info(data),
        "yaml": lambda: yaml_front_matter(data),
        "zipfile": lambda: custom_property(data),
    }
    return runs[reader]()


@pytest.mark.parametrize("case", list(MAKERS))
def test_every_independent_reader_sees_exactly_the_bare_label(case: str, tmp_path: Path) -> None:
    fmt = MAKERS[case][0]
    _, data, label = labeled(case)
    for reader in READERS[fmt]:
        seen = read(reader, data, tmp_path, case)
        assert len(seen) == 1, (reader, seen)
        assert list(json.loads(seen[0])) == list(FIELDS), reader  # bare object, Annex E order
        assert json.loads(seen[0]) == label.to_object()["AIGC"], reader


@pytest.mark.parametrize("case", list(MAKERS))
def test_round_trip_is_exact_and_the_content_hash_is_the_platforms(case: str) -> None:
    fmt = MAKERS[case][0]
    original, data, label = labeled(case)
    assert files.format_of(data) == fmt
    [found] = files.find_labels(data)
    assert not found.legacy
    assert found.bare == (fmt != "text")
    assert AigcLabel.parse(found.text) == label
    if fmt in ("ooxml", "ogg", "matroska"):  # rewritten containers: content hash over parts/packets
        assert files.content_hash(data) == files.content_hash(original)
        assert files.find_labels(files.carrier_for(data).strip(data)) == []
    else:
        assert files.carrier_for(data).strip(data) == original
        assert files.content_hash(data) == sha256(original)
    assert files.embed(data, label) == data  # replaced, never duplicated (GB-I9)


@pytest.mark.parametrize("case", ["gif87a", "gif89a-animated", "tiff", "tiff-lzw", "webp-lossy"])
def test_images_still_decode_to_the_same_pixels(case: str) -> None:
    original, data, _ = labeled(case)
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(data)) as b:
        assert getattr(a, "n_frames", 1) == getattr(b, "n_frames", 1)
        for frame in range(getattr(a, "n_frames", 1)):
            a.seek(frame)
            b.seek(frame)
            assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


@pytest.mark.parametrize(
    "case",
    ["mp3", "flac", "mp4-faststart", "mp4-moov-last", "m4a", "avi", "ogg-vorbis", "ogg-opus", "mkv", "webm"],
)
def test_media_still_decodes_the_same_after_labeling(case: str, tmp_path: Path) -> None:
    original, data, _ = labeled(case)
    digests = []
    for i, blob in enumerate((original, data)):
        path = tmp_path / f"{i}{suffix_of(case)}"
        path.write_bytes(blob)
        out = subprocess.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-f", "md5", "-"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        digests.append(out.stdout)
    assert digests[0] == digests[1]  # the decoded samples/frames are unchanged (DS-16: no effect on use)


def test_an_mp4_labeled_by_ffmpeg_is_read_and_replaced_without_refusal() -> None:
    theirs = json.dumps(
        dict(zip(FIELDS, ("1", PRODUCER, "their-id", "", PRODUCER, "their-id", ""), strict=True))
    )
    data = media.mp4_labeled_by_ffmpeg(theirs.replace(" ", ""))
    [found] = files.find_labels(data)
    assert not found.legacy
    assert AigcLabel.parse(found.text).produce_id == "their-id"
    label = label_for(data)
    relabeled = files.embed(data, label)
    [ours] = files.find_labels(relabeled)
    assert AigcLabel.parse(ours.text) == label
    assert b"encoder" in relabeled  # ffmpeg's other key survived the removal of its AIGC key
    assert files.content_hash(relabeled) == files.content_hash(data)


def test_png_annex_b_text_chunk_is_read_as_a_guide_carrier() -> None:
    wrapped = label_for(samples.png()).to_json()
    data = samples.png()
    iend = data.rindex(b"IEND") - 4
    body = b"AIGC\0" + wrapped.encode()
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    data = data[:iend] + chunk + data[iend:]
    [found] = files.find_labels(data)
    assert not found.legacy
    assert not found.bare
    assert found.carrier == "png:tEXt:AIGC"


@pytest.mark.parametrize("fmt", ["ogg", "matroska"])
def test_a_label_moved_to_other_packets_is_content_changed(fmt: str) -> None:
    if fmt == "ogg":
        ours, other = (
            media.ogg(),
            media.ffmpeg(*media.TONE, "-af", "volume=0.5", "-c:a", "libvorbis", suffix=".ogg"),
        )
    else:
        ours = media.matroska()
        other = media.ffmpeg(
            *media.PICTURE, "-vf", "hflip", "-c:v", "libx264", "-preset", "ultrafast", suffix=".mkv"
        )
    label = issue.produce(
        producer_code=PRODUCER, produce_id="p", content_sha256=files.content_hash(ours), key=PRODUCER_SM2
    )
    assert verify(files.embed(ours, label), PRODUCER_SM2.public_key()).findings == []
    codes = [f.code for f in verify(files.embed(other, label), PRODUCER_SM2.public_key()).findings]
    assert codes == ["content_changed"]


@pytest.mark.parametrize("case", [c for c, (fmt, _) in MAKERS.items() if fmt not in ("ogg", "matroska")])
def test_damaged_files_raise_carrier_error_or_unknown_format_only(case: str) -> None:
    """Bad input gets a clear error, never a crash of another kind (truncation, flipped bytes)."""
    _, data, _ = labeled(case)
    rng = random.Random(case)
    for trial in range(40):
        damaged = bytearray(data)
        if trial % 2:
            damaged = damaged[: rng.randrange(1, len(damaged))]
        else:
            for _ in range(3):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            files.find_labels(bytes(damaged))
            files.content_hash(bytes(damaged))
        except (CarrierError, files.UnknownFormat):
            pass


def test_a_labeled_heic_decodes_to_the_same_pixels() -> None:
    original, data, _ = labeled("heic")
    assert media.heif_pixels(data) == media.heif_pixels(original)
