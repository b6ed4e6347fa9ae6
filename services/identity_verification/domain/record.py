"""The verification record of one user: the aggregate state of `identity_verification`."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import PlainSerializer

from shared.standards.identifiers import AgeGroup
from shared.storage.state import AggregateState

Status = Literal["verified", "rejected"]
# Earlier decisions are records of the real-identity checks at registration (DS-9, SA-5: user
# account and operation records), kept as network logs for at least six months (CS-1: the longest
# six calendar months are 184 days) and no longer than that by default (PI-19: shortest necessary).
HISTORY_MIN_RETENTION = timedelta(days=184)


class DecisionSummary(AggregateState):
    """One decision on a submission (what the platform was told)."""

    decision_id: str
    event_id: str
    submission_id: str
    status: Status
    method: str
    reasons: tuple[str, ...]
    age_group: AgeGroup
    decided_at: datetime


# Stored as ISO text: BSON has no date without a time (and read back as a date by pydantic).
Day = Annotated[date, PlainSerializer(date.isoformat, return_type=str)]


class EstablishedAge(AggregateState):
    """The age an ID card established: the days the subject leaves each protected band (PI-31, GA-10).

    Kept instead of the birth date; for an adult nothing but the fact is kept.
    """

    turns_14: Day | None = None  # None: 14 or older when established
    turns_18: Day | None = None  # None: adult when established
    established_at: datetime


def anniversary(birth: date, years: int) -> date:
    """The day of the `years`-th birthday; 29 February counts as reached on 1 March (minor-protective)."""
    try:
        return birth.replace(year=birth.year + years)
    except ValueError:
        return date(birth.year + years, 3, 1)


def established_age(birth: date, today: date, at: datetime) -> EstablishedAge:
    """What an ID card with this birth date proves about the holder's age from `today` on."""
    turns_18 = anniversary(birth, 18)
    if turns_18 <= today:
        return EstablishedAge(established_at=at)
    turns_14 = anniversary(birth, 14)
    return EstablishedAge(
        turns_14=turns_14 if turns_14 > today else None, turns_18=turns_18, established_at=at
    )


def age_group_on(age: EstablishedAge, today: date) -> AgeGroup:
    """The age group an established age gives on `today` (minors grow up; nobody grows younger)."""
    if age.turns_18 is None or today >= age.turns_18:
        return "adult"
    if age.turns_14 is not None and today < age.turns_14:
        return "under_14"
    return "14_to_17"


def settled_age(
    previous: VerificationRecord | None, fresh: AgeGroup, proven: EstablishedAge | None, today: date
) -> tuple[AgeGroup, EstablishedAge | None]:
    """The age group a decision reports, and the established age kept (PI-31).

    Only a verified ID card proves an age (`proven`); a later mobile, network-id or failed ID-card
    verification keeps the age the last ID card established — an `under_14` is never cleared by a
    method that says nothing about age (issue 14 correction 1).
    """
    if proven is not None:
        return age_group_on(proven, today), proven
    kept = previous.established_age if previous else None
    if kept is None:
        return fresh, None
    return age_group_on(kept, today), kept


class VerificationRecord(DecisionSummary):
    """The latest decision, the keyed digest and masked form of the identifier, and earlier decisions.

    Never a plaintext identifier (rule 6): `identifier_hmac` recognises the same number again.
    """

    user_id: str
    provider_id: str
    identifier_hmac: str | None
    masked_identifier: str | None
    established_age: EstablishedAge | None = None
    history: tuple[DecisionSummary, ...] = ()


def recorded(
    previous: VerificationRecord | None,
    summary: DecisionSummary,
    *,
    user_id: str,
    provider_id: str,
    identifier_hmac: str | None,
    masked_identifier: str | None,
    established: EstablishedAge | None,
    keep_since: datetime,
) -> VerificationRecord:
    """The record after `summary`: it becomes the latest decision and joins the history.

    Earlier decisions made before `keep_since` (now minus the retention period) leave the
    history; the latest decision always stays, it is the user's current standing.
    """
    kept = tuple(d for d in (previous.history if previous else ()) if d.decided_at >= keep_since)
    history = (*kept, summary)
    return VerificationRecord(
        **summary.model_dump(),
        user_id=user_id,
        provider_id=provider_id,
        identifier_hmac=identifier_hmac,
        masked_identifier=masked_identifier,
        established_age=established,
        history=history,
    )


def history_retention(days: int) -> timedelta:
    """The history retention period, or ValueError below the 184-day floor (CS-1)."""
    period = timedelta(days=days)
    if period < HISTORY_MIN_RETENTION:
        raise ValueError(
            f"identity history retention of {days} days is below 184 days "
            "(CS-1: network logs are kept no less than six months)"
        )
    return period
