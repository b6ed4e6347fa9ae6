"""Handling `dsgov.output.approved` (issue labels, keep the ledger) and `dsgov.content.distributed` (LB-9)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from services.labeling.aigc.keys import SigningKey
from services.labeling.domain import ledger
from services.labeling.domain.issuance import issue_labels, items_of
from services.labeling.domain.ledger import ContentLedger, LabelFacts, UnlabeledCopy
from services.labeling.outbound import labeled_event
from shared.contracts.distribution import ContentDistributed
from shared.contracts.generation import OutputApproved
from shared.messaging.codec import Inbound
from shared.messaging.engine import Unprocessable
from shared.messaging.routing import Outcome
from shared.observability import get_logger

log = get_logger(__name__)


def ledger_key(event: Inbound[OutputApproved]) -> str:
    """Labels of one content meet in one ledger document.

    `output.approved` is keyed by request on the wire, so it is mapped to its content id here
    (never raising: a missing content id is the handler's to dead-letter).
    """
    provider, data = event.event.providerid, event.data
    return f"{provider}/{data.content_id}" if data.content_id else f"{provider}/request:{data.request_id}"


def copy_key(event: Inbound[ContentDistributed]) -> str:
    """An unlabeled copy is its own LB-9 record; labeled copies (nothing to keep) share a small one.

    Labeled copies never touch the content's ledger: one aggregate holds one kind of state.
    """
    provider, data = event.event.providerid, event.data
    if data.explicit_label_kept:
        return f"{provider}/labeled-copies/{data.content_id}"
    return f"{provider}/lb9/{data.content_id}/{data.distribution_id}"


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
        self, state: ContentLedger | None, event: Inbound[OutputApproved]
    ) -> Outcome[ContentLedger]:
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
            return Outcome(None)
        now = self.clock()
        events = [labeled_event(event, data.content_id, i, now) for i in fresh]
        entries = [
            ledger.entry(i, event_id=e.id, source_event_id=event.id, now=now)
            for i, e in zip(fresh, events, strict=True)
        ]
        log.info("label.issued", content_id=data.content_id, items=len(fresh))
        return Outcome(ledger.with_labels(state, self._facts(event, data.content_id), entries, now), events)

    def _facts(self, event: Inbound[OutputApproved], content_id: str) -> LabelFacts:
        data = event.data
        return LabelFacts(
            provider_id=event.event.providerid,
            producer_code=self.producer_code,
            content_id=content_id,
            request_id=data.request_id,
            user_id=data.user_id,
            service_type=data.service_type,
            decision_id=data.decision_id,
        )

    async def on_content_distributed(
        self, state: UnlabeledCopy | None, event: Inbound[ContentDistributed]
    ) -> Outcome[UnlabeledCopy]:
        """LB-9: log the recipients of a copy without the explicit label; labeled copies need nothing."""
        data = event.data
        if data.explicit_label_kept:
            return Outcome(None)
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
        return Outcome(record)
