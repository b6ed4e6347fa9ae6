"""Every carrier round-trips: one label, exact original bytes back, content hash stable, file still usable.

PNG and JPEG XMP, WAV RIFF chunk, MP4 moov/udta/meta keys, text front matter (LB-5, GB-I2, GB-I9)
on the hand-made samples; legacy carriers (dsgov's earlier ones and other tools') are found and
replaced, never duplicated. test_tc260_carriers.py covers every format with independent readers.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import Callable

import pytest
from mutagen.mp4 import MP4, MP4FreeForm
from mutagen.mp4._atom import Atoms
from PIL import Image

from services.labeling.aigc import files, issue
from services.labeling.aigc.carriers import xmp
from services.labeling.aigc.carriers.base import CarrierError
from services.labeling.aigc.label import FIELDS, AigcLabel
from tests.unit.labeling import samples
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY, sha256

MAKERS: dict[str, Callable[[], bytes]] = {
    "png": samples.png,
    "jpeg": samples.jpeg,
    "wav": samples.wav,
    "mp4": samples.mp4,
    "text": lambda: samples.TEXT,
}


def label_for(data: bytes, produce_id: str = "pid-1") -> AigcLabel:
    return issue.produce(
        producer_code=PRODUCER,
        produce_id=produce_id,
        content_sha256=files.content_hash(data),
        key=PRODUCER_KEY,
    )


@pytest.mark.parametrize("fmt", list(MAKERS))
def test_round_trip_keeps_one_label_and_the_original_bytes(fmt: str) -> None:
    original = MAKERS[fmt]()
    label = label_for(original)
    labeled = files.embed(original, label)

    assert files.format_of(labeled) == fmt
    [found] = files.find_labels(labeled)
    assert not found.legacy
    assert AigcLabel.parse(found.text) == label
    assert files.content_hash(labeled) == sha256(original)  # what the platform reported
    assert files.carrier_for(labeled).strip(labeled) == original  # stripping is exact
    assert files.embed(labeled, label) == labeled  # replaced, never duplicated
    other = label_for(original, "pid-2")
    [replaced] = files.find_labels(files.embed(labeled, other))
    assert AigcLabel.parse(replaced.text).produce_id == "pid-2"


def test_labeled_png_decodes_to_the_same_pixels_and_pillow_sees_the_tc260_xmp() -> None:
    original = samples.png()
    labeled = files.embed(original, label_for(original))
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(labeled)) as b:
        assert a.tobytes() == b.tobytes()
        packet = b.info["XML:com.adobe.xmp"]  # PG-20259A: the XMP iTXt, not a private keyword
        assert f'xmlns:TC260="{xmp.NAMESPACE}"' in packet
        assert '<TC260:AIGC>{"Label":"1",' in packet  # the bare 7-field object


def test_labeled_jpeg_keeps_its_coefficients_and_pillow_reads_the_xmp() -> None:
    original = samples.jpeg()
    labeled = files.embed(original, label_for(original))
    scan = original.index(b"\xff\xda")
    assert labeled.endswith(original[scan:])  # entropy-coded data untouched
    with Image.open(io.BytesIO(labeled)) as image:
        image.load()
        assert xmp.NAMESPACE.encode() in image.info["xmp"]
        assert image.size == (320, 240)


def test_jpeg_with_exif_and_existing_xmp_keeps_both() -> None:
    exif = Image.Exif()
    exif[0x0131] = "camera-software"  # Software
    packet = xmp.EMPTY_PACKET.replace(
        b"</rdf:RDF>",
        b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>me</dc:creator></rdf:Description></rdf:RDF>',
    )
    original = samples.jpeg(exif=exif.tobytes(), xmp=packet)
    labeled = files.embed(original, label_for(original))
    assert len(files.find_labels(labeled)) == 1
    assert files.carrier_for(labeled).strip(labeled) == original
    with Image.open(io.BytesIO(labeled)) as image:
        assert b"<dc:creator>me</dc:creator>" in image.info["xmp"]
        assert image.getexif()[0x0131] == "camera-software"


def test_labeled_wav_has_the_same_samples_and_a_consistent_riff_size() -> None:
    original = samples.wav()
    labeled = files.embed(original, label_for(original))
    assert samples.wav_frames(labeled) == samples.wav_frames(original)
    (size,) = struct.unpack("<I", labeled[4:8])
    assert size == len(labeled) - 8
    assert b"AIGC" in labeled[len(original) :]


def test_labeled_mp4_still_parses_and_its_sample_offsets_still_point_at_the_samples() -> None:
    original = samples.mp4()
    labeled = files.embed(original, label_for(original))
    assert MP4(io.BytesIO(labeled)).info.length == pytest.approx(1.0)
    assert _first_sample(labeled) == samples.MP4_SAMPLES


def _first_sample(data: bytes) -> bytes:
    stco = Atoms(io.BytesIO(data)).path(b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stco")[-1]
    (offset,) = struct.unpack(">I", data[stco.offset + 16 : stco.offset + 20])
    return data[offset : offset + len(samples.MP4_SAMPLES)]


def test_text_label_is_a_yaml_front_matter_aigc_block() -> None:
    label = label_for(samples.TEXT)
    labeled = files.embed(samples.TEXT, label)
    assert labeled.endswith(samples.TEXT)
    lines = labeled.decode().splitlines()
    assert lines[:3] == ["---", "AIGC:", "  Label: '1'"]  # PG-20258A
    assert lines[3] == f"  ContentProducer: '{PRODUCER}'"
    assert lines[9] == "---"


def test_markdown_with_front_matter_gets_the_block_inside_it() -> None:
    original = b"---\ntitle: 'A'\n---\n# Heading\n"
    labeled = files.embed(original, label_for(original))
    assert labeled.startswith(b"---\nAIGC:\n  Label: '1'\n")
    assert b"  ReservedCode2: '" in labeled
    assert labeled.endswith(b"title: 'A'\n---\n# Heading\n")
    assert files.carrier_for(labeled).strip(labeled) == original


# --- legacy carriers: found (GB-I9 counts them) and replaced on embed ---


def _png_with(kind: bytes, body: bytes) -> bytes:
    data = samples.png()
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    iend = data.rindex(b"IEND") - 4
    return data[:iend] + chunk + data[iend:]


LEGACY_JSON = json.dumps(
    {"AIGC": dict(zip(FIELDS, ("1", "x", "old", "", "x", "old", ""), strict=True))}, separators=(",", ":")
)


def _legacy_mp4() -> bytes:
    data = samples.mp4()
    f = MP4(io.BytesIO(data))
    f.add_tags()
    assert f.tags is not None
    f.tags["----:com.apple.iTunes:AIGC"] = [MP4FreeForm(LEGACY_JSON.encode())]
    out = io.BytesIO(data)
    f.save(out)
    return out.getvalue()


def _mp4_with_udta_box(payload: bytes) -> bytes:
    """Another tool's label as a bare `moov/udta/AIGC` box (the chunk offset moves with moov)."""
    data = samples.mp4()
    moov = data.index(b"moov") - 4
    (size,) = struct.unpack(">I", data[moov : moov + 4])
    udta = samples.box(b"udta", samples.box(b"AIGC", payload))
    out = bytearray(data[: moov + size] + udta + data[moov + size :])
    out[moov : moov + 4] = struct.pack(">I", size + len(udta))
    stco = out.index(b"stco")
    (offset,) = struct.unpack(">I", out[stco + 12 : stco + 16])
    out[stco + 12 : stco + 16] = struct.pack(">I", offset + len(udta))
    return bytes(out)


