"""MongoDB repositories of the console: users, sessions, login failures, the audit log and read models.

Only whole-document inserts and replaces are used for values whose types matter (booleans,
datetimes), because the embedded store mangles them in some update operators (stack-notes §8).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.console.domain.audit import AuditRecord
from services.console.domain.claims import Take, holder
from services.console.domain.library_view import ENTRY_STATUSES
from services.console.domain.projection import CONSENT_STATUSES
from services.console.ports import (
    Actor,
    AuditEntry,
    AuditQuery,
    ConsentPage,
    ConsentQuery,
    DashboardCounts,
    LibraryCounts,
    LibraryQuery,
    Page,
    PendingAction,
    ReviewCounts,
    ReviewQuery,
    Session,
    TakeResult,
    User,
)
from services.console.projections import (
    consent_aggregate_id,
    library_entry_aggregate_id,
    review_item_aggregate_id,
)
from shared.storage.aggregates import Aggregate, AggregateStore

Doc = dict[str, Any]
DAY_MS = 86_400_000

USERS = "users"
SESSIONS = "sessions"
LOGIN_FAILURES = "login_failures"
AUDIT = "audit"
PENDING = "pending_actions"  # requests waiting for a second person (separation of duties)
SITE = "site"  # facts about the running console (its URL), read by the command line
PROJECTIONS = "projections"  # the engine's aggregates: consents, identities, library, review queue, stats

# Extra indexes on the projections collection, declared in the ServiceDefinition.
PROJECTION_INDEXES: tuple[tuple[str, ...], ...] = (
    ("state.kind", "state.provider_id", "state.status"),
    ("state.subject_id",),
    ("state.grantee_user_id",),
    ("state.expires_ms",),
    ("state.last_event_ms",),
    # The review queue and the library list sort on one unique key each (single-field indexes: the
    # embedded store sorts quickly only on an indexed field of its own).
    ("state.queue_key",),
    ("state.list_key",),
    ("state.resolved_ms",),
    ("state.kind", "state.provider_id", "state.day_ms"),  # decision counters
)


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def sorted_by(field_path: str, lowest: str | int) -> Doc:
    """A range on the sorted field that every listed document satisfies.

    With it the embedded store walks the sort field's index over the documents that have the field
    and checks the other filters only on those; without it, a `find` checks every document of the
    collection, and read models of other kinds (100,000 complaint tickets, say) make a 2 ms list
    take 2 s.
    """
    return {field_path: {"$gte": lowest}}


async def count(collection: AsyncCollection[Doc], flt: Doc) -> int:
    """How many documents match: `count_documents` written as `$match` + `$count`.

    Same answer on MongoDB; the embedded store runs this form in SQL, while it evaluates
    `count_documents` document by document (about 110 ms against 1.4 ms at 4,000 documents,
    measured by `services.console.benchmark`).
    """
    async for doc in await collection.aggregate([{"$match": flt}, {"$count": "n"}]):
        return int(doc["n"])
    return 0


async def extreme(collection: AsyncCollection[Doc], flt: Doc, field_path: str, op: str) -> Any:
    """The `$min` or `$max` of `field_path` over matching documents (None when none match)."""
    pipeline = [{"$match": flt}, {"$group": {"_id": None, "v": {op: f"${field_path}"}}}]
    async for doc in await collection.aggregate(pipeline):
        return doc["v"]
    return None


async def count_by(collection: AsyncCollection[Doc], flt: Doc, field_path: str) -> dict[str, int]:
    """How many matching documents have each value of `field_path` (one `$group`, one pass)."""
    pipeline = [{"$match": flt}, {"$group": {"_id": f"${field_path}", "n": {"$sum": 1}}}]
    return {str(d["_id"]): int(d["n"]) async for d in await collection.aggregate(pipeline)}


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
        "role_by": user.role_by,
        "enabled_by": user.enabled_by,
        "password_set_by": user.password_set_by,
        "confirmed_by": user.confirmed_by,
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
        role_by=str(doc.get("role_by", "")),
        enabled_by=str(doc.get("enabled_by", "")),
        password_set_by=str(doc.get("password_set_by", "")),
        confirmed_by=str(doc.get("confirmed_by", "")),
    )


class MongoPendingActions:
    """Open requests for a second person, one document per key (the unique `_id`).

    Closing deletes the document at the version that was read: of two admins confirming at once,
    exactly one deletes it and acts; the history is in the audit log.
    """

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        """Use `collection`."""
        self.collection = collection

    async def open(self, action: PendingAction) -> bool:
        """Insert; False when a request for the key is open."""
        try:
            await self.collection.insert_one(
                {
                    "_id": action.key,
                    "kind": action.kind,
                    "target": action.target,
                    "requested_by": action.requested_by,
                    "requested_role": action.requested_role,
                    "requested_ms": action.requested_ms,
                    "details": dict(action.details),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def get(self, key: str) -> PendingAction | None:
        """The open request for `key`."""
        doc = await self.collection.find_one({"_id": key})
        return _pending(doc) if doc else None

    async def all(self) -> list[PendingAction]:
        """Every open request, oldest first."""
        found = [_pending(d) async for d in self.collection.find({})]
        return sorted(found, key=lambda a: (a.requested_ms, a.key))

    async def close(self, action: PendingAction) -> bool:
        """Delete the request as it was read; True only for the caller that deleted it."""
        flt = {"_id": action.key, "requested_ms": action.requested_ms, "requested_by": action.requested_by}
        result = await self.collection.delete_one(flt)
        return result.deleted_count == 1


def _pending(doc: Doc) -> PendingAction:
    return PendingAction(
        key=str(doc["_id"]),
        kind=doc["kind"],
        target=str(doc["target"]),
        requested_by=str(doc["requested_by"]),
        requested_role=str(doc.get("requested_role", "")),
        requested_ms=int(doc["requested_ms"]),
        details=dict(doc.get("details") or {}),
    )


class MongoSite:
    """One document `web` with the console's URL, for `create-user` to print."""

    def __init__(self, collection: AsyncCollection[Doc]) -> None:
        """Use `collection`."""
        self.collection = collection

    async def record_url(self, url: str) -> None:
        """Store or replace the URL.

        `update_one` upsert: the embedded store's `replace_one` upsert ignores the filter's `_id`
        (stack-notes §8).
        """
        await self.collection.update_one({"_id": "web"}, {"$set": {"url": url}}, upsert=True)

    async def url(self) -> str | None:
        """The URL the console last started with."""
        doc = await self.collection.find_one({"_id": "web"})
        return str(doc["url"]) if doc and doc.get("url") else None


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
        """The relay's index plus time, target and actor lookups."""
        await self.store.ensure_indexes(
            [("state.at_ms",), ("state.action", "state.target"), ("state.actor.username", "state.at_ms")]
        )

    async def record(self, entry: AuditEntry) -> None:
        """Append one entry (no command)."""
        agg = Aggregate(id=f"{entry.action}/{uuid.uuid4()}")
        agg.record(agg.id, AuditRecord.model_validate(audit_state(entry)), [])
        await self.store.save_many([agg])

    async def recent(self, limit: int, skip: int = 0) -> list[Doc]:
        """Newest first."""
        cursor = self.store.collection.find({}).sort("state.at_ms", DESCENDING).skip(skip).limit(limit)
        return [_audit_row(d) async for d in cursor]

    async def search(self, query: AuditQuery, limit: int, skip: int = 0) -> list[Doc]:
        """Entries by actor (exact username), action (exact) and time, newest first."""
        flt: Doc = {}
        if query.actor:
            flt["state.actor.username"] = query.actor
        if query.action:
            flt["state.action"] = query.action
        at: Doc = {}
        if query.since_ms is not None:
            at["$gte"] = query.since_ms
        if query.until_ms is not None:
            at["$lte"] = query.until_ms
        if at:
            flt["state.at_ms"] = at
        cursor = self.store.collection.find(flt).sort("state.at_ms", DESCENDING).skip(skip).limit(limit)
        return [_audit_row(d) async for d in cursor]

    async def withdrawals_for(self, consent_id: str) -> list[Doc]:
        """Withdrawal commands for one consent, newest first."""
        return await self.submitted("consent_withdrawal_submitted", consent_id)

    async def submitted(self, action: str, target: str) -> list[Doc]:
        """Commands of one kind about one target, newest first."""
        query = {"state.action": action, "state.target": target}
        cursor = self.store.collection.find(query).sort("state.at_ms", DESCENDING).limit(50)
        return [_audit_row(d) async for d in cursor]


