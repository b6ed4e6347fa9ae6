"""Document ids in the service's one collection, and which aggregate an event folds into.

`request:<provider>/<request_id>`, `user:<provider>/<user_id>` (identity projection and standing
on the enforcement ladder), `consent:<provider>/<consent_id>`, `rumour:<provider>/<rumour_id>`
and one `library:<provider>`. The prefixes keep kinds apart when a platform reuses a string.
"""

from __future__ import annotations

from typing import Any

from shared.contracts import topics
from shared.messaging.codec import Inbound

LIBRARY_CHANGE = "dsgov.library.change-submitted"


def request_key(provider_id: str, request_id: str) -> str:
    """One generation request."""
    return f"request:{provider_id}/{request_id}"


def user_key(provider_id: str, user_id: str) -> str:
    """One user: identity projection and standing."""
    return f"user:{provider_id}/{user_id}"


def consent_key(provider_id: str, consent_id: str) -> str:
    """One consent as projected."""
    return f"consent:{provider_id}/{consent_id}"


def rumour_key(provider_id: str, rumour_id: str) -> str:
    """One known rumour as projected."""
    return f"rumour:{provider_id}/{rumour_id}"


def library_key(provider_id: str) -> str:
    """The provider's feature library."""
    return f"library:{provider_id}"


def aggregate_id(event: Inbound[Any]) -> str:
    """Which document an event changes.

    The service's own decisions (`dsgov.review`) fold into the *user*: a decision that confirms
    a violation is a strike there. Library commands all fold into the one library, so versions
    are a gap-free sequence.
    """
    provider, topic = event.event.providerid, event.record.topic
    if topic == topics.IDENTITY:
        return user_key(provider, event.subject)
    if topic == topics.REVIEW:
        return user_key(provider, event.data.user_id)
    if topic == topics.CONSENT:
        return consent_key(provider, event.subject)
    if topic == topics.RUMOUR:
        return rumour_key(provider, event.subject)
    if event.type == LIBRARY_CHANGE:
        return library_key(provider)
    return request_key(provider, event.subject)
