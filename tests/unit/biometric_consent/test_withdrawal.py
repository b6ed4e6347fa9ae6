"""Withdrawal (PI-15): immediate, idempotent, from the subject or an operator, never erasing history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.biometric_consent.domain.consent import Policy, decide_grant, decide_withdrawal, settle_expiry
from services.biometric_consent.domain.history import export_proof, verify_proof
from tests.unit.biometric_consent.conftest import ADULTS, NOW, by_console, by_subject, cause, grant

LATER = NOW + timedelta(hours=1)


def granted() -> dict[str, Any]:
    state = decide_grant(None, grant(), ADULTS, cause("g1"), Policy()).state
    assert state is not None
    return state


def test_the_subject_withdraws_at_once_and_the_grant_stays_on_record() -> None:
    decision = decide_withdrawal(granted(), by_subject(reason="changed my mind"), cause("w1", LATER))

    assert decision.state is not None
    assert decision.state.status == "withdrawn"
    assert decision.state.grant.subject_id == "alice"  # nothing erased (PI-15)
    [emitted] = decision.emissions
    assert emitted.kind == "withdrawn"
    assert emitted.actor == "subject"
    assert emitted.reasons == ("consent_withdrawn",)
    assert emitted.occurred_at == LATER
    assert emitted.expires_at == NOW + timedelta(days=30)
    granted_entry, withdrawn_entry = decision.state.history
    assert granted_entry.event == "granted"
    assert withdrawn_entry.details["reason_text"] == "changed my mind"


def test_an_operator_withdraws_with_a_reason_and_is_recorded_as_the_actor() -> None:
    decision = decide_withdrawal(granted(), by_console(), cause("w1", LATER))
    [emitted] = decision.emissions
    assert emitted.actor == "console:ops-li"
    assert decision.state is not None
    entry = decision.state.history[-1]
    assert entry.actor == "console:ops-li"
    assert entry.details["reason_text"] == "asked by phone"
    assert entry.details["channel"] == "console"


def test_withdrawing_twice_publishes_nothing_new() -> None:
    first = decide_withdrawal(granted(), by_subject(), cause("w1", LATER))
    again = decide_withdrawal(first.state, by_console(), cause("w2", LATER + timedelta(minutes=1)))
    assert again.state is None
    assert again.emissions == ()


def test_withdrawing_an_expired_consent_publishes_nothing_new() -> None:
    expired = settle_expiry(granted(), NOW + timedelta(days=30)).state
    assert expired is not None
    assert expired.status == "expired"
    decision = decide_withdrawal(expired, by_subject(), cause("w1", NOW + timedelta(days=31)))
    assert decision.state is None
    assert decision.emissions == ()


def test_a_withdrawal_after_the_expiry_passed_expires_the_consent_and_withdraws_nothing() -> None:
    decision = decide_withdrawal(granted(), by_subject(), cause("w1", NOW + timedelta(days=31)))
    assert [e.kind for e in decision.emissions] == ["expired"]
    assert decision.state is not None
    assert decision.state.status == "expired"


def test_someone_else_cannot_withdraw_from_the_platform_the_attempt_is_recorded() -> None:
    decision = decide_withdrawal(granted(), by_subject("mallory"), cause("w1", LATER))

    assert decision.emissions == ()
    assert decision.state is not None
    assert decision.state.status == "granted"
    entry = decision.state.history[-1]
    assert entry.event == "withdrawal_refused"
    assert entry.reasons == ("withdrawal_not_by_subject",)
    assert entry.details["claimed_subject_id"] == "mallory"


def test_a_console_viewer_cannot_withdraw() -> None:
    decision = decide_withdrawal(granted(), by_console(role="viewer"), cause("w1", LATER))
    assert decision.emissions == ()
    assert decision.state is not None
    assert decision.state.status == "granted"
    assert decision.state.history[-1].reasons == ("withdrawal_actor_not_permitted",)


def test_a_withdrawal_before_its_grant_is_remembered_and_the_grant_is_then_rejected() -> None:
    early = decide_withdrawal(None, by_subject(), cause("w1"))
    assert early.emissions == ()
    assert early.state is not None
    assert early.state.status == "awaiting_grant"
    assert early.state.history[0].event == "withdrawal_before_grant"

    late = decide_grant(early.state, grant(), ADULTS, cause("g1", LATER), Policy())
    [emitted] = late.emissions
    assert emitted.kind == "rejected"
    assert emitted.reasons == ("consent_withdrawn_before_grant",)
    # ... and stays so when the platform submits the grant again.
    again = decide_grant(late.state, grant(), ADULTS, cause("g2", LATER), Policy())
    assert again.emissions[0].reasons == ("consent_withdrawn_before_grant",)


def test_an_early_console_withdrawal_also_blocks_the_grant() -> None:
    early = decide_withdrawal(None, by_console(), cause("w1"))
    late = decide_grant(early.state, grant(), ADULTS, cause("g1", LATER), Policy())
    assert late.emissions[0].reasons == ("consent_withdrawn_before_grant",)


def test_an_early_withdrawal_by_someone_else_is_refused_when_the_grant_arrives() -> None:
    early = decide_withdrawal(None, by_subject("mallory"), cause("w1"))
    late = decide_grant(early.state, grant(), ADULTS, cause("g1", LATER), Policy())

    [emitted] = late.emissions
    assert emitted.kind == "granted"
    assert late.state is not None
    assert [e.event for e in late.state.history] == [
        "withdrawal_before_grant",
        "withdrawal_refused",
        "granted",
    ]
    assert late.state.early_withdrawals == ()


def test_the_same_early_withdrawal_twice_is_remembered_once() -> None:
    early = decide_withdrawal(None, by_subject(), cause("w1"))
    again = decide_withdrawal(early.state, by_subject(), cause("w2"))
    assert again.state is None


def test_a_withdrawal_after_a_rejection_blocks_a_later_resubmission() -> None:
    rejected = decide_grant(None, grant(), {}, cause("g1"), Policy())
    withdrawn = decide_withdrawal(rejected.state, by_subject(), cause("w1", LATER))
    assert withdrawn.emissions == ()
    resubmitted = decide_grant(withdrawn.state, grant(), ADULTS, cause("g2", LATER), Policy())
    assert resubmitted.emissions[0].reasons == ("consent_withdrawn_before_grant",)


def test_expiry_happens_at_expires_at_not_before() -> None:
    state = granted()
    assert settle_expiry(state, NOW + timedelta(days=30) - timedelta(milliseconds=1)).state is None
    decision = settle_expiry(state, NOW + timedelta(days=30))
    [emitted] = decision.emissions
    assert emitted.kind == "expired"
    assert emitted.actor == "system"
    assert emitted.occurred_at == NOW + timedelta(days=30)  # when it expired, not when noticed
    assert decision.state is not None
    assert settle_expiry(decision.state, NOW + timedelta(days=40)).state is None  # once


def test_the_whole_life_of_a_consent_is_a_verifiable_proof() -> None:
    early = decide_withdrawal(None, by_subject("mallory"), cause("w0"))
    state = decide_grant(early.state, grant(), ADULTS, cause("g1", LATER), Policy()).state
    state = decide_withdrawal(state, by_subject("mallory"), cause("w1", LATER)).state
    state = decide_withdrawal(state, by_console(), cause("w2", LATER)).state
    assert state is not None
    proof = export_proof(state)
    assert verify_proof(proof) == []
    assert proof["status"] == "withdrawn"
    assert [e["event"] for e in proof["entries"]] == [
        "withdrawal_before_grant",
        "withdrawal_refused",
        "granted",
        "withdrawal_refused",
        "withdrawn",
    ]
