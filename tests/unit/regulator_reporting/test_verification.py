"""`verify` over in-memory streams: each kind of tampering is named at the first failing report."""

from __future__ import annotations

import json

from services.regulator_reporting.chain import GENESIS_HASH
from services.regulator_reporting.domain.reports import Head
from services.regulator_reporting.outbound import build_report
from services.regulator_reporting.verification import StreamRecord, verify_stream
from shared.messaging.codec import encode
from tests.unit.regulator_reporting.factories import (
    NOW,
    pending_for,
    records,
    resealed,
    ring,
    signer,
    stream,
    with_data,
)

KEY = signer("k1", 1)
KEYS = ring(KEY)


def test_an_intact_stream_verifies_with_its_head() -> None:
    events = stream(5, KEY)

    result = verify_stream(records(events), KEYS)

    assert result.ok, result.failure
    summary = result.providers["prov-1"]
    assert (summary.reports, summary.resends, summary.keys) == (5, 0, {"k1"})
    assert summary.head_hash == events[-1].data["hash"]


def test_an_identical_re_sent_copy_is_not_an_error() -> None:
    events = stream(4, KEY)

    result = verify_stream(records([*events, events[1], events[3]]), KEYS)

    assert result.ok, result.failure
    assert result.providers["prov-1"].resends == 2


def test_changed_content_is_named_as_tampered() -> None:
    events = stream(4, KEY)
    facts = {**events[2].data["facts"], "user_id": "someone-else"}
    events[2] = with_data(events[2], facts=facts)

    failure = verify_stream(records(events), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence, failure.where) == ("tampered", 3, "line 3")
    assert events[2].data["report_id"] in failure.describe()


def test_content_re_hashed_without_the_key_is_named_as_bad_signature() -> None:
    events = stream(4, KEY)
    forged = resealed(events[1], signer("k1", 9), actions_taken=[])  # same key id, someone else's key

    failure = verify_stream(records([events[0], forged, *events[2:]]), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence) == ("bad_signature", 2)


def test_a_report_signed_with_an_unknown_key_is_named() -> None:
    events = stream(3, KEY)
    events[2] = resealed(events[2], signer("k-unknown", 7))

    failure = verify_stream(records(events), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence) == ("unknown_key", 3)


def test_a_missing_report_is_named_as_a_gap() -> None:
    events = stream(6, KEY)
    del events[2]

    failure = verify_stream(records(events), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence, failure.where) == ("gap", 4, "line 3")
    assert "sequence 3 missing" in failure.detail


def test_a_stream_that_does_not_start_at_one_has_a_gap() -> None:
    failure = verify_stream(records(stream(3, KEY)[1:]), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence) == ("gap", 2)


def test_two_different_reports_with_one_sequence_number_are_a_conflict() -> None:
    # The provider itself signed two versions of report 2: both verify alone, not together.
    events = stream(3, KEY)
    other = build_report(pending_for("another-incident"), Head(1, events[0].data["hash"]), KEY, NOW)

    failure = verify_stream(records([*events, other]), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence, failure.where) == ("conflict", 2, "line 4")


def test_swapped_reports_are_named_as_reordered() -> None:
    events = stream(5, KEY)
    events[1], events[2] = events[2], events[1]

    failure = verify_stream(records(events), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence, failure.where) == ("reordered", 3, "line 2")


def test_a_signed_report_that_does_not_chain_is_a_broken_chain() -> None:
    events = stream(3, KEY)
    events[2] = resealed(events[2], KEY, prev_hash=GENESIS_HASH)

    failure = verify_stream(records(events), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.sequence) == ("broken_chain", 3)


def test_garbage_and_foreign_events_are_malformed() -> None:
    events = stream(2, KEY)
    foreign = json.loads(encode(events[0]))
    foreign["type"] = "dsgov.identity.verified"
    recs = [
        *records(events),
        StreamRecord("line 3", b"{not json"),
        StreamRecord("line 4", json.dumps(foreign).encode()),
    ]

    failure = verify_stream(recs, KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.where) == ("malformed", "line 3")


def test_the_earliest_failure_in_stream_order_is_the_one_named() -> None:
    events = stream(6, KEY)
    events[4] = with_data(events[4], category="rumour")  # tampered, late
    del events[1]  # gap, early

    failure = verify_stream(records(events), KEYS).failure

    assert failure is not None
    assert (failure.kind, failure.where) == ("gap", "line 2")


def test_each_provider_has_its_own_chain() -> None:
    a, b = stream(3, KEY, provider="prov-a"), stream(2, KEY, provider="prov-b")
    interleaved = [a[0], b[0], a[1], b[1], a[2]]

    result = verify_stream(records(interleaved), KEYS)

    assert result.ok, result.failure
    assert {p: s.reports for p, s in result.providers.items()} == {"prov-a": 3, "prov-b": 2}


def test_old_and_new_keys_verify_across_a_rotation() -> None:
    old, new = signer("k1", 1), signer("k2", 2)
    first = stream(2, old)
    head = Head(2, first[-1].data["hash"])
    later = build_report(pending_for("after-rotation"), head, new, NOW)

    assert verify_stream(records([*first, later]), ring(old, new)).ok
    failure = verify_stream(records([*first, later]), ring(new)).failure
    assert failure is not None
    assert (failure.kind, failure.sequence) == ("unknown_key", 1)
