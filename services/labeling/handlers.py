"""Handling `dsgov.output.approved` (issue labels, keep the ledger) and `dsgov.content.distributed` (LB-9)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.labeling.aigc.keys import SigningKey
from services.labeling.domain import ledger
from services.labeling.domain.issuance import Issued, issue_labels, items_of
from shared.contracts.distribution import ContentDistributed
from shared.contracts.envelope import CloudEvent, new_event
from shared.contracts.generation import OutputApproved
from shared.contracts.labeling import ContentLabeled
from shared.messaging.codec import Inbound
from shared.messaging.engine import Outcome, Unprocessable
from shared.messaging.ids import derived_id
from shared.observability import get_logger

log = get_logger(__name__)

SOURCE = "dsgov/labeling"
OUTPUT_APPROVED = "dsgov.output.approved"
CONTENT_DISTRIBUTED = "dsgov.content.distributed"
CONTENT_LABELED = "dsgov.content.labeled"


def aggregate_id(event: Inbound[Any]) -> str:
    """Labels and distributions of one content meet in one ledger document; LB-9 records stand alone.

    `output.approved` is keyed by request, so it is mapped to its content id here (never raising:
    a missing content id is the handler's to dead-letter).
    """
    provider = event.event.providerid
    data = event.data
    if isinstance(data, OutputApproved):
        return f"{provider}/{data.content_id}" if data.content_id else f"{provider}/request:{data.request_id}"
    if isinstance(data, ContentDistributed) and not data.explicit_label_kept:
        return f"{provider}/lb9/{data.content_id}/{data.distribution_id}"
    return f"{provider}/{event.subject}"


class LabelingHandlers:
    """The service's use cases, with the provider's code and key injected."""

    def __init__(
        self,
        producer_code: str,
        key: SigningKey,
        clock: Callable[[], datetime],
        retention_days: int = ledger.LB9_MIN_RETENTION_DAYS,
    ) -> None:
        """`producer_code` is ContentProducer (validated by the settings); `key` signs ReservedCode1."""
        self.producer_code = producer_code
        self.key = key
        self.clock = clock
        self.retention_days = retention_days

    async def on_output_approved(
        self, state: dict[str, Any] | None, event: Inbound[OutputApproved]
    ) -> Outcome:
        """Issue one implicit label per output item (DS-16) and the modality's explicit label (DS-17)."""
        data = event.data
        if not data.content_id:
            raise Unprocessable("content_id_missing (DS-16): output.approved carries no content_id")
        items = items_of(data.output)
        if not items:
            raise Unprocessable(
                "output_missing (DS-16): output.approved carries no output text or media hashes"
            )
        issued = issue_labels(
            producer_code=self.producer_code,
            key=self.key,
            content_id=data.content_id,
            service_type=data.service_type,
            label_required=data.label_required,
            items=items,
        )
        fresh = [i for i in issued if not ledger.already_issued(state, i)]
        if not fresh:
            log.info("label.already_issued", content_id=data.content_id)
            return Outcome(state=None)
        now = self.clock()
        events = [self._labeled_event(event, i, now) for i in fresh]
        entries = [
            ledger.entry(i, event_id=e.id, source_event_id=event.id, now=now)
            for i, e in zip(fresh, events, strict=True)
        ]
        facts = {
            "provider_id": event.event.providerid,
            "producer_code": self.producer_code,
            "content_id": data.content_id,
            "request_id": data.request_id,
            "user_id": data.user_id,
            "service_type": data.service_type,
            "decision_id": data.decision_id,
        }
        log.info("label.issued", content_id=data.content_id, items=len(fresh))
        return Outcome(state=ledger.with_labels(state, facts, entries, now), events=events)

    def _labeled_event(self, event: Inbound[OutputApproved], issued: Issued, now: datetime) -> CloudEvent:
        data = event.data
        assert data.content_id
        payload = ContentLabeled(
            content_id=data.content_id,
            request_id=data.request_id,
            implicit_label=issued.implicit.to_object(),
            explicit_label=issued.explicit,
            produce_id=issued.produce_id,
            media_id=issued.item.media_id,
            content_sha256=issued.item.sha256,
        )
        # Derived from the label itself, not from the inbound event: the same label is one event.
        event_id = derived_id(
            SOURCE, "labeled", event.event.providerid, issued.produce_id, issued.item.sha256
        )
        return new_event(
            type=CONTENT_LABELED,
            source=SOURCE,
            subject=data.content_id,
            providerid=event.event.providerid,
            data=payload,
            id=event_id,
            time=now,
            correlationid=event.event.correlation,
            causationid=event.id,
        )

    async def on_content_distributed(
        self, state: dict[str, Any] | None, event: Inbound[ContentDistributed]
    ) -> Outcome:
        """LB-9: log the recipients of a copy without the explicit label; labeled copies need nothing."""
        data = event.data
        if data.explicit_label_kept:
            return Outcome(state=None)
        record = ledger.unlabeled_copy(
            state,
            content_id=data.content_id,
            distribution_id=data.distribution_id,
            channel=data.channel,
            recipients=data.recipients,
            distributed_at=event.event.time,
            event_id=event.id,
            now=self.clock(),
            retention_days=self.retention_days,
        )
        log.info(
            "unlabeled_copy.logged",
            content_id=data.content_id,
            distribution_id=data.distribution_id,
            recipients=len(data.recipients),
        )
        return Outcome(state=record)
