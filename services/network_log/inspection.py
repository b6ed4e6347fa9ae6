"""The inspection export (DS-21, AR-28, SA-5): stream matching entries with their proofs.

Only sealed segments are exported (an entry is provable once its segment is sealed, within one
segment length); matches in the open segment are counted in the manifest as `unsealed_entries`.
Every export is itself recorded in the store: who, when, why and what was asked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, BinaryIO

from services.network_log.domain.bundle import FORMAT, line, manifest_message
from services.network_log.domain.checkpoint import Checkpoint, SegmentSeal, Signer
from services.network_log.domain.merkle import Tree
from services.network_log.domain.retention import segment_of
from services.network_log.handlers import open_doc
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
    index_of: dict[str, int]


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

    async def plan(self, request: ExportRequest) -> tuple[dict[str, Any], int, int]:
        """(query, sealed matches, unsealed matches)."""
        checkpoints = await self.store.checkpoints()
        if not checkpoints:
            raise NothingSealed("no segment is sealed yet: nothing can be exported with proofs")
        sealed_through = int(checkpoints[-1]["seal"]["segment"])
        query = self._query(request)
        sealed = {**query, "seg": {"$lte": sealed_through}}
        unsealed = {**query, "seg": {"$gt": sealed_through}}
        return sealed, await self.store.count(sealed), await self.store.count(unsealed)

    def _query(self, r: ExportRequest) -> dict[str, Any]:
        start_ms, end_ms = _ms(r.start), _ms(r.end)
        first, last = segment_of(start_ms, self.segment_ms), segment_of(end_ms - 1, self.segment_ms)
        query: dict[str, Any] = {
            "pos": {"$gte": f"{first:010d}/", "$lt": f"{last + 1:010d}/"},
            "received_at_ms": {"$gte": start_ms, "$lt": end_ms},
        }
        if r.user_id:
            query["user_id"] = r.user_id
        if r.content_id:
            query["content_id"] = r.content_id
        if r.ip:
            query["ip"] = self.cipher.blind(r.ip)
        return query

    async def export(
        self, request: ExportRequest, out: BinaryIO, progress: Callable[[int], None] = lambda n: None
    ) -> dict[str, Any]:
        """Write the bundle to `out`; return its manifest (also recorded in the store)."""
        query, _, unsealed = await self.plan(request)
        checkpoints = await self.store.checkpoints()
        seals = [SegmentSeal.model_validate(c["seal"]) for c in checkpoints]
        by_segment = {s.segment: i for i, s in enumerate(seals)}
        log_tree = Tree([s.leaf() for s in seals])
        head = Checkpoint.model_validate(checkpoints[-1]["checkpoint"])
        digest, lines, entries, segments = hashlib.sha256(), 0, 0, 0

        def emit(obj: dict[str, Any]) -> None:
            nonlocal lines
            data = line(obj)
            out.write(data)
            digest.update(data)
            lines += 1

        emit({"kind": "checkpoint", "checkpoint": head.model_dump(mode="json")})
        current: _Segment | None = None
        async for doc in self.store.entries(query):
            segment = int(doc["seg"])
            if current is None or current.seal.segment != segment:
                current = await self._segment(seals[by_segment[segment]])
                i = by_segment[segment]
                emit(
                    {
                        "kind": "segment",
                        "seal": current.seal.model_dump(mode="json"),
                        "index": i,
                        "proof": log_tree.inclusion(i),
                        "sealed_checkpoint": checkpoints[i]["checkpoint"],
                        "consistency": log_tree.consistency(i + 1) if i + 1 < log_tree.size else {},
                    }
                )
                segments += 1
            entry = open_doc(doc, self.cipher)
            index = current.index_of[doc["leaf"]]
            emit(
                {
                    "kind": "entry",
                    "index": index,
                    "entry": entry,
                    "proof": current.tree.inclusion(index),
                }
            )
            entries += 1
            if entries % 1000 == 0:
                progress(1000)
        progress(entries % 1000)
        manifest = self._manifest(request, head, lines, digest.hexdigest(), entries, segments, unsealed)
        out.write(line(manifest))
        r = request
        # The IP asked for is personal information: the store keeps only its blind index.
        query = {**manifest["query"], "ip": self.cipher.blind(r.ip) if r.ip else None}
        record = {**manifest, "query": query, "manifest_sha256": hashlib.sha256(line(manifest)).hexdigest()}
        await self.store.record_export(record)
        return manifest

    async def _segment(self, seal: SegmentSeal) -> _Segment:
        leaves = await self.store.segment_leaves(seal.segment)
        tree = Tree(leaves)
        if len(leaves) != seal.records or tree.root().hex() != seal.root:
            raise ValueError(f"segment {seal.segment} no longer matches its seal: the store was altered")
        return _Segment(seal, tree, {leaf.hex(): i for i, leaf in enumerate(leaves)})

    def _manifest(
        self,
        r: ExportRequest,
        head: Checkpoint,
        lines: int,
        sha256: str,
        entries: int,
        segments: int,
        unsealed: int,
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
            "unsealed_entries": unsealed,
            "lines": lines,
            "sha256": sha256,
            "key_id": self.signer.key_id,
        }
        manifest["signature"] = self.signer.sign(manifest_message(manifest))
        return manifest


def _ms(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("times need an offset (RFC 3339), e.g. 2026-06-01T00:00:00+08:00")
    return int(at.timestamp() * 1000)