def _audit_row(doc: Doc) -> Doc:
    return {**doc["state"], "id": doc["_id"], "sent": not doc.get("outbox_pending")}


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
        total = await count(self.collection, flt)
        cursor = (
            self.collection.find(flt | sorted_by("state.last_event_ms", 0), {"state.history": 0})
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
        found = await count_by(self.collection, self._consents(), "state.status")
        by_status = {s: found.get(s, 0) for s in CONSENT_STATUSES}
        expiring = await count(self.collection, self._filter(ConsentQuery(expiring_within_days=7), now))
        identities = {"state.kind": "identity", "state.provider_id": self.provider_id}
        decided = await count_by(self.collection, identities, "state.status")
        return DashboardCounts(by_status, expiring, decided.get("verified", 0), decided.get("rejected", 0))


class MongoLibraryView:
    """The feature library as projected from `dsgov.library.updated`; one provider's view."""

    def __init__(self, collection: AsyncCollection[Doc], provider_id: str) -> None:
        """Show the library of `provider_id`."""
        self.collection = collection
        self.provider_id = provider_id

    def _entries(self) -> Doc:
        return {"state.kind": "library_entry", "state.provider_id": self.provider_id}

    def _filter(self, q: LibraryQuery) -> Doc:
        query = self._entries()
        for field_, value in (
            ("state.entry_kind", q.kind),
            ("state.category", q.category),
            ("state.status", q.status),
            ("state.action", q.action),
        ):
            if value:
                query[field_] = value
        if q.text:
            # A literal substring of the case-folded search field (escaped: no user-made patterns).
            query["state.search"] = {"$regex": re.escape(q.text.casefold())}
        return query

    async def search(self, query: LibraryQuery) -> Page:
        """A page of matching entries, most recently changed first."""
        flt = self._filter(query)
        total = await count(self.collection, flt)
        cursor = (
            self.collection.find(
                flt | sorted_by("state.list_key", ""), {"state.history": 0, "state.search": 0}
            )
            .sort("state.list_key", DESCENDING)
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return Page([d["state"] async for d in cursor], total)

    async def entry(self, entry_id: str) -> Doc | None:
        """One entry with its history."""
        doc = await self.collection.find_one({"_id": library_entry_aggregate_id(self.provider_id, entry_id)})
        return doc["state"] if doc and doc.get("state") else None

    async def counts(self) -> LibraryCounts:
        """Entries by status and the newest library version seen."""
        found = await count_by(self.collection, self._entries(), "state.status")
        by_status = {s: found.get(s, 0) for s in ENTRY_STATUSES}
        newest = await extreme(self.collection, self._entries(), "state.library_version", "$max")
        return LibraryCounts(by_status, int(newest or 0))


class MongoReviewView:
    """The human review queue and the decision counters; one provider's view."""

    def __init__(self, collection: AsyncCollection[Doc], provider_id: str) -> None:
        """Show the queue of `provider_id`."""
        self.collection = collection
        self.provider_id = provider_id

    def _items(self) -> Doc:
        return {"state.kind": "review_item", "state.provider_id": self.provider_id}

    async def queue(self, query: ReviewQuery) -> Page:
        """Pending first, oldest first; resolved alone: newest first. Without text and history."""
        flt = self._items()
        if query.status:
            flt["state.status"] = query.status
        if query.stage:
            flt["state.stage"] = query.stage
        order = (
            ("state.resolved_ms", DESCENDING)
            if query.status == "resolved"
            else ("state.queue_key", ASCENDING)
        )
        total = await count(self.collection, flt)
        cursor = (
            # Exclusion projections only: the embedded store returns an included nested field
            # flattened (`{"state.x": ...}`); it ignores nested exclusions, which MongoDB applies.
            self.collection.find(
                flt | sorted_by(order[0], 0 if order[0] == "state.resolved_ms" else ""),
                {"state.history": 0, "state.text": 0, "state.media": 0},
            )
            .sort(*order)
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return Page([d["state"] async for d in cursor], total)

    async def item(self, item_id: str) -> Doc | None:
        """One item."""
        doc = await self.collection.find_one({"_id": review_item_aggregate_id(self.provider_id, item_id)})
        return doc["state"] if doc and doc.get("state") else None

    async def counts(self, now: datetime) -> ReviewCounts:
        """Pending items, the oldest one, and the last 7 days' resolutions, decisions and sanctions."""
        pending = {**self._items(), "state.status": "pending"}
        week_ago = _ms(now) - 7 * DAY_MS
        oldest_ms = await extreme(self.collection, pending, "state.queued_ms", "$min")
        resolved = await count(self.collection, {**self._items(), "state.resolved_ms": {"$gte": week_ago}})
        days: Doc = {"state.kind": "review_stats", "state.provider_id": self.provider_id}
        # Whole UTC days: today and the six before it.
        days["state.day_ms"] = {"$gte": _ms(now) // DAY_MS * DAY_MS - 6 * DAY_MS}
        decisions: dict[str, int] = {}
        sanctions: dict[str, int] = {}
        human = 0
        async for doc in await self.collection.aggregate([{"$match": days}]):  # in SQL, unlike `find`
            state = doc["state"]
            _add(decisions, state.get("decisions", {}))
            _add(sanctions, state.get("sanctions", {}))
            human += int(state.get("human", 0))
        return ReviewCounts(
            pending=await count(self.collection, pending),
            oldest_pending_at=(
                datetime.fromtimestamp(oldest_ms / 1000, UTC).isoformat() if oldest_ms is not None else None
            ),
            resolved_7_days=resolved,
            decisions_7_days=decisions,
            human_7_days=human,
            sanctions_7_days=sanctions,
        )


def _add(total: dict[str, int], more: Doc) -> None:
    for key, value in more.items():
        total[key] = total.get(key, 0) + int(value)


TAKE_ACTION = "review_taken"
DECISION_ACTION = "review_decision_submitted"


class MongoReviewDesk:
    """Takes and sent decisions in the audit collection (one audit document per take).

    A take is stored under `review_taken/<item>/<seq>`: two reviewers taking the same item at once
    both try to insert the same next number, and the store lets only one of them succeed.
    """

    def __init__(self, store: AggregateStore) -> None:
        """Use the audit collection's aggregate store."""
        self.store = store

    async def takes(self, item_id: str) -> list[Take]:
        """Every take of the item, oldest first."""
        query = {"state.action": TAKE_ACTION, "state.target": item_id}
        found = [_take(d["state"]) async for d in self.store.collection.find(query)]
        return sorted(found, key=lambda t: t.seq)

    async def holders(self, item_ids: list[str]) -> dict[str, Take]:
        """The newest take of each item that has one."""
        query = {"state.action": TAKE_ACTION, "state.target": {"$in": item_ids}}
        newest: dict[str, Take] = {}
        async for doc in self.store.collection.find(query):
            take = _take(doc["state"])
            if take.item_id not in newest or take.seq > newest[take.item_id].seq:
                newest[take.item_id] = take
        return newest

    async def take(
        self, item_id: str, *, actor: Actor, expected_seq: int, client: str | None, now: datetime
    ) -> TakeResult:
        """Insert take number `expected_seq + 1`; a rival who inserted it first wins."""
        previous = holder(await self.takes(item_id))
        seq = expected_seq + 1
        entry = AuditEntry(
            action=TAKE_ACTION,
            actor=actor,
            at=now,
            client=client,
            target=item_id,
            details={
                "seq": seq,
                "took_over_from": previous.username if previous and previous.seq == expected_seq else None,
            },
        )
        agg = Aggregate(id=take_aggregate_id(item_id, seq))
        agg.record(agg.id, AuditRecord.model_validate(audit_state(entry)), [])
        lost = await self.store.save_many([agg])
        current = holder(await self.takes(item_id))
        return TakeResult(taken=not lost, holder=current)

    async def decisions(self, item_ids: list[str]) -> dict[str, Doc]:
        """The decision command sent for each item that has one."""
        query = {"state.action": DECISION_ACTION, "state.target": {"$in": item_ids}}
        return {d["state"]["target"]: _audit_row(d) async for d in self.store.collection.find(query)}


def _take(state: Doc) -> Take:
    actor = state.get("actor") or {}
    details = state.get("details") or {}
    return Take(
        item_id=str(state["target"]),
        seq=int(details.get("seq", 0)),
        username=str(actor.get("username", "")),
        role=str(actor.get("role", "")),
        at=str(state.get("at", "")),
        took_over_from=details.get("took_over_from"),
    )


def take_aggregate_id(item_id: str, seq: int) -> str:
    """The audit document of take number `seq` of an item (fixed width, so ids never collide)."""
    return f"{TAKE_ACTION}/{item_id}/{seq:08d}"


def collections(db: AsyncDatabase[Doc]) -> dict[str, AsyncCollection[Doc]]:
    """The console's own collections."""
    names = (USERS, SESSIONS, LOGIN_FAILURES, AUDIT, PENDING, SITE, PROJECTIONS)
    return {name: db[name] for name in names}
