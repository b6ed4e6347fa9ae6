"""Generation requests and outputs from the platform, and the review decisions (DS-10, DS-17)."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from shared.contracts.base import Actor, MediaKind, Payload, Reason, ServiceType

SanctionLevel = Literal["warning", "restricted", "suspended", "closed"]
EntryKind = Literal["keyword", "regex", "sha256", "phash"]
EntryAction = Literal["block", "review"]


class MediaRef(Payload):
    """A media item by reference: dsgov never receives the bytes, only hashes."""

    media_id: str = Field(min_length=1, max_length=256)
    kind: MediaKind
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    phash: str | None = Field(default=None, max_length=64, description="perceptual hash, hex")


class OutputMedia(MediaRef):
    """A generated media item."""

    width: int | None = Field(default=None, ge=0)
    height: int | None = Field(default=None, ge=0)
    duration_s: float | None = Field(default=None, ge=0)


class InputMedia(MediaRef):
    """A media item the user supplied."""

    depicts_person: bool = Field(
        default=False,
        description="the platform found a real person's face or voice in it: declare subjects (DS-14.2)",
    )


class ModelRef(Payload):
    """The generation model the platform names (DS-10.1 decision record, DS-15.1 algorithm review)."""

    id: str = Field(min_length=1, max_length=256)
    version: str = Field(min_length=1, max_length=128)


class GenerationInput(Payload):
    """What the user asked for."""

    text: str | None = Field(default=None, max_length=100_000)
    media: list[InputMedia] = Field(default_factory=list, max_length=100)


class GenerationOutput(Payload):
    """What the model produced."""

    text: str | None = Field(default=None, max_length=1_000_000)
    media: list[OutputMedia] = Field(default_factory=list, max_length=100)


class GenerationRequested(Payload):
    """`dsgov.generation.requested`: input review before generating (DS-10.1)."""

    request_id: str = Field(min_length=1, max_length=256)
    user_id: str = Field(min_length=1, max_length=256)
    service_type: ServiceType
    input: GenerationInput
    biometric_subjects: list[str] = Field(default_factory=list, max_length=100)
    model: ModelRef | None = Field(default=None, description="the model that will generate (DS-10.1)")


class GenerationCompleted(Payload):
    """`dsgov.generation.completed`: output review after generating (DS-10.1)."""

    request_id: str = Field(min_length=1, max_length=256)
    content_id: str = Field(min_length=1, max_length=256)
    output: GenerationOutput
    model: ModelRef | None = Field(default=None, description="the model that generated it (DS-10.1)")


class LibraryHit(Payload):
    """A feature-library entry that matched what was reviewed (DS-10.2 hit log); never the term itself."""

    entry_id: str
    kind: EntryKind
    category: str
    action: EntryAction
    where: str = Field(default="text", description="`text`, or the media_id of the matching media item")
    distance: int | None = Field(default=None, description="Hamming distance, for perceptual hashes")
    why: str = Field(default="", description="the admission reason the approver gave for the entry")


class ReviewDecision(Payload):
    """Common fields of the review decisions on `dsgov.review`."""

    request_id: str
    user_id: str
    decision_id: str
    reasons: list[Reason] = Field(default_factory=list)
    library_version: int | None = None
    rule_set_version: str | None = None
    label_required: bool = False
    service_type: ServiceType | None = None
    content_id: str | None = None
    decided_at: AwareDatetime | None = None
    output: GenerationOutput | None = Field(
        default=None, description="for output decisions: the reviewed output (hashes, no bytes)"
    )
    hits: list[LibraryHit] = Field(default_factory=list, description="library entries that matched")
    rumour_ids: list[str] = Field(default_factory=list, description="known rumours that matched (DS-11)")
    reviewer: Actor | None = Field(default=None, description="the person who decided, for human review")
    strike: bool = Field(
        default=False, description="a confirmed violation that counts against the user (DS-10.3)"
    )
    violation_category: str | None = Field(default=None, description="the category of the violation")
    model: ModelRef | None = Field(
        default=None, description="the model the platform named on the request or output (DS-10.1, DS-15.1)"
    )


class GenerationApproved(ReviewDecision):
    """`dsgov.generation.approved`."""


class GenerationRejected(ReviewDecision):
    """`dsgov.generation.rejected`."""


class OutputApproved(ReviewDecision):
    """`dsgov.output.approved`: the labeling service labels it next."""


class OutputBlocked(ReviewDecision):
    """`dsgov.output.blocked`."""


class UserSanctioned(Payload):
    """`dsgov.user.sanctioned`: enforcement ladder step (DS-10.3, GA-14.2)."""

    user_id: str
    level: SanctionLevel
    until: AwareDatetime | None = Field(default=None, description="null for `closed`")
    strikes: int = Field(ge=0)
    reasons: list[Reason] = Field(default_factory=list)
    category: str | None = None
    decision_id: str | None = None
