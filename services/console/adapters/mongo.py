"""MongoDB repositories of the console: users, sessions, login failures, the audit log and read models.

Only whole-document inserts and replaces are used for values whose types matter (booleans,
datetimes), because the embedded store mangles them in some update operators (stack-notes §8).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.console.domain.projection import CONSENT_STATUSES
from services.console.ports import (
    AuditEntry,
    ConsentPage,
    ConsentQuery,
    DashboardCounts,
    Session,
    User,
)
from shared.storage.aggregates import Aggregate, AggregateStore

Doc = dict[str, Any]
DAY_MS = 86_400_000

USERS = "users"
SESSIONS = "sessions"
LOGIN_FAILURES = "login_failures"
AUDIT = "audit"
PROJECTIONS = "projections"  # the engine's aggregates: consents and identity decisions

# Extra indexes on the projections collection, declared in the ServiceDefinition.
PROJECTION_INDEXES: tuple[tuple[str, ...], ...] = (
    ("state.kind", "state.provider_id", "state.status"),
    ("state.subject_id",),
    ("state.grantee_user_id",),
    ("state.expires_ms",),
    ("state.last_event_ms",),
)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


class MongoUsers:
    """Users keyed by normalised username."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        """Use `collection`."""
        self.collection = collection

    async def get(self, username: str) -> User | None:
        """One user."""
        doc = await self.collection.find_one({"_id": username})
        return _user(doc) if doc else None

    async def add(self, user: User) -> bool:
        """Insert; False when the username exists."""
        try:
            await self.collection.insert_one(_user_doc(user, 1))
        except DuplicateKeyError:
            return False
        return True

    async def replace(self, user: User) -> bool:
        """Replace at the expected version."""
        result = await self.collection.replace_one(
            {"_id": user.username, "version": user.version}, _user_doc(user, user.version + 1)
        )
        return result.matched_count == 1

    async def all(self) -> list[User]:
        """Every user."""
        return [_user(d) async for d in self.collection.find({}).sort("_id", ASCENDING)]

    async def count(self) -> int:
        """How many users."""
        return await self.collection.count_documents({})


def _user_doc(user: User, version: int) -> Doc:
    return {
        "_id": user.username,
        "role": user.role,
        "password_hash": user.password_hash,
        "active": user.active,
        "created_ms": user.created_ms,
        "created_by": user.created_by,
        "version": version,
    }


def _user(doc: Doc) -> User:
    return User(
        username=doc["_id"],
        role=doc["role"],
        password_hash=doc["password_hash"],
        active=bool(doc.get("active", True)),
        created_ms=int(doc.get("created_ms", 0)),
        created_by=str(doc.get("created_by", "")),
        version=int(doc.get("version", 1)),
    )


class MongoSessions:
    """Sessions keyed by the HMAC of their cookie value; a TTL index removes expired ones."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        """Use `collection`."""
        self.collection = collection

    async def ensure_indexes(self) -> None:
        """TTL on `expires_at` and lookup by user."""
        await self.collection.create_index("expires_at", expireAfterSeconds=0)
        await self.collection.create_index("username")

    async def add(self, session: Session) -> None:
        """Insert a new session."""
        await self.collection.insert_one(
            {
                "_id": session.id_digest,
                "csrf_token": session.csrf_token,
                "username": session.username,
                "created_ms": session.created_ms,
                "expires_ms": session.expires_ms,
                "expires_at": datetime.fromtimestamp(session.expires_ms / 1000, UTC),
            }
        )

    async def get(self, id_digest: str, now_ms: int) -> Session | None:
        """A live session (expiry is checked here; the TTL index only cleans up)."""
        doc = await self.collection.find_one({"_id": id_digest})
        if not doc or int(doc["expires_ms"]) <= now_ms:
            return None
        return Session(
            id_digest=doc["_id"],
            csrf_token=doc["csrf_token"],
            expires_ms=int(doc["expires_ms"]),
            username=doc.get("username"),
            created_ms=int(doc.get("created_ms", 0)),
        )

    async def delete(self, id_digest: str) -> None:
        """End a session."""
        await self.collection.delete_one({"_id": id_digest})

    async def delete_for_user(self, username: str) -> None:
        """End all of a user's sessions."""
        await self.collection.delete_many({"username": username})


class MongoFailureLog:
    """Failed logins, one document each, removed by a TTL index after the window."""

    def __init__(self, collection: AsyncCollection[Doc], window_s: int) -> None:
        """Failures older than `window_s` are no longer needed."""
        self.collection = collection
        self.window_s = window_s

    async def ensure_indexes(self) -> None:
        """Lookup by key and time; TTL cleanup."""
        await self.collection.create_index([("key", ASCENDING), ("at_ms", ASCENDING)])
        await self.collection.create_index("expires_at", expireAfterSeconds=0)

    async def since(self, key: str, since_ms: int) -> list[int]:
        """Failure times of `key` since `since_ms`."""
        cursor = self.collection.find({"key": key, "at_ms": {"$gte": since_ms}}, {"at_ms": 1})
        return [int(d["at_ms"]) async for d in cursor]

    async def add(self, key: str, at_ms: int) -> None:
        """Record a failure."""
        at = datetime.fromtimestamp(at_ms / 1000, UTC)
        await self.collection.insert_one(
            {
                "_id": uuid.uuid4().hex,
                "key": key,
                "at_ms": at_ms,
                "expires_at": at + timedelta(seconds=self.window_s),
            }
        )

    async def clear(self, key: str) -> None:
        """Forget a key's failures."""
        await self.collection.delete_many({"key": key})


