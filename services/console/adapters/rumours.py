"""Rumour cases (DS-11) over MongoDB: the read model's queries and the open/close commands.

The commands go through the console's one command path (`CommandSender._send`: the audit record
and the command in one document, published through `Operations.apply`, the relay sends what the
broker did not confirm).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from services.console.adapters.commands import CommandSender
from services.console.adapters.mongo import count
from services.console.domain.rumour_commands import CaseForm, case_command, close_command
from services.console.ports import Actor, AuditEntry, CommandResult, Page, RumourQuery
from services.console.rumour_projection import rumour_case_aggregate_id

Doc = dict[str, Any]

CASE_ACTION: Final = "rumour_case_submitted"
CLOSE_ACTION: Final = "rumour_case_close_submitted"
# The list sorts on one unique key with its own index (the embedded store sorts quickly only so).
RUMOUR_INDEXES: Final[tuple[tuple[str, ...], ...]] = (("state.case_key",),)


class MongoRumourView:
    """The rumour cases as projected from `dsgov.rumour`; one provider's view."""

    def __init__(self, collection: AsyncCollection[Doc], provider_id: str) -> None:
        """Show the cases of `provider_id`."""
        self.collection = collection
        self.provider_id = provider_id

    async def cases(self, query: RumourQuery) -> Page:
        """Open first, then the latest change first; without history and texts."""
        flt: Doc = {"state.kind": "rumour_case", "state.provider_id": self.provider_id}
        if query.status:
            flt["state.status"] = query.status
        total = await count(self.collection, flt)
        cursor = (
            # Exclusion only: the embedded store flattens included nested fields.
            self.collection.find(flt, {"state.history": 0, "state.refutation_text": 0})
            .sort("state.case_key", DESCENDING)
            .skip((query.page - 1) * query.page_size)
            .limit(query.page_size)
        )
        return Page([d["state"] async for d in cursor], total)

    async def case(self, notice_id: str) -> Doc | None:
        """One case with its history."""
        doc = await self.collection.find_one({"_id": rumour_case_aggregate_id(self.provider_id, notice_id)})
        return doc["state"] if doc and doc.get("state") else None


class RumourCommandSender(CommandSender):
    """Implements `RumourCommands` on the console's command path (audit collection + Kafka)."""

    async def open_case(
        self,
        form: CaseForm,
        *,
        notice_id: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """`dsgov.rumour.case-submitted` with its audit record, one document per form."""
        event = case_command(
            form,
            notice_id=notice_id,
            username=actor.username,
            role=actor.role,
            provider_id=self.provider_id,
            request_id=request_id,
            now=now,
        )
        details: Doc = {
            "reason": form.reason,
            "severity": form.severity,
            "claim_text": form.claim_text[:500],  # the audit log shows an excerpt; the command has it all
            "claim_media": list(form.claim_media),
            "command_id": event.id,
            "request_id": request_id,
        }
        entry = AuditEntry(CASE_ACTION, actor, now, client, target=notice_id, details=details)
        return await self._send(f"rumour_case/{request_id}", event, entry)

    async def close_case(
        self,
        case: Mapping[str, Any],
        *,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """`dsgov.rumour.case-close-submitted`, at most one per case: a second close form is refused."""
        event = close_command(
            case, reason=reason, username=actor.username, role=actor.role, request_id=request_id, now=now
        )
        notice_id = str(case["notice_id"])
        details: Doc = {"reason": reason, "command_id": event.id, "request_id": request_id}
        entry = AuditEntry(CLOSE_ACTION, actor, now, client, target=notice_id, details=details)
        return await self._send(f"rumour_close/{notice_id}", event, entry, one_per_aggregate=True)
