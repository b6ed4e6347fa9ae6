"""The read-model consumer's handlers: the foundation engine folds `dsgov.consent` and `dsgov.identity`.

Projection handlers only change state: they return `Outcome(state=..., events=[])`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from services.console.adapters.mongo import consent_aggregate_id, identity_aggregate_id
from services.console.domain.projection import CONSENT_STATUS, IDENTITY_STATUS, fold_consent, fold_identity
from services.console.domain.proof import NotCanonicalizable
from shared.contracts import topics
from shared.contracts.consent import ConsentEvent
from shared.contracts.identity import IdentityDecision
from shared.messaging.codec import Inbound
from shared.messaging.engine import Handler, Outcome, Unprocessable

CONSUMES: dict[str, tuple[str, ...]] = {
    topics.CONSENT: tuple(CONSENT_STATUS),
    topics.IDENTITY: tuple(IDENTITY_STATUS),
}


def aggregate_id(event: Inbound[Any]) -> str:
    """Consents and identity decisions live in one collection, told apart by a prefix."""
    if event.record.topic == topics.IDENTITY:
        return identity_aggregate_id(event.event.providerid, event.subject)
    return consent_aggregate_id(event.event.providerid, event.subject)


class Projections:
    """Folds events into read-model states."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        """`clock` stamps when an event was received."""
        self.clock = clock

    async def on_consent(self, state: dict[str, Any] | None, event: Inbound[ConsentEvent]) -> Outcome:
        """Any `dsgov.consent.*` event: new status, parties, expiry, and a chained history entry."""
        try:
            event_json = event.record.value.decode("utf-8")
            new = fold_consent(
                state, event=event.event, data=event.data, event_json=event_json, received_at=self.clock()
            )
        except NotCanonicalizable as exc:
            raise Unprocessable(f"event cannot be hash-chained: {exc}") from exc
        return Outcome(state=new, events=[])

    async def on_identity(self, state: dict[str, Any] | None, event: Inbound[IdentityDecision]) -> Outcome:
        """`dsgov.identity.verified|rejected`: the user's latest decision."""
        return Outcome(state=fold_identity(state, event=event.event, data=event.data), events=[])


def routes(projections: Projections) -> Mapping[str, Handler]:
    """Event type -> handler."""
    handlers: dict[str, Handler] = {t: projections.on_consent for t in CONSENT_STATUS}
    handlers |= {t: projections.on_identity for t in IDENTITY_STATUS}
    return handlers
