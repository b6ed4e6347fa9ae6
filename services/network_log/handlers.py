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
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from services.network_log.domain.canonical import canonical, parse_json
from services.network_log.domain.checkpoint import Checkpoint, SegmentSeal, Signer
from services.network_log.domain.merkle import Tree, leaf_hash
from services.network_log.domain.records import Rejected, entry_id, entry_json, source_ip
from services.network_log.domain.retention import first_kept_segment, segment_bounds, segment_of
from services.network_log.ports import FieldCipher, LogStore
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.messaging.codec import (
    DEFAULT_MAX_BYTES,
    DecodeFailure,
    Inbound,
    RawRecord,
    decode_parsed,
    json_failure,
)

ACTIVITY_TYPES = frozenset({T.ACTIVITY_RECORDED})


@dataclass(frozen=True)
class Admitted:
    """A record to keep: its parsed event, and whether the fast canonical encoder is exact for it."""

    record: RawRecord
    event: dict[str, Any]
    simple: bool


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
        max_bytes: int = DEFAULT_MAX_BYTES,
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
        self.max_bytes = max_bytes
        # Held from taking the time until the insert is durable, and by the sealer to confirm a
        # segment is closed: no entry can land in a segment after it was sealed.
        self._segment_lock = asyncio.Lock()
        self._checkpoints: list[dict[str, Any]] | None = None
        self._appended_through: dict[tuple[str, int], int] = {}

    # -- append ---------------------------------------------------------------------------------

    async def append(self, records: Sequence[RawRecord]) -> AppendReport:
        """Keep every readable record of the batch; durable when this returns (then commit offsets).

        Records are grouped into runs per topic partition. A record already stored (same topic,
        partition, offset and event id: a redelivery) is dropped; the store is asked only when a
        run reaches back to offsets this process has not seen appended (after a start or a retry).
        """
        report = AppendReport()
        groups: dict[tuple[str, int], list[Admitted]] = {}
        for record in records:
            kept = self._admit(record, report)
            if kept is not None:
                groups.setdefault((record.topic, record.partition), []).append(kept)
        async with self._segment_lock:
            now_ms = self._now_ms()
            runs, inserts = [], []
            for (topic, partition), items in groups.items():
                items.sort(key=lambda item: item.record.offset)
                fresh = await self._fresh(topic, partition, items)
                report.duplicates += len(items) - len(fresh)
                if fresh:
                    runs.append(self._run(topic, partition, fresh, now_ms))
                    # Each run is written while the next one is built: the store works in parallel.
                    inserts.append(asyncio.create_task(self.store.append_runs(runs[-1:])))
                    await asyncio.sleep(0)
            results = await asyncio.gather(*inserts, return_exceptions=True)
            failed = [r for r in results if isinstance(r, BaseException)]
            if failed:
                raise failed[0]  # the batch is redelivered; what was written is recognised then
            report.appended = sum(r for r in results if isinstance(r, int))
            for run in runs:
                self._appended_through[(run["topic"], run["partition"])] = run["last"]
        return report

    async def _fresh(self, topic: str, partition: int, items: list[Admitted]) -> list[Admitted]:
        through = self._appended_through.get((topic, partition))
        first, last = items[0].record.offset, items[-1].record.offset
        if through is not None and first > through:
            return items  # the hot path: strictly after what this process appended
        stored = await self.store.stored_pairs(topic, partition, first, last)
        return [a for a in items if (a.record.offset, str(a.event["id"])) not in stored]

    def _run(self, topic: str, partition: int, items: list[Admitted], now_ms: int) -> dict[str, Any]:
        entries = [
            (
                entry_json(
                    topic=topic,
                    partition=partition,
                    offset=a.record.offset,
                    received_at_ms=now_ms,
                    event=a.event,
                    salt=self.salt(),
                ),
                a.simple,
            )
            for a in items
        ]
        return run_doc(entries, self.cipher, self.segment_ms)

    def _admit(self, record: RawRecord, report: AppendReport) -> Admitted | None:
        parsed = _parse(record, self.max_bytes)
        if record.topic == topics.PLATFORM_ACTIVITY:
            return self._admit_activity(record, parsed, report)
        if isinstance(parsed, DecodeFailure) or not _served_envelope(parsed[0], self.providers):
            report.skipped += 1  # the owning service dead-letters it; nothing of it is kept here
            return None
        return Admitted(record, parsed[0], parsed[1])

    def _admit_activity(
        self, record: RawRecord, parsed: tuple[Any, bool] | DecodeFailure, report: AppendReport
    ) -> Admitted | None:
        if isinstance(parsed, DecodeFailure):
            report.rejected.append(Rejected(record, parsed.code, parsed.detail))
            return None
        decoded = decode_parsed(record, parsed[0], ACTIVITY_TYPES)
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
        return Admitted(record, parsed[0], parsed[1])

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


