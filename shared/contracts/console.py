"""Commands people send from the admin console (`dsgov.console.commands`).

Every command names its actor; a command that changes something carries a reason.
The consent withdrawal command lives in `shared.contracts.consent`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.contracts.base import Actor, Payload


class ReviewDecisionSubmitted(Payload):
    """`dsgov.review.decision-submitted`: a reviewer decides a queued item (DS-10.1 manual review)."""

    item_id: str = Field(min_length=1, max_length=256)
    request_id: str = Field(min_length=1, max_length=256)
    decision: Literal["approve", "reject"]
    reason: str = Field(min_length=1, max_length=2000)
    actor: Actor


class LibraryChangeSubmitted(Payload):
    """`dsgov.library.change-submitted`: propose, approve or disable a feature-library entry (DS-10.2)."""

    change: Literal["propose", "approve", "disable"]
    entry_id: str = Field(min_length=1, max_length=256)
    entry: dict[str, Any] | None = Field(default=None, description="the proposed entry, for `propose`")
    reason: str = Field(min_length=1, max_length=2000)
    actor: Actor
