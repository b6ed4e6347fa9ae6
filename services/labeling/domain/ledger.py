"""The label ledger kept per content (DS-16 log; LB-12 lookup) and the LB-9 log of unlabeled copies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from services.labeling.domain.issuance import Issued
from services.labeling.domain.reasons import reason

LB9_MIN_RETENTION_DAYS: Final = 184  # "at least 6 months": the longest six calendar months (CS-1, LB-9)


def entry(issued: Issued, *, event_id: str, source_event_id: str, now: datetime) -> dict[str, Any]:
    """What the ledger keeps for one issued label."""
    return {
        "item": issued.item.key,
        "media_id": issued.item.media_id,
        "kind": issued.item.kind,
        "modality": issued.modality,
        "sha256": issued.item.sha256,
        "produce_id": issued.produce_id,
        "implicit_label": issued.implicit.to_object(),
        "explicit_label": issued.explicit.model_dump(mode="json", exclude_none=True)
        if issued.explicit
        else None,
        "reasons": issued.reasons,
        "event_id": event_id,
        "source_event_id": source_event_id,
        "issued_at": now,
    }


def already_issued(state: dict[str, Any] | None, issued: Issued) -> bool:
    """True when this exact label (item, content hash) is in the ledger: issue it once only."""
    return any(
        e["item"] == issued.item.key and e["sha256"] == issued.item.sha256
        for e in (state or {}).get("labels", [])
    )


def with_labels(
    state: dict[str, Any] | None, facts: dict[str, Any], entries: list[dict[str, Any]], now: datetime
) -> dict[str, Any]:
    """The content's ledger document with new entries; lookup keys kept as arrays of strings."""
    labels = [*(state or {}).get("labels", []), *entries]
    return {
        **(state or {}),
        **facts,
        "kind": "content",
        "labels": labels,
        "produce_ids": sorted({e["produce_id"] for e in labels}),
        "hashes": sorted({e["sha256"] for e in labels}),
        "first_labeled_at": (state or {}).get("first_labeled_at", now),
        "updated_at": now,
    }


def unlabeled_copy(
    state: dict[str, Any] | None,
    *,
    content_id: str,
    distribution_id: str,
    channel: str,
    recipients: list[str],
    distributed_at: datetime,
    event_id: str,
    now: datetime,
    retention_days: int,
) -> dict[str, Any]:
    """LB-9: who received a copy without the explicit label; kept >= 184 days (`lb9_expires_at`).

    A re-sent report of the same distribution adds its recipients and extends the retention.
    """
    earlier = state or {}
    keep = max(retention_days, LB9_MIN_RETENTION_DAYS)
    expires = now + timedelta(days=keep)
    if earlier.get("lb9_expires_at") and earlier["lb9_expires_at"] > expires:
        expires = earlier["lb9_expires_at"]
    return {
        "kind": "unlabeled_copy",
        "content_id": content_id,
        "distribution_id": distribution_id,
        "channel": channel,
        "recipients": sorted({*earlier.get("recipients", []), *recipients}),
        "distributed_at": earlier.get("distributed_at", distributed_at),
        "logged_at": earlier.get("logged_at", now),
        "event_ids": [*earlier.get("event_ids", []), event_id][-50:],
        "lb9_expires_at": expires,
        "reasons": [reason("unlabeled_copy_logged")],
    }
