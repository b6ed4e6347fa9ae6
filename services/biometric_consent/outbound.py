"""The outbound translator: consent decisions → `dsgov.consent.granted/rejected/withdrawn/expired`.

Ids are derived from the cause, so a redelivered cause yields byte-identical events. An expiry has
one id per consent, whichever path applies it (the timer, or a later event that finds it due), and
names the accepted grant as its cause.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from services.biometric_consent.domain.consent import Emission, EmissionKind
from services.biometric_consent.domain.reasons import article_for, detail_for
from services.biometric_consent.domain.state import ConsentState, consent_document
from shared.contracts import types as T
from shared.contracts.base import Reason
from shared.contracts.consent import (
    ConsentEvent,
    ConsentExpired,
    ConsentGranted,
    ConsentRejected,
    ConsentWithdrawn,
)
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import Inbound
from shared.messaging.ids import derived_id
from shared.messaging.replies import Cause, reply

SOURCE: Final = "dsgov/biometric-consent"

_TYPES: Final[dict[EmissionKind, tuple[str, type[ConsentEvent]]]] = {
    "granted": (T.CONSENT_GRANTED, ConsentGranted),
    "rejected": (T.CONSENT_REJECTED, ConsentRejected),
    "withdrawn": (T.CONSENT_WITHDRAWN, ConsentWithdrawn),
    "expired": (T.CONSENT_EXPIRED, ConsentExpired),
}


def expiry_event_id(provider_id: str, consent_id: str) -> str:
    """The one id of a consent's expiry."""
    return derived_id(SOURCE, "expired", consent_document(provider_id, consent_id))


def consent_event(
    emission: Emission, state: ConsentState, cause: Inbound[Any] | None, now: datetime
) -> CloudEvent:
    """The contract event of one emission; `cause` is None for the expiry timer."""
    type_, model = _TYPES[emission.kind]
    if emission.kind == "expired" or cause is None:
        event_id = expiry_event_id(state.provider_id, state.consent_id)
        origin: Inbound[Any] | Cause = Cause(
            id=state.grant_event_id or event_id,
            providerid=state.provider_id,
            correlation=state.correlation_id or event_id,
        )
    else:
        event_id = derived_id(SOURCE, emission.kind, cause.id)
        origin = cause
    return reply(
        origin,
        type=type_,
        source=SOURCE,
        subject=state.consent_id,
        data=_payload(model, emission, state),
        time=now,
        id=event_id,
    )


def _payload(model: type[ConsentEvent], emission: Emission, state: ConsentState) -> ConsentEvent:
    fields = emission.fields
    return model.model_validate(
        {
            "consent_id": state.consent_id,
            "subject_id": fields.subject_id,
            "grantee_user_id": fields.grantee_user_id,
            "biometric_types": list(fields.biometric_types),
            "expires_at": emission.expires_at,
            "reasons": list(emission.reasons),
            "actor": emission.actor,
            "service_types": list(fields.service_types) if fields.service_types is not None else None,
            "reason_details": [
                Reason(code=c, article=article_for(c), detail=detail_for(c)) for c in emission.reasons
            ],
            "occurred_at": emission.occurred_at,
            "purpose": fields.purpose,
            "evidence": fields.evidence.model_dump(exclude_none=True),
            "guardian_user_id": fields.guardian_user_id,
        }
    )
