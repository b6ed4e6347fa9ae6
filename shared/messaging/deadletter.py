"""Building dead-letter events; payloads from sensitive topics are encrypted (rule 6)."""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.contracts.deadletter import DeadLetterRecorded, ErrorCode
from shared.contracts.envelope import CloudEvent, new_event
from shared.messaging.codec import RawRecord

NAMESPACE = uuid.UUID("6f1d3a52-8c1e-4d7e-9a55-0b7f6d1c2e90")
# A dead letter must never be too large to publish itself (real Kafka refuses > ~1 MB by default):
# past this size only the head of the payload is kept, with the size and SHA-256 of the whole.
MAX_KEPT_PAYLOAD = 64 * 1024


def _aes_key(secret: str) -> bytes:
    # The configured secret is any high-entropy string; derive a 256-bit key from it.
    return hashlib.sha256(b"dsgov-deadletter-v1:" + secret.encode("utf-8")).digest()


def encrypt_payload(raw: bytes, secret: str) -> str:
    """Nonce || AES-256-GCM ciphertext, base64."""
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(_aes_key(secret)).encrypt(nonce, raw, None)).decode()


def decrypt_payload(payload_b64: str, secret: str) -> bytes:
    """The original bytes of an encrypted dead letter (for operators replaying it)."""
    blob = base64.b64decode(payload_b64)
    return AESGCM(_aes_key(secret)).decrypt(blob[:12], blob[12:], None)


def dead_letter_event(
    *,
    service: str,
    source: str,
    providerid: str,
    record: RawRecord,
    code: ErrorCode,
    detail: str,
    attempts: int,
    now: datetime,
    encrypt_with: str | None,
    original_event_id: str | None = None,
    original_type: str | None = None,
    correlation_id: str | None = None,
) -> CloudEvent:
    """The `dsgov.deadletter.recorded` event for one record.

    Its id is derived from (service, topic, partition, offset), so a redelivered bad record
    yields the same dead letter id and consumers of the dead-letter topic can de-duplicate.
    """
    key_text = record.key_text
    key = key_text if key_text is not None or record.key is None else base64.b64encode(record.key).decode()
    kept = record.value[:MAX_KEPT_PAYLOAD]
    payload = encrypt_payload(kept, encrypt_with) if encrypt_with else base64.b64encode(kept).decode()
    data = DeadLetterRecorded(
        service=service,
        original_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=key,
        key_encoding=None if record.key is None else ("utf-8" if key_text is not None else "base64"),
        payload=payload,
        payload_encryption="aes-256-gcm" if encrypt_with else None,
        payload_sha256=hashlib.sha256(record.value).hexdigest(),
        payload_size=len(record.value),
        payload_truncated=len(record.value) > MAX_KEPT_PAYLOAD,
        error_code=code,
        error_detail=detail,
        attempts=attempts,
        original_event_id=original_event_id,
        original_type=original_type,
    )
    event_id = str(uuid.uuid5(NAMESPACE, f"{service}/{record.topic}/{record.partition}/{record.offset}"))
    return new_event(
        type="dsgov.deadletter.recorded",
        source=source,
        subject=record.topic,
        providerid=providerid,
        data=data,
        id=event_id,
        time=now,
        correlationid=correlation_id or original_event_id or event_id,
        causationid=original_event_id or event_id,
    )
