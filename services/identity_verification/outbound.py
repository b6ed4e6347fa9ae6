"""The outbound translator: identity decisions → `dsgov.identity.verified` / `.rejected` events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.identity_verification.domain.decision import Decision
from services.identity_verification.domain.reasons import article_for, detail_for
from shared.contracts import types as T
from shared.contracts.base import Reason
from shared.contracts.envelope import CloudEvent
from shared.contracts.identity import IdentityRejected, IdentitySubmitted, IdentityVerified
from shared.messaging.codec import Inbound
from shared.messaging.ids import derived_id
from shared.messaging.replies import reply

SOURCE = "dsgov/identity-verification"


def decision_id(submission_event_id: str) -> str:
    """The id of the decision on one submission (stable across redeliveries)."""
    return derived_id(SOURCE, "decision", submission_event_id)


def decision_event(cause: Inbound[IdentitySubmitted], decision: Decision, now: datetime) -> CloudEvent:
    """The event telling the platform how a submission was decided (never a plaintext identifier)."""
    sub = cause.data
    fields: dict[str, Any] = {
        "user_id": sub.user_id,
        "method": sub.method,
        "reasons": list(decision.reasons),
        "age_group": decision.age_group,
        "decision_id": decision_id(cause.id),
        "decided_at": now,
        "reason_details": [
            Reason(code=c, article=article_for(c), detail=detail_for(c)) for c in decision.reasons
        ],
        "masked_identifier": decision.masked,
    }
    verified = decision.verified
    return reply(
        cause,
        type=T.IDENTITY_VERIFIED if verified else T.IDENTITY_REJECTED,
        source=SOURCE,
        subject=sub.user_id,
        data=IdentityVerified(**fields) if verified else IdentityRejected(**fields),
        time=now,
        id=derived_id(SOURCE, "event", cause.id),
    )
