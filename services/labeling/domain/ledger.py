"""The label ledger kept per content (DS-16 log; LB-12 lookup) and the LB-9 log of unlabeled copies.

Two aggregate kinds share the `labels` collection: `ContentLedger` (one per content) and
`UnlabeledCopy` (one per distribution handed out without the explicit label). Field names are
the stored ones the lookup queries and the TTL index use (`state.produce_ids`, `state.hashes`,
`state.content_id`, `state.kind`, `state.lb9_expires_at`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final, Literal

from pydantic import field_serializer

from services.labeling.domain.issuance import Issued
from services.labeling.domain.reasons import reason
from shared.contracts.labeling import ExplicitLabel
from shared.storage.aggregates import AggregateState

LB9_MIN_RETENTION_DAYS: Final = 184  # "at least 6 months": the longest six calendar months (CS-1, LB-9)
EVENT_IDS_KEPT: Final = 50


class LabelEntry(AggregateState):
    """What the ledger keeps for one issued label."""

    item: str
    media_id: str | None
    kind: str
    modality: str
    sha256: str
    produce_id: str
    implicit_label: dict[str, dict[str, str]]  # `{"AIGC": {...}}` as written into the file
    explicit_label: ExplicitLabel | None
    reasons: tuple[dict[str, str], ...]
    event_id: str
    source_event_id: str
    issued_at: datetime

    @field_serializer("explicit_label")
    def _compact(self, label: ExplicitLabel | None) -> dict[str, object] | None:
        # Stored (and shown by the lookup) without the fields a modality does not use.
        return label.model_dump(mode="json", exclude_none=True) if label else None


class LabelFacts(AggregateState):
    """What the approval said about the content (kept on its ledger for the lookup)."""

    provider_id: str
    producer_code: str
    content_id: str
    request_id: str
    user_id: str
    service_type: str | None
    decision_id: str


class ContentLedger(LabelFacts):
    """Every label issued for one content; lookup keys kept as flat arrays of strings."""

    kind: Literal["content"] = "content"
    labels: tuple[LabelEntry, ...] = ()
    produce_ids: tuple[str, ...] = ()
    hashes: tuple[str, ...] = ()
    first_labeled_at: datetime
    updated_at: datetime


class UnlabeledCopy(AggregateState):
    """LB-9: who received a copy without the explicit label, kept until `lb9_expires_at`."""

    kind: Literal["unlabeled_copy"] = "unlabeled_copy"
    content_id: str
    distribution_id: str
    channel: str
    recipients: tuple[str, ...]
    distributed_at: datetime
    logged_at: datetime
    event_ids: tuple[str, ...]
    lb9_expires_at: datetime
    reasons: tuple[dict[str, str], ...]


def entry(issued: Issued, *, event_id: str, source_event_id: str, now: datetime) -> LabelEntry:
    """What the ledger keeps for one issued label."""
    return LabelEntry(
        item=issued.item.key,
        media_id=issued.item.media_id,
        kind=issued.item.kind,
        modality=issued.modality,
        sha256=issued.item.sha256,
        produce_id=issued.produce_id,
        implicit_label=issued.implicit.to_object(),
        explicit_label=issued.explicit,
        reasons=tuple(issued.reasons),
        event_id=event_id,
        source_event_id=source_event_id,
        issued_at=now,
    )


def already_issued(state: ContentLedger | None, issued: Issued) -> bool:
    """True when this exact label (item, content hash) is in the ledger: issue it once only."""
    return state is not None and any(
        e.item == issued.item.key and e.sha256 == issued.item.sha256 for e in state.labels
    )


def with_labels(
    state: ContentLedger | None, facts: LabelFacts, entries: Sequence[LabelEntry], now: datetime
) -> ContentLedger:
    """The content's ledger with new entries (the facts of the latest approval)."""
    labels = (*(state.labels if state else ()), *entries)
    return ContentLedger(
        **facts.model_dump(),
        labels=labels,
        produce_ids=tuple(sorted({e.produce_id for e in labels})),
        hashes=tuple(sorted({e.sha256 for e in labels})),
        first_labeled_at=state.first_labeled_at if state else now,
        updated_at=now,
    )


def unlabeled_copy(
    state: UnlabeledCopy | None,
    *,
    content_id: str,
    distribution_id: str,
    channel: str,
    recipients: Sequence[str],
    distributed_at: datetime,
    event_id: str,
    now: datetime,
    retention_days: int,
) -> UnlabeledCopy:
    """LB-9: who received a copy without the explicit label; kept >= 184 days (`lb9_expires_at`).

    A re-sent report of the same distribution adds its recipients and extends the retention.
    """
    keep = max(retention_days, LB9_MIN_RETENTION_DAYS)
    expires = now + timedelta(days=keep)
    if state is not None and state.lb9_expires_at > expires:
        expires = state.lb9_expires_at
    return UnlabeledCopy(
        content_id=content_id,
        distribution_id=distribution_id,
        channel=channel,
        recipients=tuple(sorted({*(state.recipients if state else ()), *recipients})),
        distributed_at=state.distributed_at if state else distributed_at,
        logged_at=state.logged_at if state else now,
        event_ids=(*(state.event_ids if state else ()), event_id)[-EVENT_IDS_KEPT:],
        lb9_expires_at=expires,
        reasons=(reason("unlabeled_copy_logged"),),
    )
