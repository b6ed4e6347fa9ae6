"""Cybersecurity incidents: grading, deadlines, follow-ups and the 30-day summary (pure).

The CAC Measures for Reporting Cybersecurity Incidents (in force 2025-11-01; "CIR" below, not yet
in regulations.md) grade incidents 一般 / 较大 / 重大 / 特别重大 by published figures (annex,
"Cybersecurity Incident Grading Guide") and require a report within 1 hour (critical information
infrastructure, CIR Art. 4 ¶2) or 4 hours (other operators, Art. 4 ¶4) of discovery, and a summary
within 30 days after handling ended. "以上" in the guide includes the figure itself, so every
threshold is a lower bound that is met by an equal figure. Personal-information figures also
engage PI-57 (notify the authority of a leak).

Times are passed in (epoch ms); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from shared.storage.aggregates import AggregateState

Severity = Literal["general", "relatively_major", "major", "especially_major"]
GRADES: tuple[Severity, ...] = ("general", "relatively_major", "major", "especially_major")
Change = Literal["detected", "updated", "closed", "summary_reminder", "summary"]
Stage = Literal["initial", "follow_up", "closure", "summary_reminder", "summary"]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True)
class Thresholds:
    """The lowest figure of 较大, 重大 and 特别重大 (CIR annex, quantitative criteria)."""

    people: tuple[int, int, int] = (1_000_000, 10_000_000, 100_000_000)  # personal information of N people
    loss_cny: tuple[int, int, int] = (5_000_000, 20_000_000, 100_000_000)  # direct economic loss, yuan


@dataclass(frozen=True)
class IncidentPolicy:
    """Grades and deadlines (configurable; see `ReportingSettings`)."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    report_within_ms: int = 4 * HOUR_MS  # CIR Art. 4: other operators, to the provincial CAC
    report_within_cii_ms: int = 1 * HOUR_MS  # CIR Art. 4: CII operators
    summary_within_ms: int = 30 * DAY_MS  # the summary, counted from the end of handling
    reminder_before_ms: int = 7 * DAY_MS  # the reminder report goes out this long before it is due
    summary_before_ms: int = 1 * DAY_MS  # the summary goes out this long before it is due


@dataclass(frozen=True)
class Grading:
    """A grade and the figures that gave it (e.g. `affected_people>=10000000`)."""

    severity: Severity
    basis: tuple[str, ...]


def _grade_of(value: int | None, bounds: tuple[int, int, int]) -> int:
    if value is None:
        return 0
    return sum(1 for bound in bounds if value >= bound)


def grade(affected_people: int | None, direct_loss_cny: int | None, t: Thresholds) -> Grading:
    """The highest grade any figure reaches; `general` when none reaches 较大."""
    by_people = _grade_of(affected_people, t.people)
    by_loss = _grade_of(direct_loss_cny, t.loss_cny)
    level = max(by_people, by_loss)
    basis = []
    if level and by_people == level:
        basis.append(f"affected_people>={t.people[level - 1]}")
    if level and by_loss == level:
        basis.append(f"direct_loss_cny>={t.loss_cny[level - 1]}")
    return Grading(GRADES[level], tuple(basis))


@dataclass(frozen=True)
class CyberDetected:
    """`incident.detected`: texts only as SHA-256, system names as safe codes."""

    incident_id: str
    kind: str
    cii: bool
    occurred_ms: int
    detected_ms: int
    at_ms: int
    affected_people: int | None = None
    direct_loss_cny: int | None = None
    systems: tuple[str, ...] = ()
    description_sha256: str | None = None


@dataclass(frozen=True)
class CyberUpdated:
    """`incident.updated`: figures replace the earlier ones, systems and descriptions add up."""

    incident_id: str
    at_ms: int
    kind: str | None = None
    affected_people: int | None = None
    direct_loss_cny: int | None = None
    systems: tuple[str, ...] = ()
    description_sha256: str | None = None


@dataclass(frozen=True)
class CyberClosed:
    """`incident.closed`: handling ended at `closed_ms`."""

    incident_id: str
    closed_ms: int
    at_ms: int
    description_sha256: str | None = None


CyberObservation = CyberDetected | CyberUpdated | CyberClosed


class CyberFacts(AggregateState):
    """What is known of one cybersecurity incident, with its grade and deadlines."""

    incident_id: str
    kind: str
    cii: bool
    affected_people: int | None = None
    direct_loss_cny: int | None = None
    systems: tuple[str, ...] = ()
    description_sha256: tuple[str, ...] = ()
    severity: Severity = "general"
    severity_basis: tuple[str, ...] = ()
    report_due_ms: int
    closed_ms: int | None = None
    summary_due_ms: int | None = None
    reminder_sent_ms: int | None = None
    summary_sent_ms: int | None = None
    last_change: Change = "detected"


class UnknownIncident(ValueError):
    """An update or closure of an incident whose detection was never received."""