def _legacy_wav() -> bytes:
    data = samples.wav()
    sub = b"ICMT" + struct.pack("<I", len(LEGACY_JSON) + 1) + LEGACY_JSON.encode() + b"\0" + b"\0"
    info = b"INFO" + b"IART" + struct.pack("<I", 4) + b"me\0\0" + sub[: 8 + len(LEGACY_JSON) + 1 + 1]
    body = info
    chunk = b"LIST" + struct.pack("<I", len(body)) + body
    out = data + chunk
    return out[:4] + struct.pack("<I", len(out) - 8) + out[8:]


def _legacy_xmp_jpeg() -> bytes:
    packet = xmp.EMPTY_PACKET.replace(
        b"</rdf:RDF>",
        b'<rdf:Description rdf:about="" xmlns:TC260="x" TC260:AIGC="'
        + LEGACY_JSON.replace('"', "&quot;").encode()
        + b'"/></rdf:RDF>',
    )
    return samples.jpeg(xmp=packet)


LEGACY: dict[str, Callable[[], bytes]] = {
    "png-tEXt": lambda: _png_with(b"tEXt", b"AIGC\0" + LEGACY_JSON.encode()),
    "png-zTXt": lambda: _png_with(b"zTXt", b"AIGC\0\0" + zlib.compress(LEGACY_JSON.encode())),
    "png-xmp": lambda: _png_with(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp.packet(LEGACY_JSON)),
    "jpeg-com": lambda: samples.jpeg(comment=LEGACY_JSON.encode()),
    "jpeg-xmp-attribute": _legacy_xmp_jpeg,
    "wav-list-info": _legacy_wav,
    "mp4-ilst": _legacy_mp4,
    "mp4-udta-box": lambda: _mp4_with_udta_box(LEGACY_JSON.encode()),
    "mp4-top-level-box": lambda: samples.mp4() + samples.box(b"AIGC", LEGACY_JSON.encode()),
    "png-itxt-aigc": lambda: _png_with(b"iTXt", b"AIGC\0\0\0\0\0" + LEGACY_JSON.encode()),
    "text-front-matter": lambda: (
        b"---\nAIGC:\n  ContentProducer: 'x'\n  Label: '1'\n  ProduceID: 'old'\n---\n\n# Title\n"
    ),
    "text-json-line": lambda: b"Some text.\n" + LEGACY_JSON.encode() + b"\n",
}


