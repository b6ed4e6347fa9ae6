"""Fault injection for crash tests, outside the production code: `python -m devtools.faults MODULE`.

`DSGOV_TEST_FAULT` names the fault and `DSGOV_TEST_CLOCK_SHIFT_S` moves the service's clock; the
named point is patched, then MODULE runs as `python -m MODULE` would run it. Production services
never read these variables and carry no hook for them.
"""

from __future__ import annotations

import functools
import importlib
import os
import runpy
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

CRASH_EXIT_CODE = 86


def _crash(point: str) -> None:
    print(f'{{"event": "fault_injected.{point}"}}', flush=True)
    os._exit(CRASH_EXIT_CODE)


def crash_after_store_write() -> None:
    """Exit hard right after an aggregate write that left outbox entries (before they are published)."""
    from shared.storage.aggregates import Aggregate, AggregateStore

    original = AggregateStore.save_many

    @functools.wraps(original)
    async def save_many(self: AggregateStore, aggregates: Sequence[Aggregate]) -> list[str]:
        conflicts = await original(self, aggregates)
        if any(a.outbox for a in aggregates if a.id not in conflicts):
            _crash("crash_after_store_write")
        return conflicts

    AggregateStore.save_many = save_many  # type: ignore[method-assign]


def crash_after_report_insert() -> None:
    """Exit hard right after reports were inserted in the ledger, before their incidents are marked.

    The regulator_reporting sequencer must find them by incident key on restart and never number
    an incident twice (DS-10.3: a gap-free, duplicate-free report stream).
    """
    from services.regulator_reporting.adapters.mongo import MongoReportLedger

    original = MongoReportLedger.append

    @functools.wraps(original)
    async def append(self: MongoReportLedger, reports: Any, now_ms: int, resend_at_ms: int) -> int:
        inserted = await original(self, reports, now_ms, resend_at_ms)
        if inserted:
            _crash("crash_after_report_insert")
        return inserted

    MongoReportLedger.append = append  # type: ignore[method-assign]


def crash_after_log_append() -> None:
    """network_log: exit hard right after entries were appended, before the offsets are committed."""
    from services.network_log.adapters.mongo import MongoLogStore

    original = MongoLogStore.append_runs

    @functools.wraps(original)
    async def append_runs(self: MongoLogStore, runs: Sequence[dict[str, Any]]) -> int:
        added = await original(self, runs)
        if added:
            _crash("crash_after_log_append")
        return added

    MongoLogStore.append_runs = append_runs  # type: ignore[method-assign]


FAULTS: dict[str, Callable[[], None]] = {
    "crash_after_store_write": crash_after_store_write,
    "crash_after_report_insert": crash_after_report_insert,
    "crash_after_log_append": crash_after_log_append,
}


def shift_clock(module: str, seconds: float) -> None:
    """Run the service `seconds` in the future: its composition root gets a shifted clock.

    For timers measured in days (deadlines, retention) that a test cannot wait for. The service's
    `entrypoints.app.compose_with(settings, clock=...)` is the seam.
    """
    app = importlib.import_module(f"{module}.entrypoints.app")
    original = app.compose_with

    def compose_with(settings: Any, clock: Callable[[], datetime] | None = None) -> Any:
        return original(settings, lambda: datetime.now(UTC) + timedelta(seconds=seconds))

    setattr(app, "compose_with", compose_with)  # noqa: B010 - the seam is found at run time


def main(argv: list[str]) -> None:
    """Install the fault named by `DSGOV_TEST_FAULT` (if any) and run `argv[0]` as the main module."""
    if len(argv) != 1:
        raise SystemExit("usage: python -m devtools.faults MODULE  (with DSGOV_TEST_FAULT set)")
    fault = os.environ.get("DSGOV_TEST_FAULT", "")
    if fault:
        if fault not in FAULTS:
            raise SystemExit(f"unknown DSGOV_TEST_FAULT {fault!r}; known: {', '.join(sorted(FAULTS))}")
        FAULTS[fault]()
    module = argv[0]
    if shift := os.environ.get("DSGOV_TEST_CLOCK_SHIFT_S"):
        shift_clock(module, float(shift))
    sys.argv = [module]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


def patch(target: Any, name: str, after: Callable[[], None]) -> None:
    """Make `target.name` (a coroutine method) call `after` once it returned."""
    original = getattr(target, name)

    @functools.wraps(original)
    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = await original(*args, **kwargs)
        after()
        return result

    setattr(target, name, wrapped)


if __name__ == "__main__":
    main(sys.argv[1:])
