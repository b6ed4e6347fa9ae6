"""Base classes shared by every payload model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ServiceType = Literal[
    "text_dialogue",
    "text_writing",
    "voice_synthesis",
    "voice_cloning",
    "voice_conversion",
    "music_generation",
    "face_generation",
    "face_swap",
    "face_manipulation",
    "pose_manipulation",
    "image_generation",
    "image_editing",
    "video_generation",
    "digital_human",
    "immersive_scene",
    "other",
]
BiometricType = Literal["face", "voice"]
MediaKind = Literal["image", "audio", "video"]

Sha256Hex = str  # documented by the Field pattern where used
SHA256_PATTERN = r"^[0-9a-f]{64}$"


class Payload(BaseModel):
    """A v1 event payload (the CloudEvents `data`).

    Tolerant reader: unknown fields are ignored, so producers may add fields within v1.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=False)


class Reason(Payload):
    """Why a decision went the way it did: a stable code tied to an article id."""

    code: str = Field(description="stable snake_case reason code, e.g. `identity_unverified`")
    article: str = Field(description="article id from regulations.md, e.g. `DS-9`")
    detail: str = Field(default="", description="human-readable explanation, never personal data")


class Actor(Payload):
    """The console user who took an action."""

    username: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "operator", "admin"]