def audit_state(entry: AuditEntry) -> Doc:
    """The stored form of an audit entry (the `state` of its aggregate document)."""
    return {
        "action": entry.action,
        "actor": entry.actor.as_dict() if entry.actor else None,
        "at": entry.at.isoformat(),
        "at_ms": _ms(entry.at),
        "client": entry.client,
        "target": entry.target,
        "details": dict(entry.details),
    }


class MongoAuditLog:
    """Audit entries as aggregate documents, so that an entry and the command it sends are ONE write."""

    def __init__(self, store: AggregateStore) -> None:
        """Use the audit collection's aggregate store."""
        self.store = store

    async def ensure_indexes(self) -> None:
        """The relay's index plus time and target lookups."""
        await self.store.ensure_indexes([("state.at_ms",), ("state.action", "state.target")])

    async def record(self, entry: AuditEntry) -> None:
        """Append one entry (no command)."""
        agg = Aggregate(id=f"{entry.action}/{uuid.uuid4()}")
        agg.record(agg.id, audit_state(entry), [])
        await self.store.save_many([agg])

    async def recent(self, limit: int, skip: int = 0) -> list[Doc]:
        """Newest first."""
        cursor = self.store.collection.find({}).sort("state.at_ms", DESCENDING).skip(skip).limit(limit)
        return [{**d["state"], "id": d["_id"], "sent": not d.get("outbox_pending")} async for d in cursor]

    async def withdrawals_for(self, consent_id: str) -> list[Doc]:
        """Withdrawal commands for one consent, newest first."""
        query = {"state.action": "consent_withdrawal_submitted", "state.target": consent_id}
        cursor = self.store.collection.find(query).sort("state.at_ms", DESCENDING).limit(50)
        return [{**d["state"], "id": d["_id"], "sent": not d.get("outbox_pending")} async for d in cursor]


class MongoReadModel:
    """Queries over the projections the engine maintains; one provider's view."""

    def __init__(self, collection: AsyncCollection[Doc], provider_id: str) -> None:
        """Show the consents of `provider_id`."""
        self.collection = collection
        self.provider_id = provider_id

    def _consents(self) -> Doc:
        return {"state.kind": "consent", "state.provider_id": self.provider_id}

    def _filter(self, q: ConsentQuery, now: datetime) -> Doc:
        query = self._consents()
        if q.subject_id:
            query["state.subject_id"] = q.subject_id
        if q.grantee_user_id:
            query["state.grantee_user_id"] = q.grantee_user_id
        if q.status:
            query["state.status"] = q.status
        if q.expiring_within_days is not None:
            query["state.status"] = "granted"
            query["state.expires_ms"] = {"$gte": _ms(now), "$lte": _ms(now) + q.expiring_within_days * DAY_MS}
        return query

    async def search(self, query: ConsentQuery, now: datetime) -> ConsentPage:
        """A page of matching consents, most recently changed first (no history: it can be long)."""
        flt = self._filter(query, now)
        total = await self.collection.count_documents(flt)
        cursor = (
            self.collection.find(flt, {"state.history": 0})
            .sort("state.last_event_ms", DESCENDING)
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return ConsentPage([d["state"] async for d in cursor], total)

    async def consent(self, consent_id: str) -> Doc | None:
        """One consent with its full history."""
        doc = await self.collection.find_one({"_id": consent_aggregate_id(self.provider_id, consent_id)})
        return doc["state"] if doc and doc.get("state") else None

    async def counts(self, now: datetime) -> DashboardCounts:
        """Consents by status, consents expiring within 7 days, identity decisions by outcome."""
        by_status = {
            s: await self.collection.count_documents({**self._consents(), "state.status": s})
            for s in CONSENT_STATUSES
        }
        expiring = await self.collection.count_documents(
            self._filter(ConsentQuery(expiring_within_days=7), now)
        )
        identities = {"state.kind": "identity", "state.provider_id": self.provider_id}
        verified = await self.collection.count_documents({**identities, "state.status": "verified"})
        rejected = await self.collection.count_documents({**identities, "state.status": "rejected"})
        return DashboardCounts(by_status, expiring, verified, rejected)


def consent_aggregate_id(provider_id: str, consent_id: str) -> str:
    """The read-model document of a consent."""
    return f"consent:{provider_id}/{consent_id}"


def identity_aggregate_id(provider_id: str, user_id: str) -> str:
    """The read-model document of a user's identity decision."""
    return f"identity:{provider_id}/{user_id}"


def collections(db: AsyncDatabase[Doc]) -> dict[str, AsyncCollection[Doc]]:
    """The console's own collections."""
    return {name: db[name] for name in (USERS, SESSIONS, LOGIN_FAILURES, AUDIT, PROJECTIONS)}
