"""The Annex E label object: seven keys in order, string values, the allowed characters (GB-I1..I8)."""

from __future__ import annotations

import json

import pytest

from services.labeling.aigc.label import FIELDS, AigcLabel, LabelFormatError, allowed_char, field_findings
from tests.unit.labeling.samples import PLATFORM, PRODUCER

GOOD = AigcLabel("1", PRODUCER, "pid-1", "rc1", PRODUCER, "pid-1", "rc1")


def codes(label: AigcLabel) -> list[str]:
    return [f.code for f in field_findings(label)]


def test_serialised_with_the_keys_in_annex_e_order_and_compact() -> None:
    text = GOOD.to_json()
    assert text.startswith('{"AIGC":{"Label":"1","ContentProducer":"')
    assert list(json.loads(text)["AIGC"]) == list(FIELDS)
    assert " " not in text
    assert AigcLabel.parse(text) == GOOD


def test_allowed_character_range_gb_i8() -> None:
    allowed = {chr(c) for c in range(0x20, 0x7F) if allowed_char(chr(c))}
    assert {" ", '"', "\\"}.isdisjoint(allowed)
    assert {"!", "#", "[", "]", "~", "+", "/", "=", "-", "_", "."} <= allowed
    assert len(allowed) == 95 - 3
    assert not allowed_char("生")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("not json", "label_not_json"),
        ('{"AIGC": {"Label": "1"}}', "label_keys_invalid"),
        ('{"aigc": {}}', "label_not_json"),
        ('{"AIGC": [1]}', "label_keys_invalid"),
        ('{"AIGC": {}, "AIGC2": {}}', "label_not_json"),
    ],
)
def test_malformed_labels_are_rejected_with_a_code(text: str, code: str) -> None:
    with pytest.raises(LabelFormatError) as info:
        AigcLabel.parse(text)
    assert info.value.finding.code == code


def test_key_order_matters_gb_i2() -> None:
    fields = dict(zip(FIELDS, GOOD.values(), strict=True))
    shuffled = {"ProduceID": fields.pop("ProduceID"), **fields}
    with pytest.raises(LabelFormatError) as info:
        AigcLabel.parse(json.dumps({"AIGC": shuffled}))
    assert info.value.finding.code == "label_key_order"


def test_label_value_must_be_a_string_gb_i3() -> None:
    obj = GOOD.to_object()
    obj["AIGC"]["Label"] = 1  # type: ignore[assignment]
    with pytest.raises(LabelFormatError) as info:
        AigcLabel.parse(json.dumps(obj))
    assert info.value.finding.code == "label_value_invalid"


def test_a_good_label_has_no_findings() -> None:
    assert codes(GOOD) == []


@pytest.mark.parametrize(
    ("label", "code"),
    [
        (AigcLabel("4", PRODUCER, "p", "", PRODUCER, "p", ""), "label_value_invalid"),
        (AigcLabel("1", PRODUCER, "has space", "", PRODUCER, "p", ""), "label_charset_invalid"),
        (AigcLabel("1", PRODUCER, 'q"uote', "", PRODUCER, "p", ""), "label_charset_invalid"),
        (AigcLabel("1", "Acme AI", "p", "", "Acme AI", "p", ""), "producer_code_invalid"),
        (AigcLabel("1", PRODUCER, "", "", PRODUCER, "p", ""), "produce_id_missing"),
        (AigcLabel("1", PRODUCER, "p", "", "", "", ""), "propagation_fields_missing"),
        (AigcLabel("1", PRODUCER, "p", "", "00119144030070846113", "q", ""), "propagator_code_invalid"),
    ],
)
def test_field_problems_are_found(label: AigcLabel, code: str) -> None:
    assert code in codes(label)


def test_an_unattributed_platform_label_needs_no_producer() -> None:
    assert codes(AigcLabel("3", "", "", "", PLATFORM, "post-9", "rc2")) == []
