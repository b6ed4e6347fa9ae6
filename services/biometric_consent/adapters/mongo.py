"""Read adapters over the service's own collection (aggregate documents, see shared.storage).

Queries use nested paths (`state.kind`, `state.status`, `state.expires_at_ms`), which both
MongoDB and the embedded nx-27017 honour; `expires_at_ms` is an integer because the embedded
store keeps integers exactly. Projections stay top-level (`state`): nx-27017 flattens nested
ones. The compound index (state.status, state.expires_at_ms) is declared in the definition.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.biometric_consent.domain.consent import IdentityFacts
from services.biometric_consent.domain.identity import facts_of
from services.biometric_consent.domain.state import (
    ConsentState,
    UserIdentity,
    consent_document,
    user_document,
)
from services.biometric_consent.ports import DueConsent


class MongoIdentityDirectory:
    """The identity projection: one `user:<provider>/<user_id>` document per user."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Read from the service's aggregate collection."""
        self._collection = collection

    async def identities(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, IdentityFacts]:
        """One query for every wanted user."""
        ids = [user_document(provider_id, u) for u in dict.fromkeys(user_ids)]
        found: dict[str, IdentityFacts] = {}
        async for doc in self._collection.find({"_id": {"$in": ids}}, {"state": 1}):
            state = doc.get("state") or {}
            if state.get("kind") == "user":
                facts = facts_of(UserIdentity.model_validate(state))
                found[facts.user_id] = facts
        return found


class MongoConsentReader:
    """Consent documents: due expiries and single consents."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        """Read from the service's aggregate collection."""
        self._collection = collection

    async def due_for_expiry(self, now_ms: int, limit: int) -> list[DueConsent]:
        """Granted consents whose expiry passed (uses the (status, expires_at_ms) index)."""
        cursor = (
            self._collection.find(
                {"state.status": "granted", "state.expires_at_ms": {"$lte": now_ms}},
                # Whole `state`: nx-27017 returns a nested projection such as `state.consent_id`
                # as a flat dotted key; due consents are few per round, so this costs little.
                {"state": 1},
            )
            .sort([("state.expires_at_ms", ASCENDING)])
            .limit(limit)
        )
        return [DueConsent(doc["_id"], doc["state"]["consent_id"]) async for doc in cursor]

    async def consent_state(self, provider_id: str, consent_id: str) -> ConsentState | None:
        """The state of `consent:<provider>/<consent_id>`."""
        doc = await self._collection.find_one(
            {"_id": consent_document(provider_id, consent_id)}, {"state": 1}
        )
        stored = (doc or {}).get("state")
        return ConsentState.model_validate(stored) if stored else None
