"""Document ids in the service's one collection.

`consent:<provider>/<consent_id>` for consents and `user:<provider>/<user_id>` for identities.

Consent events are keyed by consent id and identity events by user id; the prefixes keep the
two kinds of aggregate apart even when a platform uses the same string for both.
"""

from __future__ import annotations

from typing import Any

from shared.contracts import topics
from shared.messaging.codec import Inbound

CONSENT_PREFIX = "consent:"
USER_PREFIX = "user:"


def consent_key(provider_id: str, consent_id: str) -> str:
    """The aggregate id of one consent."""
    return f"{CONSENT_PREFIX}{provider_id}/{consent_id}"


def user_key(provider_id: str, user_id: str) -> str:
    """The aggregate id of one user's identity projection."""
    return f"{USER_PREFIX}{provider_id}/{user_id}"


def aggregate_id(event: Inbound[Any]) -> str:
    """Identity events fold into user documents, everything else into consent documents."""
    if event.record.topic == topics.IDENTITY:
        return user_key(event.event.providerid, event.subject)
    return consent_key(event.event.providerid, event.subject)
