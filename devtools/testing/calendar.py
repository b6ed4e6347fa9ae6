"""A working-day calendar supplement for tests and benchmarks in years chinese-calendar does not know yet."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from services.complaints.domain.deadlines import WorkingCalendar


def calendar_supplement(directory: Path) -> Path:
    """Write test data (1 January off) for this year and next where the package lacks them; return the file.

    The real supplement comes from the State Council's notice; this one only keeps a deadline near
    the year's end (or a clock shifted into the next year) from stopping the complaints service.
    """
    year = datetime.now(UTC).year
    unknown = [y for y in (year, year + 1) if not WorkingCalendar().knows(y)]
    path = directory / "calendar-supplement.json"
    path.write_text(json.dumps({"holidays": [f"{y}-01-01" for y in unknown], "workdays": []}))
    return path
