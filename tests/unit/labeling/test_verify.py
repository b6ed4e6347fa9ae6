"""`verify`: a valid label passes; each kind of tampering has its code (GB-I5, GB-I9, DS-18, LB-10.2)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from services.labeling.aigc import files, issue
from services.labeling.aigc.label import AigcLabel
from services.labeling.aigc.verify import verify
from tests.unit.labeling import samples
from tests.unit.labeling.samples import OTHER_KEY, PLATFORM, PLATFORM_KEY, PRODUCER, PRODUCER_KEY, sha256

PUBLIC = PRODUCER_KEY.public_key()


def labeled(data: bytes, produce_id: str = "pid-1") -> bytes:
    label = issue.produce(
        producer_code=PRODUCER, produce_id=produce_id, content_sha256=sha256(data), key=PRODUCER_KEY
    )
    return files.embed(data, label)


def codes(data: bytes, **keys: object) -> list[str]:
    return [f.code for f in verify(data, PUBLIC, **keys).findings]  # type: ignore[arg-type]


@pytest.mark.parametrize("maker", [samples.png, samples.jpeg, samples.wav, samples.mp4, lambda: samples.TEXT])
def test_a_freshly_labeled_file_verifies(maker: object) -> None:
    data = maker()  # type: ignore[operator]
    report = verify(labeled(data), PUBLIC)
    assert report.ok, [f.as_dict() for f in report.findings]
    assert report.findings == []
    assert report.content_sha256 == sha256(data)


def test_changed_pixels_are_content_changed() -> None:
    good = labeled(samples.png())
    image = samples.gradient(96, 64)
    image.putpixel((10, 10), (255, 0, 0))
    tampered = files.embed(samples.png(image=image), AigcLabel.parse(files.find_labels(good)[0].text))
    assert codes(tampered) == ["content_changed"]


def test_changed_text_is_content_changed() -> None:
    good = labeled(samples.TEXT)
    assert codes(good.replace("人工智能".encode(), "人类".encode())) == ["content_changed"]


def test_changed_fields_break_the_signature() -> None:
    good = labeled(samples.jpeg())
    assert codes(good.replace(b"pid-1", b"pid-9")) == ["signature_invalid"]
    assert codes(good.replace(b'"Label":"1"', b'"Label":"2"')) == ["signature_invalid"]


def test_a_removed_label_is_missing() -> None:
    good = labeled(samples.wav())
    stripped = files.carrier_for(good).strip(good)
    assert codes(stripped) == ["label_missing"]
    assert not verify(stripped, PUBLIC).ok


def test_a_second_label_is_reported() -> None:
    good = labeled(samples.png())
    extra = b"AIGC\0" + files.find_labels(good)[0].text.encode()
    chunk = struct.pack(">I", len(extra)) + b"tEXt" + extra + struct.pack(">I", zlib.crc32(b"tEXt" + extra))
    at = good.rindex(b"IEND") - 4
    twice = good[:at] + chunk + good[at:]
    assert "label_duplicated" in codes(twice)
    text_twice = labeled(samples.TEXT) + files.find_labels(labeled(samples.TEXT))[0].text.encode() + b"\n"
    assert "label_duplicated" in codes(text_twice)


def test_another_producers_key_is_unknown() -> None:
    assert (
        codes(
            labeled(samples.mp4()),
        )
        == []
    )
    report = verify(labeled(samples.mp4()), OTHER_KEY.public_key())
    assert [f.code for f in report.findings] == ["signing_key_unknown"]


def test_a_forged_label_signed_with_another_key_claiming_our_code_fails() -> None:
    data = samples.png()
    forged = issue.produce(producer_code=PRODUCER, produce_id="x", content_sha256=sha256(data), key=OTHER_KEY)
    assert codes(files.embed(data, forged)) == ["signing_key_unknown"]


def test_bad_field_characters_and_first_write_mismatch_are_reported() -> None:
    data = samples.png()
    good = AigcLabel.parse(files.find_labels(labeled(data))[0].text)
    odd = AigcLabel(
        good.label,
        good.content_producer,
        good.produce_id,
        good.reserved_code1,
        good.content_propagator,
        good.propagate_id,
        "other",
    )
    assert "first_write_mismatch" in codes(files.embed(data, odd))
    text = labeled(samples.TEXT)
    good = AigcLabel.parse(files.find_labels(text)[0].text)
    # the text carrier is YAML front matter (PG-20258A): edit the ProduceID line there
    spaced = text.replace(f"ProduceID: '{good.produce_id}'".encode(), b"ProduceID: 'has space'")
    assert {"label_charset_invalid", "signature_invalid"} <= set(codes(spaced))


def test_propagated_label_checks_reserved_code2_when_the_platform_key_is_given() -> None:
    data = labeled(samples.jpeg())
    base = AigcLabel.parse(files.find_labels(data)[0].text)
    prop = issue.propagate(
        base,
        propagator_code=PLATFORM,
        propagate_id="post-1",
        content_sha256=files.content_hash(data),
        key=PLATFORM_KEY,
    )
    shared = files.embed(data, prop)
    assert codes(shared) == ["propagator_not_checked"]
    assert verify(shared, PUBLIC).ok  # a warning only
    assert codes(shared, propagator_key=PLATFORM_KEY.public_key()) == []
    assert codes(shared.replace(b"post-1", b"post-2"), propagator_key=PLATFORM_KEY.public_key()) == [
        "propagator_signature_invalid"
    ]


def test_unsupported_and_corrupt_files() -> None:
    assert codes(b"\x00\x01binary") == ["file_format_unknown"]
    assert codes(labeled(samples.png())[:-30]) == ["file_corrupt"]
    assert codes(io.BytesIO(b"").getvalue()) == ["label_missing"]  # an empty file is (empty) text
