"""One entry of the network log: what was on the wire, in the form that is hashed, sealed and exported.

The entry's canonical JSON (RFC 8785) is the Merkle leaf, so an inspector who holds an exported
entry can recompute its leaf and check it against a signed checkpoint. A random `salt` (kept only
inside the encrypted body) makes the stored leaf hash useless for guessing an IP address.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.network_log.domain.canonical import canonical
from services.network_log.domain.merkle import leaf_hash
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import RawRecord

# Identity numbers never enter the log (DS-9, ARCHITECTURE rule 6): of an identity submission only
# the envelope is kept (who, when, which event), never its payload, not even encrypted.
WITHHELD_TOPICS = frozenset({topics.PLATFORM_IDENTITY})
IDENTITY_TYPES = frozenset({T.IDENTITY_SUBMITTED, T.IDENTITY_VERIFIED, T.IDENTITY_REJECTED})
WITHHELD_REASON = "payload not kept: identity numbers never enter network_log (DS-9)"

# Where a payload names the user it is about, in the order looked at (export filter `--user`).
USER_FIELDS = ("user_id", "recipient_user_id", "subject_id", "grantee_user_id", "complainant_user_id")
CONTENT_FIELDS = ("content_id",)


class LogEntry(BaseModel):
    """One record of the log as exported (and as hashed into its segment's Merkle tree)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str
    partition: int
    offset: int
    received_at_ms: int
    event_id: str
    type: str
    subject: str
    providerid: str
    user_id: str | None = None
    content_id: str | None = None
    event: dict[str, Any] | None = None  # the CloudEvent as received; None when withheld
    withheld: str | None = None
    salt: str

    def canonical(self, *, known_simple: bool = False) -> bytes:
        """RFC 8785 canonical JSON: the bytes hashed into the Merkle leaf.

        `known_simple`: the event's JSON text was vouched for by `canonical.parse_json` (our own fields are
        ASCII strings and small integers), so the fast encoder is exact.
        """
        return canonical(self.as_json(), known_simple=known_simple)

    def as_json(self) -> dict[str, Any]:
        """The entry as a JSON object (what is exported)."""
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "received_at_ms": self.received_at_ms,
            "event_id": self.event_id,
            "type": self.type,
            "subject": self.subject,
            "providerid": self.providerid,
            "user_id": self.user_id,
            "content_id": self.content_id,
            "event": self.event,
            "withheld": self.withheld,
            "salt": self.salt,
        }

    def leaf(self) -> bytes:
        """The RFC 6962 leaf hash of this entry."""
        return leaf_hash(self.canonical())


@dataclass(frozen=True)
class Rejected:
    """An activity record that cannot be kept: it goes to the dead-letter topic with `code`."""

    record: RawRecord
    code: str
    detail: str
    event: CloudEvent | None = None


def entry_id(topic: str, partition: int, offset: int, event_id: str) -> str:
    """The idempotency key of a delivery: the same record redelivered maps to the same id.

    Topic/partition/offset alone is not enough: the embedded broker starts empty after a restart,
    so offsets repeat; with the CloudEvents id they do not collide.
    """
    return hashlib.sha256(f"{topic}\x1f{partition}\x1f{offset}\x1f{event_id}".encode()).hexdigest()


def _first(data: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    for name in fields:
        value = data.get(name)
        if isinstance(value, str) and value:
            return value[:256]
    return None


def entry_json(  # the event is parsed JSON as received, so it is plain JSON already
    *,
    topic: str,
    partition: int,
    offset: int,
    received_at_ms: int,
    event: dict[str, Any],
    salt: bytes,
) -> dict[str, Any]:
    """The log entry (in its exported JSON form) of a CloudEvent, already checked as an envelope.

    A plain dict, built field by field: ingestion is the hot path. `LogEntry` validates the
    same shape where entries come from outside (a bundle being verified).
    """
    data = event.get("data")
    payload = data if isinstance(data, dict) else {}
    withheld = topic in WITHHELD_TOPICS
    user = _first(payload, USER_FIELDS) if not withheld else None
    if withheld or (user is None and event.get("type") in IDENTITY_TYPES):
        user = str(event["subject"])  # identity events are about the user named by their subject
    return {
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "received_at_ms": received_at_ms,
        "event_id": str(event["id"]),
        "type": str(event["type"]),
        "subject": str(event["subject"]),
        "providerid": str(event["providerid"]),
        "user_id": user,
        "content_id": _first(payload, CONTENT_FIELDS),
        "event": None if withheld else event,
        "withheld": WITHHELD_REASON if withheld else None,
        "salt": base64.b64encode(salt).decode("ascii"),
    }


def entry_of(**fields: Any) -> LogEntry:
    """`entry_json` as a validated `LogEntry`."""
    return LogEntry.model_validate(entry_json(**fields))


def source_ip(entry: dict[str, Any]) -> str | None:
    """The source IP of an activity entry (SA-5, entry in JSON form), for the blind index of `--ip`."""
    data = (entry["event"] or {}).get("data")
    ip = data.get("source_ip") if isinstance(data, dict) else None
    return ip if isinstance(ip, str) and ip else None
