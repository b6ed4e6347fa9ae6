"""The inspection bundle (DS-21, AR-28): JSON Lines, checked with only the public keys.

Line 1 is the signed checkpoint every proof is against. Then, per segment, a `segment` line (its
seal, its inclusion in the checkpoint's log tree, the checkpoint signed when it was sealed and the
consistency proof from that one to line 1's) followed by its `entry` lines (each entry with its
inclusion proof in the segment tree). The last line is the `manifest`: who exported what, when and
why, the SHA-256 of every line before it, signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from pydantic import ValidationError

from services.network_log.domain.checkpoint import Checkpoint, SegmentSeal, checkpoint_valid, signature_valid
from services.network_log.domain.merkle import consistent, included
from services.network_log.domain.records import LogEntry

FORMAT = "dsgov-network-log-export/1"


def manifest_message(manifest: dict[str, Any]) -> bytes:
    """The signed bytes of a manifest: RFC 8785 JSON without its signature."""
    return rfc8785.dumps({k: v for k, v in manifest.items() if k != "signature"})


def line(obj: dict[str, Any]) -> bytes:
    """One bundle line (compact JSON and a newline)."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


class BundleInvalid(Exception):
    """The bundle fails a check; the message names the line and the reason."""


@dataclass
class Verified:
    """What a valid bundle holds."""

    entries: int = 0
    segments: int = 0
    manifest: dict[str, Any] = field(default_factory=dict)


@dataclass
class _State:
    keys: dict[str, str]
    checkpoint: Checkpoint | None = None
    seal: SegmentSeal | None = None
    digest: Any = field(default_factory=hashlib.sha256)
    result: Verified = field(default_factory=Verified)
    lines: int = 0


def verify_bundle(lines: Iterable[bytes], public_keys: dict[str, str]) -> Verified:
    """Check every signature and proof of a bundle, streaming; BundleInvalid on the first failure."""
    state = _State(public_keys)
    manifest: dict[str, Any] | None = None
    for number, raw in enumerate(lines, start=1):
        if manifest is not None:
            raise BundleInvalid(f"line {number}: content after the manifest")
        try:
            obj = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise BundleInvalid(f"line {number}: not JSON") from None
        kind = obj.get("kind") if isinstance(obj, dict) else None
        try:
            if kind == "manifest":
                manifest = obj
                _check_manifest(state, obj, number)
                continue
            _check_line(state, kind, obj, number)
        except (ValidationError, KeyError, TypeError, ValueError) as exc:
            raise BundleInvalid(f"line {number}: malformed {kind} ({type(exc).__name__})") from None
        state.digest.update(raw if raw.endswith(b"\n") else raw + b"\n")
        state.lines = number
    if manifest is None:
        raise BundleInvalid("no manifest: the bundle is incomplete")
    state.result.manifest = manifest
    return state.result


def _check_line(state: _State, kind: Any, obj: dict[str, Any], number: int) -> None:
    if kind == "checkpoint":
        if state.checkpoint is not None or number != 1:
            raise BundleInvalid(f"line {number}: the checkpoint must be the first line, once")
        cp = Checkpoint.model_validate(obj["checkpoint"])
        if not checkpoint_valid(state.keys, cp):
            raise BundleInvalid(f"line {number}: checkpoint signature invalid or key {cp.key_id!r} unknown")
        state.checkpoint = cp
    elif kind == "segment":
        _check_segment(state, obj, number)
    elif kind == "entry":
        _check_entry(state, obj, number)
    else:
        raise BundleInvalid(f"line {number}: unknown line kind {kind!r}")


def _check_segment(state: _State, obj: dict[str, Any], number: int) -> None:
    cp = state.checkpoint
    if cp is None:
        raise BundleInvalid(f"line {number}: segment before the checkpoint")
    seal = SegmentSeal.model_validate(obj["seal"])
    index = int(obj["index"])
    if not included(seal.leaf(), bytes.fromhex(cp.root), obj["proof"], index=index, size=cp.size):
        raise BundleInvalid(f"line {number}: segment {seal.segment} is not in the checkpoint")
    sealed = Checkpoint.model_validate(obj["sealed_checkpoint"])
    if sealed.size != index + 1 or not checkpoint_valid(state.keys, sealed):
        raise BundleInvalid(f"line {number}: the checkpoint that sealed segment {seal.segment} is invalid")
    proof = obj["consistency"]
    if not consistent(
        bytes.fromhex(sealed.root), bytes.fromhex(cp.root), proof, prior_size=sealed.size, size=cp.size
    ):
        raise BundleInvalid(f"line {number}: the log was rewritten after segment {seal.segment} was sealed")
    state.seal = seal
    state.result.segments += 1


def _check_entry(state: _State, obj: dict[str, Any], number: int) -> None:
    seal = state.seal
    if seal is None:
        raise BundleInvalid(f"line {number}: entry before any segment")
    entry = LogEntry.model_validate(obj["entry"])
    if not seal.start_ms <= entry.received_at_ms < seal.end_ms:
        raise BundleInvalid(f"line {number}: entry time outside its segment")
    index = int(obj["index"])
    if not included(entry.leaf(), bytes.fromhex(seal.root), obj["proof"], index=index, size=seal.records):
        raise BundleInvalid(
            f"line {number}: entry {entry.event_id} is not in segment {seal.segment} (altered?)"
        )
    state.result.entries += 1


def _check_manifest(state: _State, manifest: dict[str, Any], number: int) -> None:
    if manifest.get("format") != FORMAT:
        raise BundleInvalid(f"line {number}: unknown bundle format {manifest.get('format')!r}")
    key_id, signature = str(manifest.get("key_id")), str(manifest.get("signature"))
    if not signature_valid(state.keys, key_id, manifest_message(manifest), signature):
        raise BundleInvalid(f"line {number}: manifest signature invalid or key {key_id!r} unknown")
    if manifest.get("sha256") != state.digest.hexdigest() or manifest.get("lines") != state.lines:
        raise BundleInvalid(f"line {number}: lines were added, removed or changed after signing")
    counts = (manifest.get("entries"), manifest.get("segments"))
    if counts != (state.result.entries, state.result.segments):
        raise BundleInvalid(f"line {number}: the manifest counts do not match the bundle")
    if state.checkpoint is None or manifest.get("checkpoint") != state.checkpoint.model_dump(mode="json"):
        raise BundleInvalid(f"line {number}: the manifest names another checkpoint")