def _merged(items: tuple[str, ...], *new: str | None) -> tuple[str, ...]:
    return tuple(sorted({*items, *(n for n in new if n)}))


def _graded(c: CyberFacts, policy: IncidentPolicy) -> CyberFacts:
    g = grade(c.affected_people, c.direct_loss_cny, policy.thresholds)
    return c.model_copy(update={"severity": g.severity, "severity_basis": g.basis})


def _detected(current: CyberFacts | None, obs: CyberDetected, policy: IncidentPolicy) -> CyberFacts:
    if current is not None:  # a repeated detection adds what it knows; the first deadline stays
        return _updated(
            current,
            CyberUpdated(
                obs.incident_id,
                obs.at_ms,
                None,
                obs.affected_people,
                obs.direct_loss_cny,
                obs.systems,
                obs.description_sha256,
            ),
        )
    within = policy.report_within_cii_ms if obs.cii else policy.report_within_ms
    return CyberFacts(
        incident_id=obs.incident_id,
        kind=obs.kind,
        cii=obs.cii,
        affected_people=obs.affected_people,
        direct_loss_cny=obs.direct_loss_cny,
        systems=_merged((), *obs.systems),
        description_sha256=_merged((), obs.description_sha256),
        report_due_ms=obs.detected_ms + within,  # counted from discovery (发现或获知, CIR Art. 4)
    )


def _updated(current: CyberFacts, obs: CyberUpdated) -> CyberFacts:
    changes: dict[str, object] = {
        "systems": _merged(current.systems, *obs.systems),
        "description_sha256": _merged(current.description_sha256, obs.description_sha256),
    }
    if obs.kind is not None:
        changes["kind"] = obs.kind
    if obs.affected_people is not None:
        changes["affected_people"] = obs.affected_people
    if obs.direct_loss_cny is not None:
        changes["direct_loss_cny"] = obs.direct_loss_cny
    return current.model_copy(update=changes)


def _closed(current: CyberFacts, obs: CyberClosed, policy: IncidentPolicy) -> CyberFacts:
    closed = current.closed_ms if current.closed_ms is not None else obs.closed_ms
    return current.model_copy(
        update={
            "closed_ms": closed,
            "summary_due_ms": closed + policy.summary_within_ms,
            "description_sha256": _merged(current.description_sha256, obs.description_sha256),
        }
    )


_CHANGE: dict[type, Change] = {CyberDetected: "updated", CyberUpdated: "updated", CyberClosed: "closed"}


def observe(current: CyberFacts | None, obs: CyberObservation, policy: IncidentPolicy) -> CyberFacts:
    """The facts after one more observation; UnknownIncident for an update before its detection.

    `last_change` moves only when the facts change, so a re-emitted event changes nothing.
    """
    if isinstance(obs, CyberDetected):
        new = _detected(current, obs, policy)
    elif current is None:
        raise UnknownIncident(f"no dsgov.incident.detected was received for incident {obs.incident_id}")
    elif isinstance(obs, CyberUpdated):
        new = _updated(current, obs)
    else:
        new = _closed(current, obs, policy)
    new = _graded(new, policy)
    if current is not None and new != current:
        new = new.model_copy(update={"last_change": _CHANGE[type(obs)]})
    return new


def timer_ms(c: CyberFacts, policy: IncidentPolicy) -> int | None:
    """When the next timer fires: the reminder, then the summary; None before closure and after."""
    if c.summary_due_ms is None or c.summary_sent_ms is not None:
        return None
    if c.reminder_sent_ms is None:
        return c.summary_due_ms - policy.reminder_before_ms
    return c.summary_due_ms - policy.summary_before_ms


def fire(c: CyberFacts, now_ms: int, policy: IncidentPolicy) -> CyberFacts:
    """The facts after the timer fired at `now_ms`: the reminder, or the summary once it is time.

    After a long outage both may be due: the summary goes out and the reminder is skipped.
    """
    due = timer_ms(c, policy)
    if due is None or now_ms < due:
        return c
    assert c.summary_due_ms is not None
    if now_ms >= c.summary_due_ms - policy.summary_before_ms:
        return c.model_copy(update={"summary_sent_ms": now_ms, "last_change": "summary"})
    return c.model_copy(update={"reminder_sent_ms": now_ms, "last_change": "summary_reminder"})


_STAGE: dict[Change, Stage] = {
    "detected": "follow_up",
    "updated": "follow_up",
    "closed": "closure",
    "summary_reminder": "summary_reminder",
    "summary": "summary",
}


def stage_of(c: CyberFacts, part: int) -> Stage:
    """What a report part is: the first is the initial report, later ones follow the last change."""
    return "initial" if part == 1 else _STAGE[c.last_change]


def due_of(c: CyberFacts, stage: Stage) -> int | None:
    """The deadline a report of `stage` answers (follow-ups and the closure notice have none)."""
    if stage == "initial":
        return c.report_due_ms
    if stage in ("summary_reminder", "summary"):
        return c.summary_due_ms
    return None
