"""Sending console commands with the services' guarantees: audit record + outbox in ONE document write.

Every command (a consent withdrawal, a library change, a review decision) is stored as one aggregate
document in the audit collection: its state is the audit record (who, when, why), its outbox holds
the command, and its processed ids hold the command id.
Only then is the command published and the outbox marked sent. If the broker does not confirm in
time, or the process dies in between, the audit collection's outbox relay publishes it later; a
resubmitted form (same request id) never produces a second command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from aiokafka.errors import KafkaError

from services.console.adapters.mongo import DECISION_ACTION as REVIEW_DECISION_ACTION
from services.console.adapters.mongo import audit_state
from services.console.domain.commands import (
    library_change_command,
    review_decision_command,
    withdrawal_command,
)
from services.console.ports import Actor, AuditEntry, CommandResult
from shared.contracts import topics
from shared.contracts.envelope import CloudEvent
from shared.contracts.registry import spec_for
from shared.messaging.publisher import Publisher
from shared.observability import get_logger
from shared.storage.aggregates import Aggregate, AggregateStore
from shared.storage.outbox import OutboxMessage

log = get_logger(__name__)

MAX_CONFLICT_ROUNDS = 3
WITHDRAWAL_ACTION = "consent_withdrawal_submitted"
LIBRARY_ACTION = "library_change_submitted"


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
        store: AggregateStore,
        publisher: Publisher,
        *,
        publish_timeout_s: float = 10.0,
        provider_id: str = "",
    ) -> None:
        """`store` is the audit collection; its relay publishes what the fast path could not.

        `provider_id` is the tenant of commands that continue no flow (a library proposal).
        """
        self.store = store
        self.publisher = publisher
        self.publish_timeout_s = publish_timeout_s
        self.provider_id = provider_id

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

    async def _send(
        self, aggregate_id: str, event: CloudEvent, entry: AuditEntry, *, one_per_aggregate: bool = False
    ) -> CommandResult:
        """Store the audit record with the command in its outbox (one document write), then publish.

        The same form again finds its command id processed: nothing is sent twice. With
        `one_per_aggregate`, a different command for an aggregate that already has one is refused.
        """
        for _ in range(MAX_CONFLICT_ROUNDS):
            agg = await self.store.load(aggregate_id)
            if agg.has_processed(event.id):
                return CommandResult(event.id, duplicate=True, published=await self._flush(agg))
            if one_per_aggregate and agg.version > 0:
                sent = str((agg.state or {}).get("details", {}).get("command_id", ""))
                return CommandResult(sent, False, not agg.outbox, accepted=False, existing=agg.state)
            agg.record(event.id, audit_state(entry), [command_message(event)])
            if not await self.store.save_many([agg]):
                log.info(
                    "console.command_recorded", command_id=event.id, type=event.type, target=entry.target
                )
                return CommandResult(event.id, duplicate=False, published=await self._flush(agg))
        raise RuntimeError(f"command {aggregate_id} kept conflicting")  # pragma: no cover - defensive

    async def _flush(self, agg: Aggregate) -> bool:
        """Publish the aggregate's pending outbox and mark it sent; False leaves it to the relay."""
        if not agg.outbox:
            return True
        try:
            await asyncio.wait_for(self.publisher.publish(agg.outbox), timeout=self.publish_timeout_s)
        except (TimeoutError, KafkaError) as exc:
            log.warning("console.command_publish_deferred", aggregate=agg.id, error=type(exc).__name__)
            return False
        except Exception:  # the command is stored: whatever went wrong, the relay sends it later
            log.exception("console.command_publish_failed", aggregate=agg.id)
            return False
        await self.store.mark_sent([agg])
        return True
