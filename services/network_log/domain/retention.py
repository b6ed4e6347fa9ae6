"""Time-based retention of the network log (CS-1: network logs kept no less than six months).

Six calendar months are 181 to 184 days, so the floor is 184 days (regulations.md, CS-1). The log
is kept in whole segments: a segment goes only when every record in it is older than the period.
"""

from __future__ import annotations

from datetime import datetime, timedelta

MIN_RETENTION = timedelta(days=184)  # CS-1 (CSL Art. 21(3), Art. 23(3) from 2026-01-01); LB-9


def check_retention(period: timedelta) -> timedelta:
    """`period`, or ValueError when it is shorter than the legal floor."""
    if period < MIN_RETENTION:
        raise ValueError(
            f"retention of {period.days} days is below the {MIN_RETENTION.days}-day floor "
            "(CS-1: network logs are kept no less than six months)"
        )
    return period


def segment_of(at_ms: int, segment_ms: int) -> int:
    """The number of the segment a record received at `at_ms` belongs to."""
    return at_ms // segment_ms


def segment_bounds(segment: int, segment_ms: int) -> tuple[int, int]:
    """[start, end) of a segment in epoch milliseconds."""
    return segment * segment_ms, (segment + 1) * segment_ms


def first_kept_segment(now: datetime, period: timedelta, segment_ms: int) -> int:
    """Segments before this one end at or before `now - period`: every record in them has expired."""
    cutoff_ms = int((now - check_retention(period)).timestamp() * 1000)
    return cutoff_ms // segment_ms


def expired(received_at_ms: int, now: datetime, period: timedelta, segment_ms: int) -> bool:
    """True when the record's segment is past retention (the whole segment is older than `period`)."""
    return segment_of(received_at_ms, segment_ms) < first_kept_segment(now, period, segment_ms)
