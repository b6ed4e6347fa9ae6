"""The human review queue and the feature library, as events for the console (DS-10.1, DS-10.2).

Published by `generation_review` on `dsgov.review`; the console builds its review-queue and
library pages from them. Decisions themselves stay `dsgov.generation.*` / `dsgov.output.*`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import Actor, Payload, Reason, ServiceType
from shared.contracts.generation import EntryAction, EntryKind, LibraryHit, MediaRef

ReviewStage = Literal["input", "output"]
EntryStatus = Literal["proposed", "active", "disabled"]
LibraryChange = Literal["propose", "approve", "disable", "seed"]


class ReviewQueued(Payload):
    """`dsgov.review.queued`: a request or output waits for a person (entries with action `review`)."""

    item_id: str
    request_id: str
    user_id: str
    service_type: ServiceType
    stage: ReviewStage
    content_id: str | None = None
    hits: list[LibraryHit] = Field(default_factory=list, description="the entries that asked for review")
    reasons: list[Reason] = Field(
        default_factory=list,
        description="why a person must look besides `hits`, e.g. `library_empty` (DS-10.2): never fail open",
    )
    text: str | None = Field(default=None, description="the checked text, or its first characters")
    text_truncated: bool = False
    text_sha256: str | None = Field(default=None, description="SHA-256 of the normalised text")
    media: list[MediaRef] = Field(default_factory=list)
    library_version: int
    queued_at: AwareDatetime


class ReviewResolved(Payload):
    """`dsgov.review.resolved`: a reviewer decided an item; the platform got the final decision."""

    item_id: str
    request_id: str
    user_id: str
    stage: ReviewStage
    decision: Literal["approve", "reject"]
    outcome_type: str = Field(description="the decision event published, e.g. `dsgov.generation.approved`")
    decision_id: str
    reviewer: Actor
    reason: str
    resolved_at: AwareDatetime


class LibraryEntrySnapshot(Payload):
    """One feature-library entry as it stands after a change (DS-10.2)."""

    entry_id: str
    kind: EntryKind
    pattern: str = Field(description="the keyword, regular expression or hash (hex)")
    category: str
    action: EntryAction
    max_distance: int | None = Field(default=None, description="Hamming threshold, for `phash`")
    status: EntryStatus
    demo: bool = Field(default=False, description="shipped demo data, not a real list")
    proposed_by: str
    proposed_reason: str
    approved_by: str | None = None
    approval_reason: str | None = None
    disabled_by: str | None = None
    disabled_reason: str | None = None
    created_version: int
    updated_version: int


class LibraryUpdated(Payload):
    """`dsgov.library.updated`: one change of the feature library, applied (new version) or refused."""

    entry_id: str
    library_version: int = Field(description="the version after the change (unchanged when refused)")
    change: LibraryChange
    applied: bool
    refusal: str | None = Field(default=None, description="why a change was refused, e.g. `four_eyes`")
    refusal_detail: str | None = None
    entry: LibraryEntrySnapshot | None = None
    actor: str = Field(description="`console:<username>` or `system:<what>`")
    actor_role: str | None = None
    reason: str
    changed_at: AwareDatetime
