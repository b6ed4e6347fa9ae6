"""`verify --mode conformance`: any provider's file against GB 45438 Annex E and the TC260 guides only.

A provider name instead of a code, an empty or opaque ReservedCode1 are allowed there (warnings);
a label outside the guide carriers, a Label outside 1/2/3, a missing propagation field are not.
Strict mode is for our own labels and treats an old (pre-guide) carrier as a warning only.
"""

from __future__ import annotations

import json
import struct
import zlib

from services.labeling.aigc import files, issue
from services.labeling.aigc.label import FIELDS, AigcLabel
from services.labeling.aigc.verify import Report, verify
from tests.unit.labeling import media, samples
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY, PRODUCER_SM2


def theirs(*values: str) -> AigcLabel:
    return AigcLabel.from_fields(dict(zip(FIELDS, values, strict=True)))


def conformance(data: bytes) -> Report:
    return verify(data, mode="conformance")


def errors(report: Report) -> list[str]:
    return [f.code for f in report.findings if f.severity == "error"]


def warnings(report: Report) -> list[str]:
    return [f.code for f in report.findings if f.severity == "warning"]


def test_a_provider_name_and_an_empty_reserved_code_conform() -> None:
    label = theirs("1", "SomeVendorAI", "v-123", "", "SomeVendorAI", "v-123", "")
    report = conformance(files.embed(media.mp3(), label))
    assert report.ok, report.findings
    assert warnings(report) == ["provider_name_used", "integrity_data_empty"]


def test_an_opaque_reserved_code_conforms_with_a_warning() -> None:
    label = theirs("1", PRODUCER, "v-1", "0123abcdef0123abcdef0123abcdef0123abcdef", PRODUCER, "v-1", "")
    report = conformance(files.embed(samples.png(), label))
    assert errors(report) == ["first_write_mismatch"]  # GB-I7: RC2 must equal RC1 on first write
    assert "integrity_data_unverified" in warnings(report)


def test_annex_e_violations_do_not_conform() -> None:
    bad_value = theirs("AIGC", "Vendor", "v-1", "", "Vendor", "v-1", "")  # seen in the wild
    assert "label_value_invalid" in errors(conformance(files.embed(media.flac(), bad_value)))
    no_propagation = theirs("1", "Vendor", "v-1", "", "", "", "")
    assert errors(conformance(files.embed(media.flac(), no_propagation))) == ["propagation_fields_missing"]
    bad_code = theirs("1", "001191440300708461136A1XGW3", "v", "", "001191440300708461136A1XGW3", "v", "")
    assert "producer_code_invalid" in errors(conformance(files.embed(media.flac(), bad_code)))


def test_our_sm2_label_conforms_and_is_self_consistent_without_a_key() -> None:
    data = files.embed(
        media.mp4(),
        issue.produce(
            producer_code=PRODUCER,
            produce_id="p",
            content_sha256=files.content_hash(media.mp4()),
            key=PRODUCER_SM2,
        ),
    )
    report = conformance(data)
    assert errors(report) == []
    assert warnings(report) == ["signing_key_untrusted"]
    assert verify(data, PRODUCER_SM2.public_key(), mode="conformance").findings == []
    assert "signature_invalid" in errors(conformance(data.replace(b'"ProduceID":"p"', b'"ProduceID":"q"')))


def _png_with_itxt_aigc(label: AigcLabel) -> bytes:
    """The carrier dsgov wrote before the guides were followed: iTXt keyword AIGC."""
    data = samples.png()
    body = b"AIGC\0\0\0\0\0" + label.to_json().encode()
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    at = data.rindex(b"IEND") - 4
    return data[:at] + chunk + data[at:]


def test_an_old_dsgov_carrier_is_not_conformant_but_its_ed25519_label_still_verifies_strictly() -> None:
    label = issue.produce(
        producer_code=PRODUCER,
        produce_id="old",
        content_sha256=files.content_hash(samples.png()),
        key=PRODUCER_KEY,
    )
    old = _png_with_itxt_aigc(label)
    assert files.content_hash(old) == files.content_hash(samples.png())
    strict = verify(old, PRODUCER_KEY.public_key())
    assert strict.ok
    assert warnings(strict) == ["label_carrier_not_guide"]
    assert "label_carrier_not_guide" in errors(conformance(old))
    relabeled = files.embed(old, label)  # re-embedding moves it to the guide carrier, one label
    assert verify(relabeled, PRODUCER_KEY.public_key()).findings == []
    assert json.loads(files.find_labels(relabeled)[0].text)["AIGC"]["ProduceID"] == "old"


def test_a_wrapped_object_where_the_guide_has_the_bare_one_is_a_warning() -> None:
    label = theirs("1", "Vendor", "v-1", "", "Vendor", "v-1", "")
    data = media.mp4_labeled_by_ffmpeg(label.to_json())  # {"AIGC": {...}} in the mdta key
    report = conformance(data)
    assert report.ok
    assert "label_payload_wrapped" in warnings(report)
    assert "label_payload_wrapped" not in warnings(conformance(files.embed(media.mp4(), label)))
