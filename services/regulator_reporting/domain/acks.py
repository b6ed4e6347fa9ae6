"""The regulator's answers on one report: the aggregate state of an acknowledgement (DS-21)."""

from __future__ import annotations

from typing import Literal

from shared.storage.aggregates import AggregateState

ACK_HISTORY = 20
MAX_ERRORS, MAX_ERROR_CHARS = 50, 2000

AckStatus = Literal["accepted", "rejected"]


class AckEntry(AggregateState):
    """One answer, as received."""

    event_id: str
    status: AckStatus
    errors: tuple[str, ...] = ()
    at_ms: int


class AckLog(AggregateState):
    """The answers on one report, newest received last; the effective one is the latest by time."""

    report_id: str
    sequence: int
    acks: tuple[AckEntry, ...] = ()

    def effective(self) -> AckEntry:
        """The latest answer by event time (ties broken by event id), whatever order they arrived in."""
        return max(self.acks, key=lambda a: (a.at_ms, a.event_id))


def bounded_errors(errors: list[str]) -> tuple[str, ...]:
    """The regulator's errors, capped in number and length (they are kept and listed, not trusted)."""
    return tuple(e[:MAX_ERROR_CHARS] for e in errors[:MAX_ERRORS])


def with_answer(log: AckLog | None, report_id: str, sequence: int, entry: AckEntry) -> AckLog:
    """The log after one more answer (the oldest fall off beyond `ACK_HISTORY`)."""
    history = (*(log.acks if log else ()), entry)[-ACK_HISTORY:]
    return AckLog(report_id=report_id, sequence=sequence, acks=history)
