"""`dsgov-inspect` refuses an export without who and why (DS-21) and times without an offset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.network_log.entrypoints.inspect_cli import main
from services.network_log.inspection import ExportRequest

BASE = ["export", "--from", "2026-06-01T00:00:00+08:00", "--to", "2026-12-01T00:00:00+08:00", "--out", "x"]


def test_an_export_without_a_reason_or_an_actor_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as no_reason:
        main([*BASE, "--actor", "alice"])
    assert no_reason.value.code == 2
    assert "--reason" in capsys.readouterr().err
    with pytest.raises(SystemExit) as no_actor:
        main([*BASE, "--reason", "notice 17"])
    assert no_actor.value.code == 2


def test_a_blank_reason_or_an_empty_range_is_refused() -> None:
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="reason is required"):
        ExportRequest(start=start, end=end, actor="alice", reason="  ")
    with pytest.raises(ValueError, match="after"):
        ExportRequest(start=end, end=start, actor="alice", reason="r")


def test_times_need_an_offset(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["export", "--from", "2026-06-01T00:00:00", "--to", "2026-12-01T00:00:00+08:00"])
    assert "offset" in capsys.readouterr().err
