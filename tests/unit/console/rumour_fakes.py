"""In-memory stand-ins for the rumour cases' ports (DS-11), and read-model states built from real events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.console.adapters.rumours import CASE_ACTION, CLOSE_ACTION
from services.console.domain.rumour_commands import CaseForm, case_command_id, close_command_id
from services.console.domain.rumour_view import RumourCaseView, fold_case
from services.console.ports import Actor, AuditEntry, CommandResult, Page, RumourQuery
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.rumour import RumourCaseClosed, RumourRecorded
from tests.unit.console.fakes import NOW, FakeAudit, envelope, stored

CLAIM = "某市今晚将发生8级以上强烈地震，请市民立即撤离到空旷地带。"  # noqa: RUF001
REFUTATION = "经核实，该地震消息为谣言。"  # noqa: RUF001


class FakeRumours:
    def __init__(self) -> None:
        self.cases_by_id: dict[str, dict[str, Any]] = {}

    def put(self, state: dict[str, Any]) -> None:
        self.cases_by_id[state["notice_id"]] = state

    async def cases(self, query: RumourQuery) -> Page:
        found = [c for c in self.cases_by_id.values() if not query.status or c["status"] == query.status]
        found.sort(key=lambda c: c["case_key"], reverse=True)
        return Page(found, len(found))

    async def case(self, notice_id: str) -> dict[str, Any] | None:
        return self.cases_by_id.get(notice_id)


@dataclass
class FakeRumourCommands:
    """Records the calls, and the audit rows the real sender would write (so pages list them)."""

    audit: FakeAudit
    opened: list[dict[str, Any]] = field(default_factory=list)
    closed: list[dict[str, Any]] = field(default_factory=list)

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
        command_id = case_command_id(request_id)
        if any(c["request_id"] == request_id for c in self.opened):
            return CommandResult(command_id, duplicate=True, published=True)
        self.opened.append({"form": form, "notice_id": notice_id, "actor": actor, "request_id": request_id})
        details = {"reason": form.reason, "severity": form.severity, "command_id": command_id}
        self._row(CASE_ACTION, notice_id, actor, now, details)
        return CommandResult(command_id, duplicate=False, published=True)

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
        command_id = close_command_id(request_id)
        earlier = [c for c in self.closed if c["notice_id"] == case["notice_id"]]
        if earlier and earlier[0]["request_id"] == request_id:
            return CommandResult(command_id, duplicate=True, published=True)
        if earlier:
            existing = {"actor": earlier[0]["actor"].as_dict()}
            return CommandResult(close_command_id(earlier[0]["request_id"]), False, True, False, existing)
        self.closed.append(
            {"notice_id": case["notice_id"], "reason": reason, "actor": actor, "request_id": request_id}
        )
        self._row(
            CLOSE_ACTION, str(case["notice_id"]), actor, now, {"reason": reason, "command_id": command_id}
        )
        return CommandResult(command_id, duplicate=False, published=True)

    def _row(self, action: str, target: str, actor: Actor, now: datetime, details: dict[str, Any]) -> None:
        # The real sender's audit record lives in the audit collection: `search` and `submitted` see it.
        self.audit.entries.append(AuditEntry(action, actor, now, None, target=target, details=details))
        self.audit.commands.append(
            {
                "action": action,
                "target": target,
                "actor": actor.as_dict(),
                "at": now.isoformat(),
                "at_ms": int(now.timestamp() * 1000),
                "details": details,
                "sent": True,
            }
        )


def recorded_event(
    notice_id: str, claim: str | None = CLAIM, matched: int = 2, **extra: Any
) -> dict[str, Any]:
    """`dsgov.rumour.recorded` as the rumour refutation service publishes it (subject: the rumour id)."""
    data = {
        "rumour_id": "rumour-" + notice_id,
        "notice_id": notice_id,
        "refutation_text": REFUTATION,
        "claim_text": claim,
        "claim_media": [],
        "fingerprints": ["ab" * 8],
        "matched_content_ids": [f"content-{i}" for i in range(matched)],
        "recipients_reached": 5,
    }
    raw = envelope(T.RUMOUR_RECORDED, "rumour-" + notice_id, data, **extra)
    raw["source"] = "dsgov/rumour-refutation"
    return raw


def closed_event(
    notice_id: str,
    by: str = "console",
    notices_sent: int = 3,
    actor: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """`dsgov.rumour.case-closed` (subject: the notice id)."""
    data: dict[str, Any] = {
        "notice_id": notice_id,
        "rumour_id": "rumour-" + notice_id,
        "closed_by": by,
        "reason": "the claim no longer circulates",
        "actor": actor
        if actor is not None
        else ({"username": "olga", "role": "operator"} if by == "console" else None),
        "closed_at": extra.pop("closed_at", NOW).isoformat(),
        "notices_sent": notices_sent,
    }
    raw = envelope(T.RUMOUR_CASE_CLOSED, notice_id, data, **extra)
    raw["source"] = "dsgov/rumour-refutation"
    return raw


def fold_rumour(state: dict[str, Any] | None, raw: dict[str, Any]) -> dict[str, Any] | None:
    """Fold one event into a case's read model the way the projection does; None when already applied."""
    event = CloudEvent.model_validate(raw)
    model = RumourRecorded if raw["type"] == T.RUMOUR_RECORDED else RumourCaseClosed
    previous = RumourCaseView.model_validate(state) if state is not None else None
    new = fold_case(previous, event=event, data=model.model_validate(raw["data"]), received_at=NOW)
    return stored(new) if new is not None else None


def open_case_state(notice_id: str = "notice-1", **extra: Any) -> dict[str, Any]:
    state = fold_rumour(None, recorded_event(notice_id, **extra))
    assert state is not None
    return state


def closed_case_state(notice_id: str = "notice-2", **extra: Any) -> dict[str, Any]:
    state = fold_rumour(open_case_state(notice_id), closed_event(notice_id, **extra))
    assert state is not None
    return state
