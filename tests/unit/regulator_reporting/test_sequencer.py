"""The sequencer: gap-free numbering per provider, crash repair, clashes and racing writes."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta

from services.regulator_reporting.domain import incidents as inc
from services.regulator_reporting.ports import NewReport
from services.regulator_reporting.sequencer import Sequencer
from services.regulator_reporting.verification import StreamRecord, verify_stream
from tests.unit.regulator_reporting.factories import NOW, NOW_MS, POLICY, blocked, ref, ring, signer
from tests.unit.regulator_reporting.fakes import MemoryIncidents, MemoryLedger

KEY = signer()
LATER = NOW + timedelta(minutes=1)


def setup(n: int, provider: str = "prov-1") -> tuple[MemoryIncidents, MemoryLedger, Sequencer]:
    incidents, ledger = MemoryIncidents(), MemoryLedger()
    for i in range(n):
        state = inc.fold(None, provider, blocked(f"r{i}", at_ms=NOW_MS + i), ref(f"e{i}"), NOW_MS + i, POLICY)
        incidents.put(f"{provider}/{state.key}", state)
    return incidents, ledger, Sequencer(incidents, ledger, KEY, POLICY, lambda: LATER, batch=4)


async def settle(*sequencers: Sequencer) -> None:
    """Rounds until nothing is due."""
    while any([await s.round() for s in sequencers]):
        pass


def stream_of(ledger: MemoryLedger) -> list[StreamRecord]:
    docs = sorted(ledger.docs.values(), key=lambda d: (d["provider"], d["sequence"]))
    return [StreamRecord(str(d["sequence"]), d["value"].encode()) for d in docs]


async def test_due_incidents_become_a_gap_free_verifiable_chain_in_arrival_order() -> None:
    incidents, ledger, seq = setup(10)

    await settle(seq)

    assert sorted(s for _, s in ledger.docs) == list(range(1, 11))
    assert [ledger.docs[("prov-1", s)]["incident_key"] for s in (1, 10)] == [
        "illegal_content/input/r0",
        "illegal_content/input/r9",
    ]
    assert verify_stream(stream_of(ledger), ring(KEY)).ok
    assert all(s.due_ms == inc.NEVER for s in states(incidents))
    assert await seq.round() == 0


async def test_a_crash_between_insert_and_marking_is_repaired_without_renumbering() -> None:
    incidents, ledger, _ = setup(3)
    crashing = CrashAfterInsert()  # like devtools.faults crash_after_report_insert, as an exception
    crashed = Sequencer(incidents, crashing, KEY, POLICY, lambda: LATER)
    with contextlib.suppress(_Crash):
        await crashed.round()
    ledger.docs = crashing.docs
    assert len(ledger.docs) == 3
    assert all(s.due_ms != inc.NEVER for s in states(incidents))

    restarted = Sequencer(incidents, ledger, KEY, POLICY, lambda: LATER)  # a fresh process
    assert await restarted.round() == 0  # nothing new numbered...

    assert len(ledger.docs) == 3
    assert all([p.sequence for p in s.parts] for s in states(incidents))
    assert all(s.due_ms == inc.NEVER for s in states(incidents))


async def test_a_rival_sequencer_that_got_there_first_causes_no_gap_and_no_duplicate() -> None:
    incidents, ledger, mine = setup(6)
    rival = Sequencer(incidents, ledger, KEY, POLICY, lambda: LATER, batch=2)
    await mine.round()  # numbers 4 and caches its head
    await rival.round()  # its first round looks for stored reports: numbers the next 2
    await settle(mine, rival)

    assert sorted(s for _, s in ledger.docs) == [1, 2, 3, 4, 5, 6]
    assert len({d["incident_key"] for d in ledger.docs.values()}) == 6
    assert verify_stream(stream_of(ledger), ring(KEY)).ok


async def test_a_stale_cached_head_is_dropped_after_a_clash() -> None:
    incidents, ledger, seq = setup(2)
    await settle(seq)
    # Another process appends report 3 behind this sequencer's back.
    other = inc.fold(None, "prov-1", blocked("elsewhere"), ref("x"), NOW_MS, POLICY)
    side_incidents = MemoryIncidents()
    side_incidents.put("prov-1/" + other.key, other)
    await settle(Sequencer(side_incidents, ledger, KEY, POLICY, lambda: LATER))
    state = inc.fold(None, "prov-1", blocked("late"), ref("y"), NOW_MS, POLICY)
    incidents.put("prov-1/" + state.key, state)

    assert await seq.round() == 0  # its cached head said 2: the insert clashes
    assert await seq.round() == 1  # the stored head is read again

    assert sorted(s for _, s in ledger.docs) == [1, 2, 3, 4]
    assert verify_stream(stream_of(ledger), ring(KEY)).ok


async def test_an_event_racing_the_mark_is_kept_and_reported_as_a_second_part() -> None:
    incidents, ledger, seq = setup(1)
    agg_id = next(iter(incidents.docs))
    state = incidents.docs[agg_id].typed(inc.Incident)
    incidents.race[agg_id] = inc.fold(
        state, "prov-1", blocked("r0", decision_id="d2"), ref("e9"), NOW_MS, POLICY
    )

    assert await seq.round() == 1
    assert await seq.round() == 1  # the decision that raced the first report

    keys = [d["incident_key"] for _, d in sorted(ledger.docs.items())]
    assert keys == ["illegal_content/input/r0", "illegal_content/input/r0#2"]


async def test_providers_have_separate_chains() -> None:
    incidents, ledger, seq = setup(2, "prov-a")
    for i in range(3):
        state = inc.fold(None, "prov-b", blocked(f"b{i}"), ref(f"b{i}"), NOW_MS, POLICY)
        incidents.put(f"prov-b/{state.key}", state)

    await settle(seq)

    assert sorted(ledger.docs) == [("prov-a", 1), ("prov-a", 2), ("prov-b", 1), ("prov-b", 2), ("prov-b", 3)]
    assert verify_stream(stream_of(ledger), ring(KEY)).ok


def states(incidents: MemoryIncidents) -> list[inc.Incident]:
    return [s for a in incidents.docs.values() if (s := a.typed(inc.Incident)) is not None]


class _Crash(Exception):
    pass


class CrashAfterInsert(MemoryLedger):
    """Dies right after a successful insert, before the incidents are marked."""

    async def append(self, reports: Sequence[NewReport], now_ms: int, resend_at_ms: int) -> int:
        inserted = await super().append(reports, now_ms, resend_at_ms)
        if inserted:
            raise _Crash
        return inserted
