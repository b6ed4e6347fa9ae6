"""Published deadlines in working days of the PRC calendar (DS-12, GA-15, PI-50).

Working days follow the State Council's annual holiday schedule — holidays off, adjusted weekend
working days (调休) on — as published in the `chinese-calendar` package. A ticket received on day D
(Beijing time) is due at the end of the N-th working day after D (the receipt day does not count,
whatever the hour). A year the package does not know is never guessed silently: the service refuses
to start when it does not know the current year, and a deadline that runs into an unknown year is
counted Monday to Friday (the earliest possible deadline, so never late by the law's measure) and
says so in its rule (`calendar_gap`), unless the operator supplied that year's schedule.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import cache
from importlib.metadata import version

import chinese_calendar

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")
END_OF_DAY = time(23, 59, 59, 999000)


class CalendarUnknown(Exception):
    """The calendar does not know a year it is asked about."""


@dataclass(frozen=True)
class Supplement:
    """An operator's schedule for years the package does not know yet (from the State Council notice)."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()  # adjusted weekend working days

    @property
    def years(self) -> frozenset[int]:
        """The years this supplement covers."""
        return frozenset(d.year for d in self.holidays | self.workdays)


@dataclass(frozen=True)
class WorkingCalendar:
    """PRC working days: the packaged schedule, plus an operator supplement for later years."""

    supplement: Supplement = field(default_factory=Supplement)

    @property
    def name(self) -> str:
        """How the calendar is cited in a published rule."""
        return f"PRC State Council holiday schedule (chinese-calendar {_package_version()})"

    def knows(self, year: int) -> bool:
        """True when the schedule of `year` is known (packaged or supplied)."""
        if year in self.supplement.years:
            return True
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def is_workday(self, day: date) -> bool:
        """True on a working day; raises `CalendarUnknown` for a year nobody published."""
        if day in self.supplement.workdays:
            return True
        if day in self.supplement.holidays:
            return False
        if day.year in self.supplement.years:
            return day.weekday() < 5
        working = _packaged_workday(day)
        if working is None:
            raise CalendarUnknown(f"no holiday schedule for {day.year}")
        return working

    def require(self, years: Iterable[int]) -> None:
        """Refuse to run for a year it does not know (start-up check)."""
        missing = sorted(y for y in set(years) if not self.knows(y))
        if missing:
            raise CalendarUnknown(
                f"the working-day calendar does not know {', '.join(map(str, missing))}: upgrade "
                "chinese-calendar or supply the State Council schedule (DSGOV_COMPLAINTS_CALENDAR_SUPPLEMENT)"
            )


@cache
def _package_version() -> str:
    # Read once: package metadata lookups cost about a millisecond each.
    return version("chinese-calendar")


@cache
def _packaged_workday(day: date) -> bool | None:
    # The schedule of a day never changes within a package version; None for an unknown year.
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


@dataclass(frozen=True)
class Deadline:
    """When a ticket is due, and the years that had to be counted Monday to Friday."""

    due_at: datetime
    calendar_gap: tuple[int, ...] = ()


def add_working_days(calendar: WorkingCalendar, received_at: datetime, days: int) -> Deadline:
    """The end (Beijing time) of the `days`-th working day after the day of `received_at`."""
    if days < 1:
        raise ValueError("a deadline is at least one working day")
    day = received_at.astimezone(CHINA_TZ).date()
    gaps: set[int] = set()
    counted = 0
    while counted < days:
        day += timedelta(days=1)
        try:
            working = calendar.is_workday(day)
        except CalendarUnknown:
            gaps.add(day.year)
            working = day.weekday() < 5
        counted += working
    return Deadline(datetime.combine(day, END_OF_DAY, CHINA_TZ), tuple(sorted(gaps)))
