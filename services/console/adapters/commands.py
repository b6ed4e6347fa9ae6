"""Sending console commands with the services' guarantees: audit record + outbox in ONE document write.

Every command (a consent withdrawal, a library change, a review decision, a complaint resolution) is
stored as one aggregate document in the audit collection: its state is the audit record (who, when,
why), its outbox holds the command, and its processed ids hold the command id.
Only then is the command published and the outbox marked sent (`Operations.apply`, the services'
one save-and-publish step). If the broker does not confirm in time, or the process dies in between,
the audit collection's outbox relay publishes it later; a resubmitted form (same request id) never
produces a second command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from aiokafka.errors import KafkaError

from services.console.adapters.mongo import DECISION_ACTION as REVIEW_DECISION_ACTION
from services.console.adapters.mongo import audit_state
from services.console.domain.audit import AuditRecord
from services.console.domain.commands import (
    library_change_command,
    review_decision_command,
    withdrawal_command,
)
from services.console.domain.complaint_resolution import Resolution, resolution_command
from services.console.ports import Actor, AuditEntry, CommandResult
from shared.contracts import topics
from shared.contracts.envelope import CloudEvent
from shared.contracts.registry import spec_for
from shared.messaging.operations import Operations, OutboxPublisher
from shared.messaging.routing import Outcome
from shared.observability import get_logger
from shared.storage.aggregates import AggregateRepository
from shared.storage.outbox import OutboxMessage

log = get_logger(__name__)

WITHDRAWAL_ACTION = "consent_withdrawal_submitted"
LIBRARY_ACTION = "library_change_submitted"
COMPLAINT_RESOLUTION_ACTION = "complaint_resolution_submitted"


def complaint_resolution_aggregate_id(complaint_id: str) -> str:
    """The audit document of the one resolution the console sends for a ticket."""
    return f"complaint_resolution/{complaint_id}"


def command_message(event: CloudEvent) -> OutboxMessage:
    """An outbox entry for a command on `dsgov.console.commands`.

    The topic is named: `dsgov.consent.withdrawal-submitted` also travels on `dsgov.platform.consent`.
    """
    if spec_for(topics.CONSOLE_COMMANDS, event.type) is None:
        raise ValueError(f"{event.type} is not a command on {topics.CONSOLE_COMMANDS}")
    return OutboxMessage.from_event(event, topic=topics.CONSOLE_COMMANDS)


class CommandSender:
    """Implements the `Commands` port over the audit collection's aggregate store and Kafka."""

    def __init__(
        self,
        store: AggregateRepository,
        publisher: OutboxPublisher,
        *,
        publish_timeout_s: float = 10.0,
        provider_id: str = "",
    ) -> None:
        """`store` is the audit collection; its relay publishes what the fast path could not.

        `provider_id` is the tenant of commands that continue no flow (a library proposal).
        """
        self.store = store
        self.provider_id = provider_id
        self.operations = Operations(store, _TimedPublisher(publisher, publish_timeout_s))

    async def withdraw(
        self,
        consent: Mapping[str, Any],
        *,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """Record the audit entry and the command in one write, then publish it."""
        event = withdrawal_command(
            consent, reason=reason, username=actor.username, role=actor.role, request_id=request_id, now=now
        )
        entry = AuditEntry(
            action=WITHDRAWAL_ACTION,
            actor=actor,
            at=now,
            client=client,
            target=str(consent["consent_id"]),
            details={
                "reason": reason,
                "subject_id": consent["subject_id"],
                "command_id": event.id,
                "request_id": request_id,
                "correlation_id": event.correlationid,
                "causation_id": event.causationid,
            },
        )
        return await self._send(f"withdrawal/{request_id}", event, entry)

    async def library_change(
        self,
        *,
        change: Literal["propose", "approve", "disable"],
        entry_id: str,
        entry: Mapping[str, Any] | None,
        current: Mapping[str, Any] | None,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """A library change (DS-10.2): its audit record and the command in one write, then published."""
        event = library_change_command(
            change=change,
            entry_id=entry_id,
            entry=entry,
            reason=reason,
            username=actor.username,
            role=actor.role,
            provider_id=self.provider_id,
            request_id=request_id,
            now=now,
            current=current,
        )
        details: dict[str, Any] = {"change": change, "reason": reason, "command_id": event.id}
        details |= {"request_id": request_id, "correlation_id": event.correlationid}
        if entry is not None:
            details["entry"] = dict(entry)
        audit = AuditEntry(LIBRARY_ACTION, actor, now, client, target=entry_id, details=details)
        return await self._send(f"library_change/{request_id}", event, audit)

    async def review_decision(
        self,
        item: Mapping[str, Any],
        *,
        decision: Literal["approve", "reject"],
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """A reviewer's decision (DS-10.1), at most one per item: a second, different form is refused."""
        event = review_decision_command(
            item,
            decision=decision,
            reason=reason,
            username=actor.username,
            role=actor.role,
            request_id=request_id,
            now=now,
        )
        details = {
            "decision": decision,
            "reason": reason,
            "generation_request_id": item["request_id"],
            "command_id": event.id,
            "request_id": request_id,  # the form's, as for every command
        }
        audit = AuditEntry(
            REVIEW_DECISION_ACTION, actor, now, client, target=str(item["item_id"]), details=details
        )
        return await self._send(f"review_decision/{item['item_id']}", event, audit, one_per_aggregate=True)

    async def resolve_complaint(
        self,
        ticket: Mapping[str, Any],
        resolution: Resolution,
        *,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> CommandResult:
        """An operator's resolution of a ticket (DS-12, GA-15), at most one per ticket."""
        event = resolution_command(
            ticket, resolution, username=actor.username, role=actor.role, request_id=request_id, now=now
        )
        details = {
            "outcome": resolution.outcome,
            "reason": resolution.reason,
            "actions": [a.model_dump(mode="json") for a in resolution.actions],
            "ticket_kind": ticket.get("ticket_kind"),
            "command_id": event.id,
            "request_id": request_id,
            "correlation_id": event.correlationid,
        }
        complaint_id = str(ticket["complaint_id"])
        audit = AuditEntry(
            COMPLAINT_RESOLUTION_ACTION, actor, now, client, target=complaint_id, details=details
        )
        return await self._send(
            complaint_resolution_aggregate_id(complaint_id), event, audit, one_per_aggregate=True
        )

    async def _send(
        self, aggregate_id: str, event: CloudEvent, entry: AuditEntry, *, one_per_aggregate: bool = False
    ) -> CommandResult:
        """Store the audit record with the command in its outbox (one document write), then publish.

        The same form again finds its command id processed: nothing is sent twice. With
        `one_per_aggregate`, a different command for an aggregate that already has one is refused.
        """
        record = AuditRecord.model_validate(audit_state(entry))
        decided: list[bool] = []

        def decide(existing: AuditRecord | None) -> Outcome[AuditRecord]:
            if one_per_aggregate and existing is not None:
                raise _Refused  # before any write: the refused form leaves no trace on the record
            decided.append(True)
            return Outcome(record, [command_message(event)])

        try:
            applied = await self.operations.apply(aggregate_id, event.id, AuditRecord, decide)
            published = True
        except _Refused:
            return await self._refused(aggregate_id)
        except _Deferred:
            # Stored, not confirmed: the relay publishes it. `decide` ran only if this form was new
            # (a rival's identical write in the same instant would count as new here too).
            applied, published = bool(decided), False
        if applied:
            log.info("console.command_recorded", command_id=event.id, type=event.type, target=entry.target)
        return CommandResult(event.id, duplicate=not applied, published=published)

    async def _refused(self, aggregate_id: str) -> CommandResult:
        """The command already recorded for the aggregate, and whether it went out."""
        agg = await self.store.load(aggregate_id)
        existing = agg.typed(AuditRecord)
        sent = str(existing.details.get("command_id", "")) if existing else ""
        stored = existing.model_dump() if existing else None
        return CommandResult(sent, False, not agg.outbox, accepted=False, existing=stored)


class _Refused(Exception):
    """The aggregate already holds another command and takes one only."""


class _Deferred(Exception):
    """The broker did not confirm in time: the stored command is left to the outbox relay."""


class _TimedPublisher:
    """Publishes with a deadline; any failure becomes `_Deferred` (the outbox keeps the command)."""

    def __init__(self, publisher: OutboxPublisher, timeout_s: float) -> None:
        self.publisher = publisher
        self.timeout_s = timeout_s

    def topic(self, name: str) -> str:
        """The physical topic name."""
        return self.publisher.topic(name)

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish and wait for the acknowledgements, or raise `_Deferred`."""
        try:
            await asyncio.wait_for(self.publisher.publish(messages), timeout=self.timeout_s)
        except (TimeoutError, KafkaError) as exc:
            log.warning("console.command_publish_deferred", error=type(exc).__name__)
            raise _Deferred from exc
        except Exception as exc:  # the command is stored: whatever went wrong, the relay sends it later
            log.exception("console.command_publish_failed")
            raise _Deferred from exc
