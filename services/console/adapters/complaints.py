"""The complaints inbox over MongoDB: tickets, target histories and the resolve command (DS-12, GA-15, PI-50).

The inbox selects and sorts on one indexed string field (`state.inbox_key`, or `state.inbox_kind_key`
when filtered by kind): a prefix range picks the provider's tickets of one status (and kind), and the
sort names exactly that field, which the embedded store serves from its index (stack-notes §8.1).
No other field is filtered on: the embedded store would check it document by document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.console.adapters.commands import CommandSender, complaint_resolution_aggregate_id
from services.console.adapters.mongo import count
from services.console.domain.complaint_resolution import Resolution
from services.console.domain.complaints_view import SEP, inbox_prefix, prefix_range
from services.console.ports import Actor, CommandResult, Page
from services.console.ports_complaints import ComplaintCounts, ComplaintQuery
from services.console.projections import identity_aggregate_id
from services.console.projections_complaints import ticket_aggregate_id, user_sanctions_aggregate_id
from shared.storage.aggregates import AggregateStore

Doc = dict[str, Any]

# Indexes on the projections collection for the inbox and the target histories (single fields: see above).
COMPLAINT_INDEXES: Final[tuple[tuple[str, ...], ...]] = (
    ("state.inbox_key",),
    ("state.inbox_kind_key",),
    ("state.request_id",),
    ("state.content_id",),
)
_LIGHT: Final = {"state.history": 0}  # exclusion only: the embedded store flattens included nested fields
_ITEM_LIGHT: Final = {"state.history": 0, "state.text": 0, "state.media": 0}


class MongoComplaintDesk:
    """Implements `ComplaintDesk` for one provider over the projections and audit collections."""

    def __init__(
        self,
        projections: AsyncCollection[Doc],
        audit: AggregateStore,
        commands: CommandSender,
        provider_id: str,
    ) -> None:
        """Read tickets of `provider_id`; send resolutions through `commands` (audit + outbox)."""
        self.collection = projections
        self.audit = audit
        self.commands = commands
        self.provider_id = provider_id

    def _range(self, status: str, kind: str = "") -> tuple[str, Doc]:
        field_ = "state.inbox_kind_key" if kind else "state.inbox_key"
        low, high = prefix_range(inbox_prefix(self.provider_id, status, kind))
        return field_, {field_: {"$gte": low, "$lt": high}}

    async def inbox(self, query: ComplaintQuery) -> Page:
        """One page of tickets: flagged overdue first, then by due date, then by id."""
        field_, flt = self._range(query.status, query.kind)
        total = await count(self.collection, flt)
        cursor = (
            self.collection.find(flt, _LIGHT)
            .sort(field_, ASCENDING)
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return Page([d["state"] async for d in cursor], total)

    async def ticket(self, complaint_id: str) -> Doc | None:
        """One ticket with its history."""
        return await self._state(ticket_aggregate_id(self.provider_id, complaint_id))

    async def counts(self) -> ComplaintCounts:
        """Open tickets and those flagged overdue (rank 0 of the open keys)."""
        _, open_ = self._range("open")
        low, high = prefix_range(inbox_prefix(self.provider_id, "open") + "0" + SEP)
        overdue = {"state.inbox_key": {"$gte": low, "$lt": high}}
        return ComplaintCounts(
            open=await count(self.collection, open_), overdue=await count(self.collection, overdue)
        )

    async def sanctions(self, user_id: str) -> Doc | None:
        """A user's sanctions and lifts."""
        return await self._state(user_sanctions_aggregate_id(self.provider_id, user_id))

    async def identity(self, user_id: str) -> Doc | None:
        """A user's latest identity decision."""
        return await self._state(identity_aggregate_id(self.provider_id, user_id))

    async def review_items(self, *, request_id: str = "", content_id: str = "") -> list[Doc]:
        """Review items of a request or about a content id, newest first (at most 50)."""
        flt: Doc = {"state.request_id": request_id} if request_id else {"state.content_id": content_id}
        flt |= {"state.kind": "review_item", "state.provider_id": self.provider_id}
        cursor = self.collection.find(flt, _ITEM_LIGHT).limit(50)
        items = [d["state"] async for d in cursor]
        return sorted(items, key=lambda i: int(i.get("queued_ms") or 0), reverse=True)

    async def sent(self, complaint_id: str) -> Doc | None:
        """The resolution sent from the console for the ticket, with whether it went out."""
        doc = await self.audit.collection.find_one({"_id": complaint_resolution_aggregate_id(complaint_id)})
        if not doc or not doc.get("state"):
            return None
        return {**doc["state"], "sent": not doc.get("outbox_pending")}

    async def resolve(
        self,
        ticket: Doc,
        resolution: Resolution,
        *,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """Record and send the resolution (one per ticket)."""
        return await self.commands.resolve_complaint(
            ticket, resolution, actor=actor, request_id=request_id, client=client, now=now
        )

    async def _state(self, aggregate_id: str) -> Doc | None:
        doc = await self.collection.find_one({"_id": aggregate_id})
        return doc["state"] if doc and doc.get("state") else None
