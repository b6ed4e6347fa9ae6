"""The events the service publishes on `dsgov.rumour`, with deterministic ids (DS-11).

Every id is derived from what the event is about, never from when it was made: a takedown from
(notice, content), a notice from (notice, recipient), the record from the notice. A retried or
recomputed event therefore carries the same id, and a consumer that de-duplicates by id sees it
once, however often it is published.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from services.rumour_refutation.domain.case import CaseState
from services.rumour_refutation.domain.content import CaseRef, Takedown
from services.rumour_refutation.domain.reach import Notice
from shared.contracts import types as T
from shared.contracts.base import Actor
from shared.contracts.envelope import CloudEvent
from shared.contracts.rumour import (
    ClaimMedia,
    ContentTakedownRequired,
    RefutationNotice,
    RumourCaseClosed,
    RumourRecorded,
)
from shared.messaging.codec import Inbound
from shared.messaging.ids import derived_id
from shared.messaging.replies import Cause, reply

SOURCE = "dsgov/rumour-refutation"


def rumour_id(provider_id: str, notice_id: str) -> str:
    """The stable id of the rumour a notice determined."""
    return derived_id(SOURCE, "rumour", provider_id, notice_id)


def takedown_event(provider_id: str, takedown: Takedown, now: datetime) -> CloudEvent:
    """`dsgov.content.takedown-required` for one content, keyed by the content id."""
    return reply(
        Cause(takedown.causation_id, provider_id, takedown.correlation_id),
        type=T.CONTENT_TAKEDOWN_REQUIRED,
        source=SOURCE,
        subject=takedown.content_id,
        data=ContentTakedownRequired(
            content_id=takedown.content_id,
            notice_id=takedown.notice_id,
            rumour_id=takedown.rumour_id,
            reason=takedown.reason,
            score=takedown.score,
        ),
        time=now,
        id=derived_id(SOURCE, "takedown", provider_id, takedown.notice_id, takedown.content_id),
    )


def notice_event(
    provider_id: str, case: CaseRef, refutation_text: str, cause_id: str, notice: Notice, now: datetime
) -> CloudEvent:
    """`dsgov.refutation.notice` to one recipient, keyed by the recipient's user id."""
    return reply(
        Cause(cause_id, provider_id, case.correlation_id),
        type=T.REFUTATION_NOTICE,
        source=SOURCE,
        subject=notice.recipient,
        data=RefutationNotice(
            recipient_user_id=notice.recipient,
            rumour_id=case.rumour_id,
            notice_id=case.notice_id,
            refutation_text=refutation_text,
            content_ids=list(notice.content_ids),
        ),
        time=now,
        id=derived_id(SOURCE, "notice", provider_id, case.notice_id, notice.recipient),
    )


def recorded_event(
    cause: Inbound[Any] | Cause,
    *,
    case: CaseRef,
    claim_text: str,
    refutation_text: str,
    claim_media: Sequence[ClaimMedia],
    fingerprints: Sequence[str],
    matched_content_ids: Sequence[str],
    recipients_reached: int,
    now: datetime,
) -> CloudEvent:
    """`dsgov.rumour.recorded`: what the review service needs to block the rumour from now on."""
    assert case.rumour_id is not None
    c = Cause.of(cause) if isinstance(cause, Inbound) else cause
    return reply(
        c,
        type=T.RUMOUR_RECORDED,
        source=SOURCE,
        subject=case.rumour_id,
        data=RumourRecorded(
            rumour_id=case.rumour_id,
            notice_id=case.notice_id,
            refutation_text=refutation_text,
            claim_text=claim_text,
            claim_media=list(claim_media),
            fingerprints=list(fingerprints),
            matched_content_ids=list(matched_content_ids),
            recipients_reached=recipients_reached,
        ),
        time=now,
        id=derived_id(SOURCE, "recorded", c.providerid, case.notice_id),
    )


def closed_event(cause: Inbound[Any], case: CaseState, notices_sent: int, now: datetime) -> CloudEvent:
    """`dsgov.rumour.case-closed`: the case sends nothing new from now on (DS-11), keyed by the notice id."""
    closure = case.closure
    assert closure is not None
    actor = closure.actor
    return reply(
        cause,
        type=T.RUMOUR_CASE_CLOSED,
        source=SOURCE,
        subject=case.notice_id,
        data=RumourCaseClosed(
            notice_id=case.notice_id,
            rumour_id=case.rumour_id,
            closed_by=closure.by,
            reason=closure.reason,
            actor=Actor(username=actor.username, role=actor.role) if actor else None,
            closed_at=now,
            notices_sent=notices_sent,
        ),
        time=now,
        id=derived_id(SOURCE, "closed", cause.event.providerid, case.notice_id),
    )
