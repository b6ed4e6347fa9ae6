"""The handlers without a broker: output.approved -> content.labeled; duplicates; dead letters; LB-9."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from devtools.testing.events import cloud_event
from services.labeling.handlers import LabelingHandlers, copy_key, ledger_key
from shared.contracts.envelope import CloudEvent
from shared.contracts.labeling import ContentLabeled
from shared.contracts.registry import spec_for
from shared.messaging.codec import Inbound, RawRecord
from shared.messaging.engine import Unprocessable
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY

NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
H1 = "c" * 64


def inbound(
    topic: str, type_: str, data: dict[str, Any], subject: str, event_id: str | None = None
) -> Inbound[Any]:
    raw = cloud_event(type_, data, subject=subject, event_id=event_id)
    spec = spec_for(topic, type_)
    assert spec is not None
    return Inbound(
        RawRecord(topic, 0, 0, subject.encode(), b""),
        CloudEvent.model_validate(raw),
        spec.model.model_validate(data),
    )


def approved(
    content_id: str | None = "c-1", output: dict[str, Any] | None = None, **extra: Any
) -> Inbound[Any]:
    data = {
        "request_id": "r-1",
        "user_id": "u-1",
        "decision_id": "d-1",
        "service_type": "face_swap",
        "label_required": True,
        "content_id": content_id,
        "output": output
        if output is not None
        else {"media": [{"media_id": "m1", "kind": "image", "sha256": H1}]},
        **extra,
    }
    return inbound("dsgov.review", "dsgov.output.approved", data, "r-1")


def distributed(kept: bool) -> Inbound[Any]:
    data = {
        "content_id": "c-1",
        "distribution_id": "dist-1",
        "recipients": ["u-9"],
        "channel": "download",
        "explicit_label_kept": kept,
    }
    return inbound("dsgov.platform.distribution", "dsgov.content.distributed", data, "c-1")


@pytest.fixture
def handlers() -> LabelingHandlers:
    return LabelingHandlers(PRODUCER, PRODUCER_KEY, clock=lambda: NOW)


async def test_an_approved_output_gets_one_label_event_per_item(handlers: LabelingHandlers) -> None:
    event = approved(output={"text": "t", "media": [{"media_id": "m1", "kind": "image", "sha256": H1}]})
    outcome = await handlers.on_output_approved(None, event)
    assert len(outcome.events) == 2
    for out in outcome.events:
        assert out.type == "dsgov.content.labeled"
        assert out.subject == "c-1"
        assert out.causationid == event.id
        payload = ContentLabeled.model_validate(out.data)
        assert next(iter(payload.implicit_label["AIGC"])) == "Label"
        assert payload.produce_id == payload.implicit_label["AIGC"]["ProduceID"]
    assert outcome.state is not None
    assert outcome.state.content_id == "c-1"
    assert len(outcome.state.labels) == 2
    assert outcome.state.produce_ids == tuple(sorted(e.produce_id for e in outcome.state.labels))


async def test_a_second_approval_of_the_same_content_issues_nothing_new(handlers: LabelingHandlers) -> None:
    first = await handlers.on_output_approved(None, approved())
    again = await handlers.on_output_approved(first.state, approved())  # another event id, same output
    assert list(again.events) == []
    assert again.state is None
    fresh = await LabelingHandlers(PRODUCER, PRODUCER_KEY, clock=lambda: NOW).on_output_approved(
        None, approved()
    )
    assert [e.id for e in fresh.events] == [e.id for e in first.events]  # same label, same event id


@pytest.mark.parametrize(
    ("event", "code"),
    [
        (approved(content_id=None), "content_id_missing"),
        (approved(output={"media": []}), "output_missing"),
    ],
)
async def test_unlabelable_approvals_are_dead_lettered(
    handlers: LabelingHandlers, event: Inbound[Any], code: str
) -> None:
    with pytest.raises(Unprocessable, match=code):
        await handlers.on_output_approved(None, event)


async def test_lb9_logs_only_unlabeled_copies(handlers: LabelingHandlers) -> None:
    assert (await handlers.on_content_distributed(None, distributed(kept=True))).state is None
    outcome = await handlers.on_content_distributed(None, distributed(kept=False))
    assert outcome.state is not None
    assert outcome.state.recipients == ("u-9",)
    assert list(outcome.events) == []


def test_aggregates_group_labels_by_content_and_keep_lb9_records_apart() -> None:
    assert ledger_key(approved()) == "provider-test/c-1"
    assert ledger_key(approved(content_id=None)) == "provider-test/request:r-1"
    assert copy_key(distributed(kept=False)) == "provider-test/lb9/c-1/dist-1"
    # A labeled copy records nothing; it must not fold into (and re-type) the content's ledger.
    assert copy_key(distributed(kept=True)) == "provider-test/labeled-copies/c-1"
    assert copy_key(distributed(kept=True)) != ledger_key(approved())
