"""LB-6 on the dissemination side: confirmed "1", possible "2", suspected "3", or none; propagation fields."""

from __future__ import annotations

import pytest

from services.labeling.aigc import dissemination, files, issue
from services.labeling.aigc.label import AigcLabel
from services.labeling.aigc.verify import verify
from tests.unit.labeling import samples
from tests.unit.labeling.samples import PLATFORM, PLATFORM_KEY, PRODUCER, PRODUCER_KEY, sha256


def labeled(data: bytes) -> bytes:
    label = issue.produce(
        producer_code=PRODUCER, produce_id="pid-1", content_sha256=sha256(data), key=PRODUCER_KEY
    )
    return files.embed(data, label)


def share(
    data: bytes, declared: bool = False, detected: bool = False
) -> tuple[dissemination.Classification, bytes | None]:
    return dissemination.propagate(
        data,
        propagator_code=PLATFORM,
        propagate_id="post-7",
        key=PLATFORM_KEY,
        user_declared=declared,
        detected=detected,
    )


def only_label(data: bytes) -> AigcLabel:
    [found] = files.find_labels(data)
    return AigcLabel.parse(found.text)


def test_metadata_label_1_is_confirmed_and_keeps_the_producer_fields() -> None:
    original = labeled(samples.png())
    decision, out = share(original)
    assert decision.outcome == "confirmed"
    assert out is not None
    label = only_label(out)
    before = only_label(original)
    assert (label.label, label.content_producer, label.produce_id, label.reserved_code1) == before.values()[
        :4
    ]
    assert (label.content_propagator, label.propagate_id) == (PLATFORM, "post-7")
    report = verify(out, PRODUCER_KEY.public_key(), PLATFORM_KEY.public_key())
    assert report.ok
    assert report.findings == []


def test_declared_without_label_is_possible() -> None:
    decision, out = share(samples.jpeg(), declared=True)
    assert (decision.outcome, decision.label_value) == ("possible", "2")
    assert out is not None
    label = only_label(out)
    assert (label.label, label.content_producer, label.produce_id, label.reserved_code1) == ("2", "", "", "")
    assert verify(out, PRODUCER_KEY.public_key(), PLATFORM_KEY.public_key()).ok


@pytest.mark.parametrize(
    ("data", "trace"),
    [
        ("这段文字由AI生成。\n".encode(), "explicit_label_text"),
        (samples.png(), "platform_detection"),
    ],
)
def test_traces_without_label_or_declaration_are_suspected(data: bytes, trace: str) -> None:
    decision, out = share(data, detected=trace == "platform_detection")
    assert decision.outcome == "suspected"
    assert trace in decision.traces
    assert out is not None
    assert only_label(out).label == "3"


def test_iptc_digital_source_type_in_xmp_is_a_trace() -> None:
    packet = (
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        b'<rdf:Description Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/'
        b'trainedAlgorithmicMedia"/></rdf:RDF></x:xmpmeta>'
    )
    decision = dissemination.classify(samples.jpeg(xmp=packet), user_declared=False)
    assert decision.outcome == "suspected"
    assert "iptc_digital_source_type" in decision.traces


def test_nothing_at_all_is_none_and_nothing_is_written() -> None:
    decision, out = share(samples.wav())
    assert decision.outcome == "none"
    assert decision.label_value is None
    assert out is None
