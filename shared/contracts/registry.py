"""Which event types travel on which topic, with which payload model and subject."""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from shared.contracts import (
    consent,
    console,
    deadletter,
    distribution,
    generation,
    identity,
    labeling,
    reporting,
    review,
    rumour,
)
from shared.contracts import topics as t
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
    _spec("dsgov.identity.submitted", t.PLATFORM_IDENTITY, identity.IdentitySubmitted, "user_id"),
    _spec("dsgov.consent.grant-submitted", t.PLATFORM_CONSENT, consent.ConsentGrantSubmitted, "consent_id"),
    _spec(
        "dsgov.consent.withdrawal-submitted",
        t.PLATFORM_CONSENT,
        consent.ConsentWithdrawalSubmitted,
        "consent_id",
    ),
    _spec("dsgov.generation.requested", t.PLATFORM_GENERATION, generation.GenerationRequested, "request_id"),
    _spec("dsgov.generation.completed", t.PLATFORM_GENERATION, generation.GenerationCompleted, "request_id"),
    _spec(
        "dsgov.content.distributed",
        t.PLATFORM_DISTRIBUTION,
        distribution.ContentDistributed,
        "content_id",
    ),
    # regulator -> dsgov
    _spec("dsgov.rumour.determined", t.REGULATOR_NOTICES, rumour.RumourDetermined, "notice_id"),
    _spec("dsgov.takedown.ordered", t.REGULATOR_NOTICES, rumour.TakedownOrdered, "notice_id"),
    _spec("dsgov.report.acknowledged", t.REGULATOR_ACKS, reporting.ReportAcknowledged, "report_id"),
    # console -> dsgov
    _spec(
        "dsgov.consent.withdrawal-submitted",
        t.CONSOLE_COMMANDS,
        consent.ConsoleConsentWithdrawal,
        "consent_id",
    ),
    _spec(
        "dsgov.review.decision-submitted", t.CONSOLE_COMMANDS, console.ReviewDecisionSubmitted, "request_id"
    ),
    _spec("dsgov.library.change-submitted", t.CONSOLE_COMMANDS, console.LibraryChangeSubmitted, "entry_id"),
    # dsgov -> platform
    _spec("dsgov.identity.verified", t.IDENTITY, identity.IdentityVerified, "user_id"),
    _spec("dsgov.identity.rejected", t.IDENTITY, identity.IdentityRejected, "user_id"),
    _spec("dsgov.consent.granted", t.CONSENT, consent.ConsentGranted, "consent_id"),
    _spec("dsgov.consent.rejected", t.CONSENT, consent.ConsentRejected, "consent_id"),
    _spec("dsgov.consent.withdrawn", t.CONSENT, consent.ConsentWithdrawn, "consent_id"),
    _spec("dsgov.consent.expired", t.CONSENT, consent.ConsentExpired, "consent_id"),
    _spec("dsgov.generation.approved", t.REVIEW, generation.GenerationApproved, "request_id"),
    _spec("dsgov.generation.rejected", t.REVIEW, generation.GenerationRejected, "request_id"),
    _spec("dsgov.output.approved", t.REVIEW, generation.OutputApproved, "request_id"),
    _spec("dsgov.output.blocked", t.REVIEW, generation.OutputBlocked, "request_id"),
    _spec("dsgov.user.sanctioned", t.REVIEW, generation.UserSanctioned, "user_id"),
    _spec("dsgov.review.queued", t.REVIEW, review.ReviewQueued, "request_id"),
    _spec("dsgov.review.resolved", t.REVIEW, review.ReviewResolved, "request_id"),
    _spec("dsgov.library.updated", t.REVIEW, review.LibraryUpdated, "entry_id"),
    _spec("dsgov.content.labeled", t.LABELING, labeling.ContentLabeled, "content_id"),
    _spec("dsgov.rumour.recorded", t.RUMOUR, rumour.RumourRecorded, "rumour_id"),
    _spec("dsgov.content.takedown-required", t.RUMOUR, rumour.ContentTakedownRequired, "content_id"),
    _spec("dsgov.refutation.notice", t.RUMOUR, rumour.RefutationNotice, "recipient_user_id"),
    # dsgov -> regulator
    _spec("dsgov.report.submitted", t.REGULATOR_REPORTS, reporting.ReportSubmitted, "report_id"),
    # operations
    _spec("dsgov.deadletter.recorded", t.DEADLETTER, deadletter.DeadLetterRecorded, "original_topic"),
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
