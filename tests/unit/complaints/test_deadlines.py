"""Published deadlines in PRC working days (DS-12, GA-15, PI-50), on the State Council schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from services.complaints.domain.deadlines import (
    CHINA_TZ,
    CalendarUnknown,
    Supplement,
    WorkingCalendar,
    add_working_days,
)

CAL = WorkingCalendar()


def at(y: int, m: int, d: int, hour: int = 10) -> datetime:
    return datetime(y, m, d, hour, tzinfo=CHINA_TZ)


def test_the_spring_festival_2026_and_its_adjusted_saturday() -> None:
    # 2026: 15-23 Feb off; Saturday 14 Feb and Saturday 28 Feb are working days (State Council notice).
    assert CAL.is_workday(date(2026, 2, 14))  # adjusted Saturday
    assert not CAL.is_workday(date(2026, 2, 16))
    deadline = add_working_days(CAL, at(2026, 2, 12), 3)
    # Fri 13, Sat 14 (adjusted), then nine days off, Tue 24 is the third working day.
    assert deadline.due_at == datetime(2026, 2, 24, 23, 59, 59, 999000, tzinfo=CHINA_TZ)
    assert deadline.calendar_gap == ()


def test_fifteen_working_days_across_the_festival() -> None:
    deadline = add_working_days(CAL, at(2026, 2, 9), 15)
    # 10,11,12,13,14(Sat adj.) = 5; 24,25,26,27,28(Sat adj.) = 10; 2,3,4,5,6 March = 15
    assert deadline.due_at.date() == date(2026, 3, 6)


def test_the_day_of_receipt_never_counts_whatever_the_hour() -> None:
    early = add_working_days(CAL, at(2026, 3, 2, 0), 1)
    late = add_working_days(CAL, datetime(2026, 3, 2, 15, 59, tzinfo=CHINA_TZ), 1)  # 23:59 Beijing
    assert early.due_at.date() == late.due_at.date() == date(2026, 3, 3)


def test_days_are_counted_in_beijing_time_not_utc() -> None:
    utc_evening = datetime(2026, 3, 5, 17, 0, tzinfo=UTC)
    # 17:00 UTC on Thursday 5 March is 01:00 on Friday 6 March in Beijing: receipt day is Friday.
    assert add_working_days(CAL, utc_evening, 1).due_at.date() == date(2026, 3, 9)


def test_a_year_the_calendar_does_not_know_is_an_error_at_start_up() -> None:
    with pytest.raises(CalendarUnknown, match="2099"):
        CAL.require([2026, 2099])
    CAL.require([2026])


def test_a_deadline_running_into_an_unknown_year_is_flagged_and_never_later_than_mon_to_fri() -> None:
    deadline = add_working_days(CAL, at(2026, 12, 21), 15)
    assert deadline.calendar_gap == (2027,)
    # Mon-Fri counting from 22 Dec 2026 (the 2026 days are known working days): 15th is 11 Jan 2027.
    assert deadline.due_at.date() == date(2027, 1, 11)


def test_an_operator_supplement_makes_the_unknown_year_exact() -> None:
    cal = WorkingCalendar(Supplement(holidays=frozenset({date(2027, 1, 1)})))
    deadline = add_working_days(cal, at(2026, 12, 30), 2)
    assert deadline.calendar_gap == ()
    assert deadline.due_at.date() == date(2027, 1, 4)  # 31 Dec, (1 Jan off, weekend), Mon 4 Jan
    cal.require([2027])
