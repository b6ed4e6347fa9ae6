"""Labeling events (DS-16..18, LB-4, LB-5, GB 45438)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from shared.contracts.base import Payload

Modality = Literal["text", "image", "audio", "video", "interactive", "immersive"]


class ExplicitLabel(Payload):
    """The conspicuous label required for the modality (GB-E0..E6)."""

    modality: Modality
    text: str = Field(description="wording with an AI element and a generation element")
    placement: str
    min_height_ratio: float | None = None
    min_duration_s: float | None = None
    audio_rhythm: str | None = Field(default=None, description="Morse rhythm for AI, e.g. `.-..`")


class ContentLabeled(Payload):
    """`dsgov.content.labeled`: the implicit and explicit labels issued for an output."""

    content_id: str
    request_id: str
    implicit_label: dict[str, Any] = Field(description='the GB 45438 `{"AIGC": {...7 keys...}}` object')
    explicit_label: ExplicitLabel | None = None
    produce_id: str | None = None
    media_id: str | None = Field(
        default=None, description="the output media item the label is for; absent for the output text"
    )
    content_sha256: str | None = Field(
        default=None, description="SHA-256 of the content the label is bound to (its ReservedCode1)"
    )