@pytest.mark.parametrize("case", list(LEGACY))
def test_a_legacy_label_is_found_and_replaced_not_duplicated(case: str) -> None:
    data = LEGACY[case]()
    [old] = files.find_labels(data)
    assert "old" in old.text
    label = label_for(data)
    labeled = files.embed(data, label)
    [new] = files.find_labels(labeled)
    assert not new.legacy
    assert AigcLabel.parse(new.text) == label
    assert "old" not in json.dumps(new.text)
    assert files.content_hash(labeled) == files.content_hash(data)


def test_png_png_with_legacy_xmp_and_other_metadata_keeps_the_other_metadata() -> None:
    body = b"XML:com.adobe.xmp\0\0\0\0\0" + xmp.insert(
        xmp.EMPTY_PACKET.replace(
            b"</rdf:RDF>", b"<rdf:Description><dc:title>t</dc:title></rdf:Description></rdf:RDF>"
        ),
        LEGACY_JSON,
    )
    data = _png_with(b"iTXt", body)
    labeled = files.embed(data, label_for(data))
    assert len(files.find_labels(labeled)) == 1
    assert b"<dc:title>t</dc:title>" in labeled


def test_wav_legacy_removal_keeps_the_other_info_fields() -> None:
    data = _legacy_wav()
    labeled = files.embed(data, label_for(data))
    assert b"IART" in labeled
    assert samples.wav_frames(labeled) == samples.wav_frames(data)
    (size,) = struct.unpack("<I", labeled[4:8])
    assert size == len(labeled) - 8


def test_mp4_legacy_removal_keeps_sample_offsets_right() -> None:
    data = _legacy_mp4()
    labeled = files.embed(data, label_for(data))
    assert _first_sample(labeled) == samples.MP4_SAMPLES


@pytest.mark.parametrize(
    "data",
    [
        samples.png()[:40],  # truncated PNG
        samples.png()[:-5] + b"XXXXX",  # broken IEND CRC
        b"\xff\xd8\xff\xe0\x00\x50JFIF",  # JPEG segment past the end
        b"RIFF\x10\x00\x00\x00WAVEdata\xff\x00\x00\x00",  # WAV chunk past the end
        samples.mp4()[:-3],  # MP4 box past the end
    ],
)
def test_damaged_files_raise_carrier_error(data: bytes) -> None:
    with pytest.raises(CarrierError):
        files.find_labels(data)


def test_binary_junk_is_not_a_supported_format() -> None:
    with pytest.raises(files.UnknownFormat):
        files.format_of(b"\x00\x01\x02binary")
