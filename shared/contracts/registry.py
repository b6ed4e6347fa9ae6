"""Which event types travel on which topic, with which payload model and subject."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from shared.contracts import (
    activity,
    complaints,
    consent,
    console,
    deadletter,
    distribution,
    generation,
    identity,
    incidents,
    labeling,
    reporting,
    review,
    rumour,
)
from shared.contracts import topics as t
from shared.contracts import types as T
from shared.contracts.base import Payload


@dataclass(frozen=True)
class EventSpec:
    """One v1 event type on one topic."""

    type: str
    topic: str
    model: builtins.type[Payload]
    subject: str  # the payload field that is the CloudEvents subject and the Kafka key


def _spec(type_: str, topic: str, model: type[Payload], subject: str) -> EventSpec:
    return EventSpec(type=type_, topic=topic, model=model, subject=subject)


EVENTS: tuple[EventSpec, ...] = (
    # platform -> dsgov
    _spec(T.IDENTITY_SUBMITTED, t.PLATFORM_IDENTITY, identity.IdentitySubmitted, "user_id"),
    _spec(T.CONSENT_GRANT_SUBMITTED, t.PLATFORM_CONSENT, consent.ConsentGrantSubmitted, "consent_id"),
    _spec(
        T.CONSENT_WITHDRAWAL_SUBMITTED,
        t.PLATFORM_CONSENT,
        consent.ConsentWithdrawalSubmitted,
        "consent_id",
    ),
    _spec(T.GENERATION_REQUESTED, t.PLATFORM_GENERATION, generation.GenerationRequested, "request_id"),
    _spec(T.GENERATION_COMPLETED, t.PLATFORM_GENERATION, generation.GenerationCompleted, "request_id"),
    _spec(
        T.CONTENT_DISTRIBUTED,
        t.PLATFORM_DISTRIBUTION,
        distribution.ContentDistributed,
        "content_id",
    ),
    _spec(T.INCIDENT_DETECTED, t.PLATFORM_INCIDENTS, incidents.IncidentDetected, "incident_id"),
    _spec(T.INCIDENT_UPDATED, t.PLATFORM_INCIDENTS, incidents.IncidentUpdated, "incident_id"),
    _spec(T.INCIDENT_CLOSED, t.PLATFORM_INCIDENTS, incidents.IncidentClosed, "incident_id"),
    _spec(T.ACTIVITY_RECORDED, t.PLATFORM_ACTIVITY, activity.ActivityRecorded, "user_id"),
    # regulator -> dsgov
    _spec(T.RUMOUR_DETERMINED, t.REGULATOR_NOTICES, rumour.RumourDetermined, "notice_id"),
    _spec(T.TAKEDOWN_ORDERED, t.REGULATOR_NOTICES, rumour.TakedownOrdered, "notice_id"),
    _spec(T.RUMOUR_CLOSED, t.REGULATOR_NOTICES, rumour.RumourClosed, "notice_id"),
    _spec(T.REPORT_ACKNOWLEDGED, t.REGULATOR_ACKS, reporting.ReportAcknowledged, "report_id"),
    # console -> dsgov
    _spec(
        T.CONSENT_WITHDRAWAL_SUBMITTED,
        t.CONSOLE_COMMANDS,
        consent.ConsoleConsentWithdrawal,
        "consent_id",
    ),
    _spec(T.REVIEW_DECISION_SUBMITTED, t.CONSOLE_COMMANDS, console.ReviewDecisionSubmitted, "request_id"),
    _spec(T.LIBRARY_CHANGE_SUBMITTED, t.CONSOLE_COMMANDS, console.LibraryChangeSubmitted, "entry_id"),
    _spec(T.RUMOUR_CASE_SUBMITTED, t.CONSOLE_COMMANDS, rumour.RumourCaseSubmitted, "notice_id"),
    _spec(T.RUMOUR_CASE_CLOSE_SUBMITTED, t.CONSOLE_COMMANDS, rumour.RumourCaseCloseSubmitted, "notice_id"),
    # dsgov -> platform
    _spec(T.IDENTITY_VERIFIED, t.IDENTITY, identity.IdentityVerified, "user_id"),
    _spec(T.IDENTITY_REJECTED, t.IDENTITY, identity.IdentityRejected, "user_id"),
    _spec(T.CONSENT_GRANTED, t.CONSENT, consent.ConsentGranted, "consent_id"),
    _spec(T.CONSENT_REJECTED, t.CONSENT, consent.ConsentRejected, "consent_id"),
    _spec(T.CONSENT_WITHDRAWN, t.CONSENT, consent.ConsentWithdrawn, "consent_id"),
    _spec(T.CONSENT_EXPIRED, t.CONSENT, consent.ConsentExpired, "consent_id"),
    _spec(T.GENERATION_APPROVED, t.REVIEW, generation.GenerationApproved, "request_id"),
    _spec(T.GENERATION_REJECTED, t.REVIEW, generation.GenerationRejected, "request_id"),
    _spec(T.OUTPUT_APPROVED, t.REVIEW, generation.OutputApproved, "request_id"),
    _spec(T.OUTPUT_BLOCKED, t.REVIEW, generation.OutputBlocked, "request_id"),
    _spec(T.USER_SANCTIONED, t.REVIEW, generation.UserSanctioned, "user_id"),
    _spec(T.REVIEW_QUEUED, t.REVIEW, review.ReviewQueued, "request_id"),
    _spec(T.REVIEW_RESOLVED, t.REVIEW, review.ReviewResolved, "request_id"),
    _spec(T.LIBRARY_UPDATED, t.REVIEW, review.LibraryUpdated, "entry_id"),
    _spec(T.CONTENT_LABELED, t.LABELING, labeling.ContentLabeled, "content_id"),
    _spec(T.RUMOUR_RECORDED, t.RUMOUR, rumour.RumourRecorded, "rumour_id"),
    _spec(T.CONTENT_TAKEDOWN_REQUIRED, t.RUMOUR, rumour.ContentTakedownRequired, "content_id"),
    _spec(T.REFUTATION_NOTICE, t.RUMOUR, rumour.RefutationNotice, "recipient_user_id"),
    _spec(T.RUMOUR_CASE_CLOSED, t.RUMOUR, rumour.RumourCaseClosed, "notice_id"),
    # dsgov -> regulator
    _spec(T.REPORT_SUBMITTED, t.REGULATOR_REPORTS, reporting.ReportSubmitted, "report_id"),
    # complaints, reports, appeals and rights requests (wave 2)
    _spec(T.COMPLAINT_SUBMITTED, t.PLATFORM_COMPLAINTS, complaints.ComplaintSubmitted, "complaint_id"),
    _spec(
        T.COMPLAINT_RESOLUTION_SUBMITTED,
        t.CONSOLE_COMMANDS,
        complaints.ComplaintResolutionSubmitted,
        "complaint_id",
    ),
    _spec(T.COMPLAINT_RECEIVED, t.COMPLAINT, complaints.ComplaintReceived, "complaint_id"),
    _spec(T.COMPLAINT_RESOLVED, t.COMPLAINT, complaints.ComplaintResolved, "complaint_id"),
    _spec(T.COMPLAINT_OVERDUE, t.COMPLAINT, complaints.ComplaintOverdue, "complaint_id"),
    _spec(T.USER_SANCTION_LIFTED, t.REVIEW, complaints.SanctionLifted, "user_id"),
    # operations
    _spec(T.DEADLETTER_RECORDED, t.DEADLETTER, deadletter.DeadLetterRecorded, "original_topic"),
)

_BY_TOPIC_TYPE: dict[tuple[str, str], EventSpec] = {(e.topic, e.type): e for e in EVENTS}


def spec_for(topic: str, type_: str) -> EventSpec | None:
    """The spec of `type_` on `topic`, or None when the contract has no such event there."""
    return _BY_TOPIC_TYPE.get((topic, type_))


def types_on(topic: str) -> tuple[str, ...]:
    """Every event type the contract allows on `topic`."""
    return tuple(e.type for e in EVENTS if e.topic == topic)


def outbound_spec(type_: str, topic: str | None = None) -> EventSpec:
    """The spec of a type dsgov publishes: on `topic`, or on its only topic when none is given."""
    matches = [e for e in EVENTS if e.type == type_ and (topic is None or e.topic == topic)]
    if len(matches) != 1:
        where = f" on {topic}" if topic else ""
        raise KeyError(f"{type_}{where} is not a single-topic event type; name the topic")
    return matches[0]


def inbound_spec(type_: str, topic: str | None = None) -> EventSpec:
    """The spec of a type a service consumes: on `topic`, or on its only topic when none is given."""
    return outbound_spec(type_, topic)
