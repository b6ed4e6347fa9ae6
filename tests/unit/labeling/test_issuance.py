"""The service's pure rules: items, modality, explicit label, ProduceID, ledger, LB-9 retention."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from services.labeling.aigc import explicit, files, integrity
from services.labeling.aigc.label import field_findings
from services.labeling.domain import issuance, ledger
from shared.contracts.generation import GenerationOutput, OutputMedia
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
H1, H2 = "a" * 64, "b" * 64


def output(text: str | None = None, *media: tuple[str, str, str]) -> GenerationOutput:
    return GenerationOutput(
        text=text,
        media=[OutputMedia(media_id=m, kind=k, sha256=h) for m, k, h in media],  # type: ignore[arg-type]
    )


def test_items_are_the_text_and_every_media_file() -> None:
    items = issuance.items_of(output("你好", ("m1", "image", H1.upper()), ("m2", "audio", H2)))
    assert [(i.key, i.kind) for i in items] == [("text", "text"), ("m1", "image"), ("m2", "audio")]
    assert items[0].sha256 == hashlib.sha256("你好".encode()).hexdigest()
    assert items[1].sha256 == H1  # normalised to lower case
    assert issuance.items_of(None) == []


@pytest.mark.parametrize(
    ("service_type", "kind", "modality"),
    [
        ("text_writing", "text", "text"),
        ("text_dialogue", "text", "interactive"),  # GB-E6
        ("immersive_scene", "video", "immersive"),  # GB-E5
        ("digital_human", "video", "video"),
        ("face_swap", "image", "image"),
        ("voice_cloning", "audio", "audio"),
    ],
)
def test_modality_by_service_type_and_item(service_type: str, kind: str, modality: str) -> None:
    item = issuance.Item("k", "k", kind, H1)
    assert issuance.modality_of(service_type, item) == modality  # type: ignore[arg-type]


def test_every_explicit_label_has_compliant_wording_and_the_measurable_figures() -> None:
    for modality, label in issuance.EXPLICIT.items():
        assert label.modality == modality
        assert explicit.wording_ok(label.text), modality  # GB-E0
    assert issuance.EXPLICIT["image"].min_height_ratio == 0.05  # GB-E2
    assert (issuance.EXPLICIT["video"].min_height_ratio, issuance.EXPLICIT["video"].min_duration_s) == (
        0.05,
        2.0,
    )
    assert issuance.EXPLICIT["audio"].audio_rhythm == ".- .."  # GB-E3: Morse "AI"


@pytest.mark.parametrize(
    ("service_type", "required", "why", "explicit_given"),
    [
        ("face_swap", False, "explicit_label_ds17_service", True),
        ("image_generation", True, "explicit_label_review_required", True),
        ("image_generation", False, "explicit_label_function_offered", False),
    ],
)
def test_explicit_label_follows_ds17(
    service_type: str, required: bool, why: str, explicit_given: bool
) -> None:
    [issued] = issuance.issue_labels(
        producer_code=PRODUCER,
        key=PRODUCER_KEY,
        content_id="c1",
        service_type=service_type,  # type: ignore[arg-type]
        label_required=required,
        items=[issuance.Item("m1", "m1", "image", H1)],
    )
    assert (issued.explicit is not None) is explicit_given
    assert {"code": why, "article": "DS-17.1" if explicit_given else "DS-17.2"} in issued.reasons
    assert {"code": "implicit_label_issued", "article": "DS-16"} in issued.reasons


def test_labels_are_deterministic_unique_per_item_and_bound_to_the_hash() -> None:
    items = issuance.items_of(output("t", ("m1", "image", H1)))

    def issue() -> list[issuance.Issued]:
        return issuance.issue_labels(
            producer_code=PRODUCER,
            key=PRODUCER_KEY,
            content_id="c1",
            service_type="face_swap",
            label_required=True,
            items=items,
        )

    first, second = issue(), issue()
    assert [i.implicit for i in first] == [i.implicit for i in second]
    assert len({i.produce_id for i in first}) == 2
    assert issuance.produce_id(PRODUCER, "c2", "text") != first[0].produce_id
    for i in first:
        assert field_findings(i.implicit) == []
        data = integrity.parse(i.implicit.reserved_code1)
        assert data is not None
        assert data.content_sha256 == i.item.sha256
        assert i.implicit.is_first_write


FACTS = ledger.LabelFacts(
    provider_id="p1",
    producer_code=PRODUCER,
    content_id="c1",
    request_id="r1",
    user_id="u1",
    service_type="face_swap",
    decision_id="d1",
)


def test_the_ledger_knows_what_was_issued_and_keeps_lookup_arrays() -> None:
    [issued] = issuance.issue_labels(
        producer_code=PRODUCER,
        key=PRODUCER_KEY,
        content_id="c1",
        service_type="face_swap",
        label_required=True,
        items=[issuance.Item("m1", "m1", "image", H1)],
    )
    entry = ledger.entry(issued, event_id="e1", source_event_id="s1", now=NOW)
    state = ledger.with_labels(None, FACTS, [entry], NOW)
    assert ledger.already_issued(state, issued)
    assert state.produce_ids == (issued.produce_id,)
    assert state.hashes == (H1,)
    assert state.labels[0].implicit_label["AIGC"]["Label"] == "1"
    later = ledger.with_labels(
        state, FACTS, [entry.model_copy(update={"sha256": H2})], NOW + timedelta(days=1)
    )
    assert later.hashes == (H1, H2)
    assert later.first_labeled_at == NOW
    assert later.updated_at == NOW + timedelta(days=1)


def test_unlabeled_copies_are_kept_at_least_184_days_and_merge_recipients() -> None:
    first = ledger.unlabeled_copy(
        None,
        content_id="c1",
        distribution_id="d1",
        channel="download",
        recipients=["u2", "u1"],
        distributed_at=NOW,
        event_id="e1",
        now=NOW,
        retention_days=30,  # a too-short setting is raised to 184
    )
    assert first.lb9_expires_at == NOW + timedelta(days=184)
    assert first.recipients == ("u1", "u2")
    assert first.reasons == ({"code": "unlabeled_copy_logged", "article": "LB-9"},)
    again = ledger.unlabeled_copy(
        first,
        content_id="c1",
        distribution_id="d1",
        channel="download",
        recipients=["u3"],
        distributed_at=NOW,
        event_id="e2",
        now=NOW + timedelta(days=10),
        retention_days=184,
    )
    assert again.recipients == ("u1", "u2", "u3")
    assert again.logged_at == NOW
    assert again.lb9_expires_at == NOW + timedelta(days=194)


def test_content_hash_of_output_text_matches_a_text_file_of_it() -> None:
    [item] = issuance.items_of(output("生成的文字"))
    assert files.content_hash("生成的文字".encode()) == item.sha256
