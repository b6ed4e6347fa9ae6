"""The network log's use cases: append what arrived, seal closed segments, drop expired ones.

`network_log` is an audit consumer of every dsgov topic, so it does not route per event type
(the engine would dead-letter every type it does not route); it appends raw records in batches.
Only the activity topic, which it owns, is validated and dead-lettered (bad input, unknown
provider); records on other topics that are not readable CloudEvents are the owning service's
to dead-letter and are not kept here.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.network_log.domain.checkpoint import Checkpoint, SegmentSeal, Signer
from services.network_log.domain.merkle import Tree, leaf_hash
from services.network_log.domain.records import LogEntry, entry_id, entry_of, source_ip
from services.network_log.domain.retention import first_kept_segment, segment_bounds, segment_of
from services.network_log.ports import FieldCipher, LogStore
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import DecodeFailure, Inbound, RawRecord, decode

ACTIVITY_TYPES = frozenset({T.ACTIVITY_RECORDED})


@dataclass(frozen=True)
class Rejected:
    """An activity record that cannot be kept: it goes to the dead-letter topic."""

    record: RawRecord
    code: str
    detail: str
    event: CloudEvent | None = None


@dataclass
class AppendReport:
    """What one batch did."""

    appended: int = 0
    duplicates: int = 0
    skipped: int = 0
    rejected: list[Rejected] = field(default_factory=list)


class NetworkLogHandlers:
    """Append, seal and retention over the store and cipher ports; time comes from `clock`."""

    def __init__(
        self,
        *,
        store: LogStore,
        cipher: FieldCipher,
        signer: Signer,
        log_name: str,
        providers: frozenset[str],
        retention: timedelta,
        segment_ms: int,
        clock: Callable[[], datetime],
        salt: Callable[[], bytes],
    ) -> None:
        """Ports and policy; `salt` gives each entry its random salt."""
        self.store = store
        self.cipher = cipher
        self.signer = signer
        self.log_name = log_name
        self.providers = providers
        self.retention = retention
        self.segment_ms = segment_ms
        self.clock = clock
        self.salt = salt
        # Held from taking the time until the insert is durable, and by the sealer to confirm a
        # segment is closed: no entry can land in a segment after it was sealed.
        self._segment_lock = asyncio.Lock()
        self._checkpoints: list[dict[str, Any]] | None = None

    # -- append ---------------------------------------------------------------------------------

    async def append(self, records: Sequence[RawRecord]) -> AppendReport:
        """Keep every readable record of the batch; durable when this returns (then commit offsets)."""
        report = AppendReport()
        events: list[tuple[RawRecord, dict[str, Any]]] = []
        for record in records:
            kept = self._admit(record, report)
            if kept is not None:
                events.append((record, kept))
        async with self._segment_lock:
            now_ms = self._now_ms()
            docs = [self._doc(r, e, now_ms) for r, e in events]
            new = await self.store.append(docs)
        report.appended, report.duplicates = new, len(docs) - new
        return report

    def _admit(self, record: RawRecord, report: AppendReport) -> dict[str, Any] | None:
        if record.topic == topics.PLATFORM_ACTIVITY:
            return self._admit_activity(record, report)
        event = _envelope(record.value)
        if event is None or event.get("providerid") not in self.providers:
            report.skipped += 1  # the owning service dead-letters it; nothing of it is kept here
            return None
        return event

    def _admit_activity(self, record: RawRecord, report: AppendReport) -> dict[str, Any] | None:
        decoded = decode(record, ACTIVITY_TYPES)
        if isinstance(decoded, DecodeFailure):
            report.rejected.append(Rejected(record, decoded.code, decoded.detail))
            return None
        if not isinstance(decoded, Inbound):  # pragma: no cover - the topic carries one type only
            report.skipped += 1
            return None
        if decoded.event.providerid not in self.providers:
            detail = f"provider {decoded.event.providerid[:128]!r} is not served here (DSGOV_PROVIDER_IDS)"
            report.rejected.append(Rejected(record, "unknown_provider", detail, decoded.event))
            return None
        raw: dict[str, Any] = json.loads(record.value)
        return raw

    def _doc(self, record: RawRecord, event: dict[str, Any], now_ms: int) -> dict[str, Any]:
        entry = entry_of(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            received_at_ms=now_ms,
            event=event,
            salt=self.salt(),
        )
        return stored_doc(entry, self.cipher, self.segment_ms)

    # -- sealing --------------------------------------------------------------------------------

    async def seal_due(self) -> list[Checkpoint]:
        """Seal every closed segment not sealed yet, oldest first; one signed checkpoint each."""
        made: list[Checkpoint] = []
        while (segment := await self._next_closed_segment()) is not None:
            made.append(await self._seal(segment))
        return made

    async def _next_closed_segment(self) -> int | None:
        checkpoints = await self._load_checkpoints()
        last = int(checkpoints[-1]["seal"]["segment"]) if checkpoints else -1
        segment = await self.store.next_segment_after(last)
        if segment is None:
            return None
        async with self._segment_lock:  # appends in flight finish first; later ones get a later segment
            closed = segment_of(self._now_ms(), self.segment_ms) > segment
        return segment if closed else None

    async def _seal(self, segment: int) -> Checkpoint:
        leaves = await self.store.segment_leaves(segment)
        start, end = segment_bounds(segment, self.segment_ms)
        seal = SegmentSeal(
            segment=segment, start_ms=start, end_ms=end, records=len(leaves), root=Tree(leaves).root().hex()
        )
        checkpoints = await self._load_checkpoints()
        log_leaves = [SegmentSeal.model_validate(c["seal"]).leaf() for c in checkpoints] + [seal.leaf()]
        unsigned = Checkpoint(
            log=self.log_name,
            size=len(log_leaves),
            root=Tree(log_leaves).root().hex(),
            signed_at_ms=self._now_ms(),
            key_id=self.signer.key_id,
        )
        checkpoint = self.signer.checkpoint(unsigned)
        doc = {"_id": checkpoint.size, "seal": seal.model_dump(), "checkpoint": checkpoint.model_dump()}
        if not await self.store.add_checkpoint(doc):
            self._checkpoints = None  # another sealer got there first: reload and carry on
            raise RuntimeError(f"checkpoint {checkpoint.size} exists already; reloading")
        checkpoints.append(doc)
        return checkpoint

    async def _load_checkpoints(self) -> list[dict[str, Any]]:
        if self._checkpoints is None:
            self._checkpoints = await self.store.checkpoints()
        return self._checkpoints

    # -- retention ------------------------------------------------------------------------------

    async def enforce_retention(self) -> int:
        """Delete sealed segments whose every entry is older than the retention period (CS-1)."""
        checkpoints = await self._load_checkpoints()
        if not checkpoints:
            return 0
        sealed_through = int(checkpoints[-1]["seal"]["segment"])
        cutoff = min(first_kept_segment(self.clock(), self.retention, self.segment_ms), sealed_through + 1)
        return await self.store.delete_segments_before(cutoff)

    def _now_ms(self) -> int:
        return int(self.clock().timestamp() * 1000)


def stored_doc(entry: LogEntry, cipher: FieldCipher, segment_ms: int) -> dict[str, Any]:
    """The stored form: plaintext index fields, the salted leaf hash, the entry encrypted.

    Source IPs, device ids and user agents (PI-28/51) exist only inside `body`; `ip` is a keyed
    blind index of the address, for the `--ip` export filter.
    """
    segment = segment_of(entry.received_at_ms, segment_ms)
    eid = entry_id(entry.topic, entry.partition, entry.offset, entry.event_id)
    ip = source_ip(entry)
    body = entry.canonical()
    return {
        "_id": eid,
        "pos": f"{segment:010d}/{eid}",
        "seg": segment,
        "received_at_ms": entry.received_at_ms,
        "topic": entry.topic,
        "type": entry.type,
        "providerid": entry.providerid,
        "user_id": entry.user_id,
        "content_id": entry.content_id,
        "ip": cipher.blind(ip) if ip else None,
        "leaf": leaf_hash(body).hex(),
        "body": base64.b64encode(cipher.seal(body)).decode("ascii"),
    }


def open_doc(doc: dict[str, Any], cipher: FieldCipher) -> dict[str, Any]:
    """The entry (as exported) of a stored document; ValueError when body and leaf hash disagree."""
    body = cipher.open(base64.b64decode(doc["body"]))
    if leaf_hash(body).hex() != doc["leaf"]:
        raise ValueError(f"entry {doc['_id']}: body does not match its leaf hash")
    entry: dict[str, Any] = json.loads(body)
    return entry


def _envelope(value: bytes) -> dict[str, Any] | None:
    try:
        raw = json.loads(value)
        if not isinstance(raw, dict):
            return None
        CloudEvent.model_validate(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, ValidationError):
        return None
    return raw
