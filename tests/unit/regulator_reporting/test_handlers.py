"""Handlers: which events are reportable, where they go, and acknowledgements (DS-10.3, DS-11)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from devtools.testing.events import cloud_event
from services.regulator_reporting.domain import incidents as inc
from services.regulator_reporting.handlers import ReportingHandlers, by_incident, by_report, recipient_ref
from services.regulator_reporting.ports import NewReport
from shared.messaging.codec import Inbound, RawRecord, decode
from shared.messaging.engine import Unprocessable
from tests.unit.regulator_reporting.factories import NOW, POLICY
from tests.unit.regulator_reporting.fakes import MemoryLedger

TYPES = frozenset(
    {
        "dsgov.generation.rejected",
        "dsgov.output.blocked",
        "dsgov.user.sanctioned",
        "dsgov.rumour.recorded",
        "dsgov.refutation.notice",
        "dsgov.content.takedown-required",
        "dsgov.takedown.ordered",
        "dsgov.report.acknowledged",
    }
)


def inbound(topic: str, type_: str, data: dict[str, Any], subject: str, **kw: Any) -> Inbound[Any]:
    event = cloud_event(type_, data, subject=subject, **kw)
    value = json.dumps(event).encode()  # ASCII escapes: a lone surrogate survives as `\ud800`
    decoded = decode(RawRecord(topic, 0, 0, subject.encode("utf-8", "surrogatepass"), value), TYPES)
    assert isinstance(decoded, Inbound), decoded
    return decoded


def rejected(request_id: str, *codes: str) -> Inbound[Any]:
    reasons = [{"code": c, "article": "DS-10.2", "detail": "matched entry 17 for 张三"} for c in codes]
    data = {"request_id": request_id, "user_id": "u-1", "decision_id": f"d-{request_id}", "reasons": reasons}
    return inbound("dsgov.review", "dsgov.generation.rejected", data, request_id)


def handlers(ledger: MemoryLedger | None = None) -> ReportingHandlers:
    return ReportingHandlers(ledger or MemoryLedger(), POLICY, lambda: NOW)


async def test_a_refusal_for_other_reasons_is_not_reported() -> None:
    event = rejected("r1", "identity_unverified")

    assert by_incident(event) == "provider-test/not-reportable"
    assert (await handlers().on_incident_event(None, event)).state is None


async def test_a_prohibited_input_becomes_a_due_incident_without_free_text() -> None:
    event = rejected("r2", "prohibited_content", "identity_unverified")

    state = (await handlers().on_incident_event(None, event)).state

    assert by_incident(event) == "provider-test/illegal_content/input/r2"
    assert state is not None
    assert state.due_ms == int(NOW.timestamp() * 1000)
    assert state.correlation_id == event.id
    assert "张三" not in state.model_dump_json()  # `detail` never leaves (checked in the stored form)


async def test_rumour_texts_and_recipients_are_kept_only_as_digests() -> None:
    recorded = inbound(
        "dsgov.rumour",
        "dsgov.rumour.recorded",
        {
            "rumour_id": "ru-1",
            "notice_id": "n-1",
            "claim_text": "秘密的谣言",
            "refutation_text": "辟谣",
            "matched_content_ids": ["c1"],
        },
        "ru-1",
    )
    notice = inbound(
        "dsgov.rumour",
        "dsgov.refutation.notice",
        {"recipient_user_id": "viewer-42", "notice_id": "n-1", "refutation_text": "辟谣"},
        "viewer-42",
    )
    h = handlers()

    state = (await h.on_incident_event(None, recorded)).state
    state = (await h.on_incident_event(state, notice)).state

    assert by_incident(recorded) == by_incident(notice) == "provider-test/rumour/n-1"
    assert state is not None
    stored = state.model_dump_json()  # the stored form (model_dump_json keeps non-ASCII as is)
    for plaintext in ("秘密的谣言", "辟谣", "viewer-42"):
        assert plaintext not in stored
    assert state.acc.recipient_refs == (recipient_ref("viewer-42"),)
    assert inc.draft_of(state)["facts"]["claim_text_sha256"] == inc.sha256_text("秘密的谣言")


async def test_facts_outside_the_json_number_range_are_dead_lettered() -> None:
    # RFC 8785 cannot represent integers beyond 2**53: such a report could never be verified.
    data = {
        "request_id": "r-big",
        "user_id": "u-1",
        "decision_id": "d-1",
        "library_version": 2**60,
        "reasons": [{"code": "prohibited_content", "article": "DS-10.2"}],
    }
    event = inbound("dsgov.review", "dsgov.output.blocked", data, "r-big")

    with pytest.raises(Unprocessable, match="RFC 8785"):
        await handlers().on_incident_event(None, event)


def ack(
    report_id: str, sequence: int, status: str = "accepted", errors: list[str] | None = None, **kw: Any
) -> Inbound[Any]:
    data = {"report_id": report_id, "sequence": sequence, "status": status, "errors": errors or []}
    return inbound("dsgov.regulator.acks", "dsgov.report.acknowledged", data, report_id, **kw)


async def ledger_with_report() -> MemoryLedger:
    ledger = MemoryLedger()
    report = NewReport(
        "provider-test", 1, "rep-1", "k", "h" * 64, "0" * 64, "k1", "rumour", "dd", "ev", "co", "{}"
    )
    await ledger.append([report], 0, 1000)
    return ledger


async def test_an_acknowledgement_is_recorded_and_stops_resending() -> None:
    ledger = await ledger_with_report()

    outcome = await handlers(ledger).on_acknowledged(None, ack("rep-1", 1))

    assert by_report(ack("rep-1", 1)) == "provider-test/ack/rep-1"
    assert ledger.docs[("provider-test", 1)]["ack_status"] == "accepted"
    assert ledger.docs[("provider-test", 1)]["next_send_ms"] == inc.NEVER
    assert outcome.state is not None
    assert len(outcome.state.acks) == 1


async def test_a_rejection_is_kept_with_its_errors_and_logged(capsys: pytest.CaptureFixture[str]) -> None:
    ledger = await ledger_with_report()

    await handlers(ledger).on_acknowledged(None, ack("rep-1", 1, "rejected", ["facts incomplete"]))

    doc = ledger.docs[("provider-test", 1)]
    assert (doc["ack_status"], doc["ack_errors"]) == ("rejected", ["facts incomplete"])
    assert "report.rejected_by_regulator" in capsys.readouterr().out


async def test_the_latest_answer_by_time_wins_whatever_order_they_arrive_in() -> None:
    ledger = await ledger_with_report()
    h = handlers(ledger)
    later = ack("rep-1", 1, "accepted")
    earlier = ack("rep-1", 1, "rejected", ["x"])
    object.__setattr__(earlier.event, "time", later.event.time - timedelta(minutes=5))

    state = (await h.on_acknowledged(None, later)).state
    await h.on_acknowledged(state, earlier)

    assert ledger.docs[("provider-test", 1)]["ack_status"] == "accepted"


@pytest.mark.parametrize(
    ("report_id", "sequence", "why"), [("nope", 1, "has no report nope"), ("rep-1", 2, "has no report rep-1")]
)
async def test_an_acknowledgement_of_an_unknown_report_or_wrong_sequence_is_dead_lettered(
    report_id: str, sequence: int, why: str
) -> None:
    ledger = await ledger_with_report()
    with pytest.raises(Unprocessable, match=why):
        await handlers(ledger).on_acknowledged(None, ack(report_id, sequence))
    assert ledger.docs[("provider-test", 1)]["ack_status"] == "pending"
