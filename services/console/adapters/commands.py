"""Sending console commands with the services' guarantees: audit record + outbox in ONE document write.

A withdrawal is stored as one aggregate document in the audit collection: its state is the audit
record (who, when, why), its outbox holds the command, and its processed ids hold the command id.
Only then is the command published and the outbox marked sent. If the broker does not confirm in
time, or the process dies in between, the audit collection's outbox relay publishes it later; a
resubmitted form (same request id) never produces a second command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aiokafka.errors import KafkaError

from services.console.adapters.mongo import audit_state
from services.console.domain.commands import withdrawal_command
from services.console.ports import Actor, AuditEntry, WithdrawalResult
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
        self, store: AggregateStore, publisher: Publisher, *, publish_timeout_s: float = 10.0
    ) -> None:
        """`store` is the audit collection; its relay publishes what the fast path could not."""
        self.store = store
        self.publisher = publisher
        self.publish_timeout_s = publish_timeout_s

    async def withdraw(
        self,
        consent: Mapping[str, Any],
        *,
        reason: str,
        actor: Actor,
        request_id: str,
        client: str | None,
        now: datetime,
    ) -> WithdrawalResult:
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
        for _ in range(MAX_CONFLICT_ROUNDS):
            agg = await self.store.load(f"withdrawal/{request_id}")
            if agg.has_processed(event.id):
                return WithdrawalResult(event.id, duplicate=True, published=await self._flush(agg))
            agg.record(event.id, audit_state(entry), [command_message(event)])
            if not await self.store.save_many([agg]):
                log.info("console.withdrawal_recorded", command_id=event.id, consent_id=entry.target)
                return WithdrawalResult(event.id, duplicate=False, published=await self._flush(agg))
        raise RuntimeError(f"withdrawal {request_id} kept conflicting")  # pragma: no cover - defensive

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
