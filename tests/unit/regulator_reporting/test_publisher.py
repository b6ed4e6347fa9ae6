"""The publisher: first sends in sequence order after the published mark, byte-identical re-sends."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from services.regulator_reporting.domain import incidents as inc
from services.regulator_reporting.ports import Ack
from services.regulator_reporting.publisher import ReportPublisher
from services.regulator_reporting.sequencer import Sequencer
from tests.unit.regulator_reporting.factories import NOW, NOW_MS, POLICY, blocked, ref, signer
from tests.unit.regulator_reporting.fakes import MemoryIncidents, MemoryLedger

LATER = NOW + timedelta(minutes=1)


class Broker:
    """Records what was published; can fail once."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, bytes, int | None]] = []
        self.fail_next = False

    async def publish(
        self, value: bytes, *, key: bytes, partition: int | None, **_: Any
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail_next:
            self.fail_next = False
            future.set_exception(ConnectionError("broker down"))
        else:
            self.sent.append((key, value, partition))
            future.set_result(None)
        return future


class Clock:
    def __init__(self) -> None:
        self.now = LATER

    def __call__(self) -> datetime:
        return self.now


async def stored_reports(n: int, ack_timeout_s: float = 60) -> MemoryLedger:
    incidents, ledger = MemoryIncidents(), MemoryLedger()
    for i in range(n):
        state = inc.fold(None, "prov-1", blocked(f"r{i}"), ref(f"e{i}"), NOW_MS, POLICY)
        incidents.put(f"prov-1/{state.key}", state)
    seq = Sequencer(incidents, ledger, signer(), POLICY, lambda: LATER, ack_timeout_s=ack_timeout_s)
    while await seq.round():
        pass
    return ledger


def publisher(ledger: MemoryLedger, broker: Broker, clock: Clock, batch: int = 3) -> ReportPublisher:
    return ReportPublisher(
        ledger,
        broker,
        topic="t",
        partition=0,
        ack_timeout_s=60,
        clock=clock,
        batch=batch,  # type: ignore[arg-type]
    )


def sequences(broker: Broker, ledger: MemoryLedger) -> list[int]:
    by_value = {d["value"].encode(): s for (_, s), d in ledger.docs.items()}
    return [by_value[v] for _, v, _ in broker.sent]


async def test_first_sends_go_out_in_sequence_order_on_one_partition_and_advance_the_mark() -> None:
    ledger, broker = await stored_reports(7), Broker()
    pub = publisher(ledger, broker, Clock())

    while await pub.round():
        pass

    assert sequences(broker, ledger) == [1, 2, 3, 4, 5, 6, 7]
    assert {p for _, _, p in broker.sent} == {0}
    assert all(
        key == ledger.docs[("prov-1", s)]["report_id"].encode()
        for (key, _, _), s in zip(broker.sent, range(1, 8), strict=True)
    )
    assert ledger.marks == {"prov-1": 7}


async def test_a_failed_publish_leaves_the_mark_so_the_batch_goes_out_again_identical() -> None:
    ledger, broker = await stored_reports(4), Broker()
    pub = publisher(ledger, broker, Clock())
    broker.fail_next = True

    with pytest.raises(ConnectionError):
        await pub.round()
    assert ledger.marks.get("prov-1", 0) == 0
    while await pub.round():
        pass

    assert sequences(broker, ledger)[-4:] == [1, 2, 3, 4]
    assert ledger.marks == {"prov-1": 4}


async def test_a_report_not_acknowledged_in_time_is_re_sent_byte_identical_until_acknowledged() -> None:
    ledger, broker, clock = await stored_reports(2), Broker(), Clock()
    pub = publisher(ledger, broker, clock)
    await pub.round()
    first = list(broker.sent)
    await ledger.record_ack("prov-1", 2, Ack("accepted", (), 0, "ack-2"))

    clock.now = LATER + timedelta(seconds=61)
    pub._resend_checked = 0.0  # the check runs at most once a second; this test moves the clock instead
    await pub.round()

    assert broker.sent[len(first) :] == [first[0]]  # report 1 again, the same bytes; report 2 was answered
    assert ledger.docs[("prov-1", 1)]["resend_count"] == 1
    assert ledger.docs[("prov-1", 2)]["resend_count"] == 0


async def test_nothing_is_re_sent_before_its_first_send() -> None:
    ledger, broker, clock = await stored_reports(5), Broker(), Clock()
    pub = publisher(ledger, broker, clock, batch=2)
    clock.now = LATER + timedelta(hours=1)  # everything is past its resend time already

    await pub.round()  # first sends of 1 and 2, then the re-send check

    assert sequences(broker, ledger) == [1, 2, 1, 2]
    while await pub.round():
        pass
    assert sorted(set(sequences(broker, ledger))) == [1, 2, 3, 4, 5]
    first_seen = list(dict.fromkeys(sequences(broker, ledger)))
    assert first_seen == [1, 2, 3, 4, 5]  # first appearances stay in order


class CountingLedger(MemoryLedger):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def after(self, provider: str, sequence: int, limit: int) -> list[Any]:
        self.reads += 1
        return await super().after(provider, sequence, limit)


async def test_reports_handed_over_by_the_sequencer_go_out_without_reading_them_back() -> None:
    incidents, ledger, broker = MemoryIncidents(), CountingLedger(), Broker()
    pub = publisher(ledger, broker, Clock())
    await pub.round()  # starts from the stored mark (nothing yet)
    seq = Sequencer(incidents, ledger, signer(), POLICY, lambda: LATER, batch=2, on_numbered=pub.numbered)
    for i in range(5):
        state = inc.fold(None, "prov-1", blocked(f"r{i}"), ref(f"e{i}"), NOW_MS, POLICY)
        incidents.put(f"prov-1/{state.key}", state)
    reads_before = ledger.reads

    while await seq.round():
        while await pub.round():
            pass

    assert sequences(broker, ledger) == [1, 2, 3, 4, 5]
    assert ledger.reads - reads_before <= 1  # one look at the ledger for the new provider, not per batch
    assert ledger.marks == {"prov-1": 5}


async def test_a_hand_over_that_does_not_continue_the_mark_is_read_from_the_ledger() -> None:
    ledger, broker = await stored_reports(3), Broker()  # numbered by another process: never handed over
    later = await stored_reports(4)
    pub = publisher(ledger, broker, Clock())
    pub._providers = {"prov-1"}
    pub.numbered("prov-1", [])  # a wake-up alone
    ledger.docs[("prov-1", 4)] = later.docs[("prov-1", 4)]

    while await pub.round():
        pass

    assert sequences(broker, ledger) == [1, 2, 3, 4]
