"""An in-memory stand-in for the complaints desk, and tickets folded from real contract events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.console.domain.complaint_resolution import Resolution
from services.console.domain.complaints_view import fold_ticket
from services.console.ports import Actor, CommandResult, Page
from services.console.ports_complaints import ComplaintCounts, ComplaintQuery
from shared.contracts import types as T
from shared.contracts.base import Payload
from shared.contracts.complaints import ComplaintOverdue, ComplaintReceived
from shared.contracts.envelope import CloudEvent, new_event

PROVIDER = "provider-test"


def envelope(type_: str, subject: str, data: Payload, time: datetime) -> CloudEvent:
    """An event as the complaints (or review) service would publish it."""
    event_id = str(uuid.uuid4())
    return new_event(
        type=type_,
        source="dsgov/complaints",
        subject=subject,
        providerid=PROVIDER,
        data=data,
        id=event_id,
        time=time,
        correlationid=f"flow-{subject}",
        causationid=event_id,
    )


def received_ticket(
    complaint_id: str,
    *,
    kind: str = "report",
    target: tuple[str, str] = ("content", "content-1"),
    complainant: str | None = "user-1",
    received_at: datetime,
    due_days: int = 15,
    overdue: bool = False,
) -> dict[str, Any]:
    """A ticket's read model folded from `dsgov.complaint.received` (and `.overdue`)."""
    due = received_at + timedelta(days=due_days)
    data = ComplaintReceived.model_validate(
        {
            "complaint_id": complaint_id,
            "kind": kind,
            "target": {"type": target[0], "id": target[1]},
            "category": "illegal_content",
            "complainant_user_id": complainant,
            "received_at": received_at,
            "due_at": due,
            "due_rule": {"working_days": 10, "calendar": "PRC", "source": "GA-15"},
        }
    )
    event = envelope(T.COMPLAINT_RECEIVED, complaint_id, data, received_at)
    view = fold_ticket(None, event=event, data=data, received_at=received_at)
    assert view is not None
    if overdue:
        late = ComplaintOverdue.model_validate(
            {
                "complaint_id": complaint_id,
                "kind": kind,
                "due_at": due,
                "detected_at": due + timedelta(hours=1),
            }
        )
        flagged = envelope(T.COMPLAINT_OVERDUE, complaint_id, late, due + timedelta(hours=1))
        view = fold_ticket(view, event=flagged, data=late, received_at=received_at)
        assert view is not None
    return view.model_dump(mode="python")


@dataclass
class FakeComplaintDesk:
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)
    sanction_views: dict[str, dict[str, Any]] = field(default_factory=dict)
    items: list[dict[str, Any]] = field(default_factory=list)
    resolutions: list[dict[str, Any]] = field(default_factory=list)
    queries: list[ComplaintQuery] = field(default_factory=list)

    def put(self, state: dict[str, Any]) -> None:
        self.tickets[state["complaint_id"]] = state

    async def inbox(self, query: ComplaintQuery) -> Page:
        self.queries.append(query)
        key = "inbox_kind_key" if query.kind else "inbox_key"
        found = [
            t
            for t in self.tickets.values()
            if t["status"] == query.status and (not query.kind or t["ticket_kind"] == query.kind)
        ]
        found.sort(key=lambda t: str(t[key]))
        start = (query.page - 1) * query.page_size
        return Page(found[start : start + query.page_size], len(found))

    async def ticket(self, complaint_id: str) -> dict[str, Any] | None:
        return self.tickets.get(complaint_id)

    async def counts(self) -> ComplaintCounts:
        open_ = [t for t in self.tickets.values() if t["status"] == "open"]
        return ComplaintCounts(len(open_), sum(1 for t in open_ if t["overdue"]))

    async def sanctions(self, user_id: str) -> dict[str, Any] | None:
        return self.sanction_views.get(user_id)

    async def identity(self, user_id: str) -> dict[str, Any] | None:
        return None

    async def review_items(self, *, request_id: str = "", content_id: str = "") -> list[dict[str, Any]]:
        return [
            i
            for i in self.items
            if (request_id and i["request_id"] == request_id)
            or (content_id and i.get("content_id") == content_id)
        ]

    async def sent(self, complaint_id: str) -> dict[str, Any] | None:
        for r in self.resolutions:
            if r["complaint_id"] == complaint_id:
                return {
                    "actor": r["actor"].as_dict(),
                    "at": r["now"].isoformat(),
                    "at_ms": int(r["now"].timestamp() * 1000),
                    "details": {"outcome": r["resolution"].outcome, "reason": r["resolution"].reason},
                    "sent": True,
                }
        return None

    async def resolve(
        self,
        ticket: dict[str, Any],
        resolution: Resolution,
        *,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        earlier = [r for r in self.resolutions if r["complaint_id"] == ticket["complaint_id"]]
        if earlier and earlier[0]["request_id"] == request_id:
            return CommandResult(f"cmd-{request_id}", duplicate=True, published=True)
        if earlier:
            existing = {"actor": earlier[0]["actor"].as_dict()}
            return CommandResult(f"cmd-{earlier[0]['request_id']}", False, True, False, existing)
        self.resolutions.append(
            {"complaint_id": ticket["complaint_id"], "resolution": resolution, "actor": actor}
            | {"request_id": request_id, "now": now, "client": client}
        )
        return CommandResult(f"cmd-{request_id}", duplicate=False, published=True)