def run_doc(
    entries: Sequence[tuple[dict[str, Any], bool]], cipher: FieldCipher, segment_ms: int
) -> dict[str, Any]:
    """The stored form of a run (one partition's entries of one batch, one receive time).

    Parallel arrays, one slot per entry, of what dedupe and the export filters need: offset `o`,
    event id `ev`, user `u`, content `c`, `ip` (a keyed blind index of the source address, never
    the address), and the leaf hashes (`leaves`, hex, 32 bytes each). The entries themselves are
    `body`: their canonical JSON, one per line, compressed, then AES-256-GCM encrypted. Source IPs,
    device ids and user agents (PI-28/51) exist only inside `body`. Compact documents are what
    lets the embedded store take 10,000+ entries a second.
    """
    head, tail = entries[0][0], entries[-1][0]
    segment = segment_of(head["received_at_ms"], segment_ms)
    run_id = entry_id(head["topic"], head["partition"], head["offset"], head["event_id"])
    bodies = [canonical(entry, known_simple=known_simple) for entry, known_simple in entries]
    ips = [source_ip(entry) for entry, _ in entries]
    return {
        "_id": run_id,
        "pos": f"{segment:010d}/{run_id}",
        "seg": segment,
        "topic": head["topic"],
        "partition": head["partition"],
        "first": head["offset"],
        "last": tail["offset"],
        "received_at_ms": head["received_at_ms"],
        "n": len(entries),
        "o": [entry["offset"] for entry, _ in entries],
        "ev": [entry["event_id"] for entry, _ in entries],
        "u": [entry["user_id"] for entry, _ in entries],
        "c": [entry["content_id"] for entry, _ in entries],
        "ip": [cipher.blind(ip) if ip else None for ip in ips],
        "leaves": b"".join(leaf_hash(body) for body in bodies).hex(),
        # Canonical JSON never holds a raw newline (RFC 8785 escapes it): one entry per line.
        "body": base64.b64encode(cipher.seal(zlib.compress(b"\n".join(bodies), 1))).decode("ascii"),
    }


def run_leaves(run: dict[str, Any]) -> list[bytes]:
    """The leaf hashes of a stored run, in order."""
    raw = bytes.fromhex(run["leaves"])
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


def open_run(run: dict[str, Any], cipher: FieldCipher) -> list[bytes]:
    """The canonical JSON of every entry of a stored run; ValueError when one disagrees with its leaf."""
    bodies = zlib.decompress(cipher.open(base64.b64decode(run["body"]))).split(b"\n")
    leaves = run_leaves(run)
    if len(bodies) != len(leaves) or any(
        leaf_hash(b) != leaf for b, leaf in zip(bodies, leaves, strict=True)
    ):
        raise ValueError(f"run {run['_id']}: its entries do not match their leaf hashes")
    return bodies


def _parse(record: RawRecord, max_bytes: int) -> tuple[Any, bool] | DecodeFailure:
    if len(record.value) > max_bytes:
        return DecodeFailure("payload_too_large", f"{len(record.value)} bytes > limit {max_bytes}")
    try:
        return parse_json(record.value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return json_failure(exc)


def _served_envelope(raw: Any, providers: frozenset[str]) -> bool:
    if not isinstance(raw, dict) or raw.get("providerid") not in providers:
        return False
    try:
        CloudEvent.model_validate(raw)
    except ValidationError:
        return False
    return True
