"""Dead letters: bad input and repeated failures, kept with their original bytes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shared.contracts.base import Payload

ErrorCode = Literal[
    "invalid_json",
    "invalid_envelope",
    "schema_violation",
    "unknown_type",
    "processing_failed",
    "payload_too_large",
    "unknown_provider",
]


class DeadLetterRecorded(Payload):
    """`dsgov.deadletter.recorded`."""

    service: str
    original_topic: str
    partition: int
    offset: int
    key: str | None = Field(description="the original key (UTF-8), or base64 when not UTF-8")
    key_encoding: Literal["utf-8", "base64"] | None = None
    payload: str = Field(description="the original bytes, base64 (encrypted when sensitive)")
    payload_encryption: Literal["aes-256-gcm"] | None = Field(
        default=None,
        description="set for topics that carry personal identifiers: payload is nonce||ciphertext",
    )
    payload_sha256: str | None = Field(default=None, description="SHA-256 of the whole original payload")
    payload_size: int | None = Field(default=None, ge=0, description="size of the original payload")
    payload_truncated: bool = Field(
        default=False, description="true when only the first 64 KiB of an oversized payload is kept"
    )
    error_code: ErrorCode
    error_detail: str
    attempts: int = Field(ge=1)
    original_event_id: str | None = None
    original_type: str | None = None
