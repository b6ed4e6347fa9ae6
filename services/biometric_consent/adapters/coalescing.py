"""One store query for all identity lookups of a batch.

The engine decides the aggregates of a batch concurrently (one task per consent), and every grant
reads its subject, grantee and guardian. Lookups that start in the same event-loop turn are merged
into one `$in` query per provider; each caller gets only the users it asked for. A failure of
that query reaches every caller, so the engine retries the batch as it would for its own query.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from services.biometric_consent.domain.consent import IdentityFacts
from services.biometric_consent.ports import IdentityDirectory
from shared.storage.coalescing import Coalescer

_Answer = Mapping[str, IdentityFacts]


class CoalescingIdentityDirectory:
    """Wraps a directory; concurrent lookups share one call to it."""

    def __init__(self, inner: IdentityDirectory) -> None:
        """`inner` answers the merged lookups."""
        self._merged: Coalescer[IdentityFacts] = Coalescer(inner.identities)

    async def identities(self, provider_id: str, user_ids: Collection[str]) -> _Answer:
        """Facts for `user_ids`, from a query shared with every lookup of this turn."""
        return await self._merged.get(provider_id, user_ids)
