"""What the labeling service needs from the outside world: reading its own ledger for lookups."""

from __future__ import annotations

from typing import Protocol

from services.labeling.domain.ledger import ContentLedger, UnlabeledCopy


class LabelLedger(Protocol):
    """Lookups over the label ledger (LB-12: label lookup for authorities)."""

    async def by_produce_id(self, produce_id: str) -> list[ContentLedger]:
        """The content records that hold a label with this ProduceID."""
        ...

    async def by_sha256(self, sha256: str) -> list[ContentLedger]:
        """The content records that hold a label bound to this content hash."""
        ...

    async def unlabeled_copies(self, content_id: str) -> list[UnlabeledCopy]:
        """The LB-9 records of copies of this content handed out without the explicit label."""
        ...
