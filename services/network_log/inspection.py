"""The inspection export (DS-21, AR-28, SA-5): stream matching entries with their proofs.

Only sealed segments are exported (an entry is provable once its segment is sealed, within one
segment length); the manifest says up to when (`sealed_through_ms`). The requested time range is
scanned run by run; only matching entries are decrypted.
Every export is itself recorded in the store: who, when, why and what was asked.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from services.network_log.domain.bundle import FORMAT, line, manifest_message
from services.network_log.domain.checkpoint import Checkpoint, SegmentSeal, Signer
from services.network_log.domain.merkle import Tree
from services.network_log.domain.retention import segment_of
from services.network_log.handlers import open_run, run_leaves
from services.network_log.ports import FieldCipher, LogStore


class NothingSealed(Exception):
    """The log has no checkpoint yet: nothing can be exported with proofs."""


@dataclass(frozen=True)
class ExportRequest:
    """What the inspector asked for, and who asks why (reason required)."""

    start: datetime
    end: datetime
    actor: str
    reason: str
    user_id: str | None = None
    content_id: str | None = None
    ip: str | None = None

    def __post_init__(self) -> None:
        """Refuse an export without a reason or actor, or with an empty range."""
        if not self.reason.strip():
            raise ValueError("a reason is required for every export (DS-21)")
        if not self.actor.strip():
            raise ValueError("the actor (who exports) is required")
        if self.end <= self.start:
            raise ValueError("--to must be after --from")


@dataclass
class _Segment:
    seal: SegmentSeal
    tree: Tree
    leaves: list[bytes]


class Exporter:
    """Writes bundles from the store; `progress(n)` is called as entries are written."""

    def __init__(
        self,
        store: LogStore,
        cipher: FieldCipher,
        signer: Signer,
        segment_ms: int,
        clock: Callable[[], datetime],
    ) -> None:
        """Ports and the segment length the log was written with."""
        self.store = store
        self.cipher = cipher
        self.signer = signer
        self.segment_ms = segment_ms
        self.clock = clock

    async def plan(self, request: ExportRequest) -> tuple[int, int, int]:
        """(first segment, last sealed segment, entries to scan) for the request."""
        checkpoints = await self.store.checkpoints()
        if not checkpoints:
            raise NothingSealed("no segment is sealed yet: nothing can be exported with proofs")
        sealed_through = int(checkpoints[-1]["seal"]["segment"])
        first = segment_of(_ms(request.start), self.segment_ms)
        last = min(segment_of(_ms(request.end) - 1, self.segment_ms), sealed_through)
        return first, last, await self.store.entry_count(first, last) if last >= first else 0

    async def export(
        self, request: ExportRequest, out: BinaryIO, progress: Callable[[int], None] = lambda n: None
    ) -> dict[str, Any]:
        """Write the bundle to `out`; return its manifest (also recorded in the store).

        `progress(n)` is told how many more entries were scanned.
        """
        first, last, _ = await self.plan(request)
        checkpoints = await self.store.checkpoints()
        seals = [SegmentSeal.model_validate(c["seal"]) for c in checkpoints]
        by_segment = {s.segment: i for i, s in enumerate(seals)}
        log_tree = Tree([s.leaf() for s in seals])
        head = Checkpoint.model_validate(checkpoints[-1]["checkpoint"])
        match = self._matcher(request)
        digest, lines, entries, segments = hashlib.sha256(), 0, 0, 0

        def write(data: bytes) -> None:
            nonlocal lines
            out.write(data)
            digest.update(data)
            lines += 1

        def emit(obj: dict[str, Any]) -> None:
            write(line(obj))

        emit({"kind": "checkpoint", "checkpoint": head.model_dump(mode="json")})
        current: _Segment | None = None
        segment, position = -1, 0  # position: index in the segment of the run's first entry
        async for run in self.store.runs(first, last) if last >= first else _no_runs():
            if run["seg"] != segment:
                segment, position = int(run["seg"]), 0
            progress(int(run["n"]))
            hits = [i for i in range(int(run["n"])) if match(run, i)]
            bodies = open_run(run, self.cipher) if hits else []  # checks each body against its leaf
            leaves = run_leaves(run) if hits else []
            for i in hits:
                if current is None or current.seal.segment != segment:
                    current = await self._segment(seals[by_segment[segment]])
                    emit(self._segment_line(current, by_segment[segment], log_tree, checkpoints))
                    segments += 1
                index = position + i
                if current.leaves[index] != leaves[i]:
                    raise ValueError(f"segment {segment} changed while exporting: the store was altered")
                # The entry's canonical JSON goes into the line as it is (it is valid JSON).
                proof = json.dumps(current.tree.inclusion(index), separators=(",", ":")).encode()
                write(b'{"kind":"entry","index":%d,"entry":%s,"proof":%s}\n' % (index, bodies[i], proof))
                entries += 1
            position += int(run["n"])
        manifest = self._manifest(request, head, lines, digest.hexdigest(), entries, segments, seals[-1])
        out.write(line(manifest))
        # The IP asked for is personal information: the store keeps only its blind index.
        query = {**manifest["query"], "ip": self.cipher.blind(request.ip) if request.ip else None}
        record = {**manifest, "query": query, "manifest_sha256": hashlib.sha256(line(manifest)).hexdigest()}
        await self.store.record_export(record)
        return manifest

    def _matcher(self, r: ExportRequest) -> Callable[[dict[str, Any], int], bool]:
        start_ms, end_ms = _ms(r.start), _ms(r.end)
        ip = self.cipher.blind(r.ip) if r.ip else None

        def match(run: dict[str, Any], i: int) -> bool:
            return (
                start_ms <= run["received_at_ms"] < end_ms
                and (r.user_id is None or run["u"][i] == r.user_id)
                and (r.content_id is None or run["c"][i] == r.content_id)
                and (ip is None or run["ip"][i] == ip)
            )

        return match

    @staticmethod
    def _segment_line(
        current: _Segment, i: int, log_tree: Tree, checkpoints: list[dict[str, Any]]
    ) -> dict[str, Any]:
        return {
            "kind": "segment",
            "seal": current.seal.model_dump(mode="json"),
            "index": i,
            "proof": log_tree.inclusion(i),
            "sealed_checkpoint": checkpoints[i]["checkpoint"],
            "consistency": log_tree.consistency(i + 1) if i + 1 < log_tree.size else {},
        }

    async def _segment(self, seal: SegmentSeal) -> _Segment:
        leaves = await self.store.segment_leaves(seal.segment)
        tree = Tree(leaves)
        if len(leaves) != seal.records or tree.root().hex() != seal.root:
            raise ValueError(f"segment {seal.segment} no longer matches its seal: the store was altered")
        return _Segment(seal, tree, leaves)

    def _manifest(
        self,
        r: ExportRequest,
        head: Checkpoint,
        lines: int,
        sha256: str,
        entries: int,
        segments: int,
        last_sealed: SegmentSeal,
    ) -> dict[str, Any]:
        manifest: dict[str, Any] = {
            "kind": "manifest",
            "format": FORMAT,
            "exported_at": self.clock().isoformat(),
            "actor": r.actor,
            "reason": r.reason,
            "query": {
                "from": r.start.isoformat(),
                "to": r.end.isoformat(),
                "user_id": r.user_id,
                "content_id": r.content_id,
                "ip": r.ip,
            },
            "checkpoint": head.model_dump(mode="json"),
            "entries": entries,
            "segments": segments,
            "sealed_through_ms": last_sealed.end_ms,  # later entries await their segment's seal
            "lines": lines,
            "sha256": sha256,
            "key_id": self.signer.key_id,
        }
        manifest["signature"] = self.signer.sign(manifest_message(manifest))
        return manifest


async def _no_runs() -> AsyncIterator[dict[str, Any]]:
    return
    yield  # an empty async generator


def _ms(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("times need an offset (RFC 3339), e.g. 2026-06-01T00:00:00+08:00")
    return int(at.timestamp() * 1000)
