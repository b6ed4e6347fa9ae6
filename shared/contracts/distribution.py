"""Distribution facts from the platform (DS-11 reach, LB-9 unlabeled copies)."""

from __future__ import annotations

from pydantic import Field

from shared.contracts.base import Payload


class ContentDistributed(Payload):
    """`dsgov.content.distributed`: content went to these recipients."""

    content_id: str = Field(min_length=1, max_length=256)
    distribution_id: str = Field(min_length=1, max_length=256)
    recipients: list[str] = Field(max_length=100_000)
    channel: str = Field(max_length=200)
    explicit_label_kept: bool = Field(description="false when the user took an unlabeled copy (LB-9)")
