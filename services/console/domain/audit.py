"""The stored form of one audit record: the state of an aggregate document in the audit collection."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from shared.storage.aggregates import AggregateState


class AuditRecord(AggregateState):
    """Who did what, when, from where, about what (`adapters.mongo.audit_state` builds it).

    Extra fields are kept, not dropped: the record's shape belongs to the audit log, and a field it
    adds must survive being written through the shared save step.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    action: str
    actor: dict[str, str] | None = None
    at: str
    at_ms: int
    client: str | None = None
    target: str | None = None
    details: dict[str, Any] = {}
