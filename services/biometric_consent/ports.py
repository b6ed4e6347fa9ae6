"""What the consent service needs from the outside world (its own store, read-only here)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from services.biometric_consent.domain.consent import IdentityFacts
from services.biometric_consent.domain.state import ConsentState


class IdentityDirectory(Protocol):
    """Reads the service's own identity projection (built from `dsgov.identity`)."""

    async def identities(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, IdentityFacts]:
        """Facts for each of `user_ids` the projection knows; unknown users are absent."""
        ...


@dataclass(frozen=True)
class DueConsent:
    """A granted consent whose expiry has passed."""

    aggregate_id: str
    consent_id: str


class ConsentReader(Protocol):
    """Reads consent documents: for the expiry worker and the proof export."""

    async def due_for_expiry(self, now_ms: int, limit: int) -> list[DueConsent]:
        """Granted consents with `expires_at_ms <= now_ms`, soonest first."""
        ...

    async def consent_state(self, provider_id: str, consent_id: str) -> ConsentState | None:
        """The stored state of one consent, or None when there is none."""
        ...
