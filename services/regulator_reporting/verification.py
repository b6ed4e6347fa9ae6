"""Verifying a copy of the report stream: signatures, the hash chain and the gap-free sequence.

Pure: it reads records (the bytes of each `dsgov.report.submitted` event, in stream order) and
names the first one that fails and why. Per provider the stream must start at sequence 1, go up
by one, chain each `prev_hash` to the previous report's `hash`, and carry a valid signature from
a known key (DS-10.3, DS-11, GA-14: the regulator must be able to trust what it was told).

An identical re-sent copy of a report (same sequence, same hash) is not an error: the provider
re-sends reports that were not acknowledged in time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from services.regulator_reporting.chain import GENESIS_HASH, CanonicalizationError, KeyRing, report_hash
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.reporting import ReportSubmitted

REPORT_TYPE = T.REPORT_SUBMITTED

FailureKind = Literal[
    "malformed",  # not a report event at all
    "tampered",  # the content does not hash to its `hash`
    "unknown_key",  # signed with a key id the verifier does not trust
    "bad_signature",  # the signature does not verify with the named key
    "conflict",  # two different reports with one sequence number
    "broken_chain",  # `prev_hash` is not the previous report's hash
    "gap",  # a sequence number is missing
    "reordered",  # a report arrives before one with a lower sequence number
]


@dataclass(frozen=True)
class StreamRecord:
    """One record of the copy: where it was found (for people) and its bytes."""

    where: str
    value: bytes


@dataclass(frozen=True)
class Checked:
    """A record whose content and signature are fine; what the sequence checks need of it."""

    position: int
    where: str
    provider: str
    report_id: str
    sequence: int
    hash: str
    prev_hash: str
    key_id: str


@dataclass(frozen=True)
class Failure:
    """The first record that fails, and why."""

    position: int
    where: str
    kind: FailureKind
    detail: str
    provider: str | None = None
    report_id: str | None = None
    sequence: int | None = None

    def describe(self) -> str:
        """One line for people."""
        what = f"report {self.sequence}" if self.sequence is not None else "record"
        who = f" ({self.report_id})" if self.report_id else ""
        return f"FAILED at {self.where}: {what}{who}: {self.kind}: {self.detail}"


@dataclass
class ProviderSummary:
    """What was verified for one provider."""

    reports: int = 0
    resends: int = 0
    head_hash: str = GENESIS_HASH
    keys: set[str] = field(default_factory=set)


@dataclass
class VerifyResult:
    """The outcome: the first failure (None when all is well) and per-provider summaries."""

    records: int
    failure: Failure | None
    providers: dict[str, ProviderSummary]

    @property
    def ok(self) -> bool:
        """True when every record verified."""
        return self.failure is None


def check_record(position: int, record: StreamRecord, keys: KeyRing) -> Checked | Failure:
    """Check one record on its own: shape, hash over its content, key and signature."""

    def fail(kind: FailureKind, detail: str, **known: Any) -> Failure:
        return Failure(position, record.where, kind, detail, **known)

    try:
        raw = json.loads(record.value)
        event = CloudEvent.model_validate(raw)
    except (ValueError, ValidationError) as exc:
        return fail("malformed", f"not a CloudEvent: {type(exc).__name__}")
    if event.type != REPORT_TYPE:
        return fail("malformed", f"unexpected event type {event.type!r}")
    try:
        report = ReportSubmitted.model_validate(event.data)
    except ValidationError as exc:
        return fail("malformed", f"not a report: {exc.error_count()} schema error(s)")
    known: dict[str, Any] = {
        "provider": event.providerid,
        "report_id": report.report_id,
        "sequence": report.sequence,
    }
    if event.subject != report.report_id:
        return fail("malformed", "the event subject is not the report id", **known)
    try:
        digest = report_hash(event.data)
    except CanonicalizationError as exc:
        return fail("tampered", f"content cannot be canonicalised: {exc}", **known)
    if digest != report.hash:
        return fail(
            "tampered", f"content hashes to {digest[:16]}…, the report says {report.hash[:16]}…", **known
        )
    key = keys.find(report.key_id, event.providerid)
    if key is None:
        return fail("unknown_key", f"key id {report.key_id!r} is not among the trusted keys", **known)
    if not key.verifies(report.hash, report.signature):
        return fail("bad_signature", f"the signature does not verify with key {report.key_id!r}", **known)
    return Checked(
        position,
        record.where,
        event.providerid,
        report.report_id,
        report.sequence,
        report.hash,
        report.prev_hash,
        report.key_id,
    )


def _check_order(reports: list[Checked], summary: ProviderSummary) -> Failure | None:
    """The sequence and chain checks over one provider's valid reports, in stream order."""
    positions: dict[int, list[int]] = defaultdict(list)
    for r in reports:
        positions[r.sequence].append(r.position)
    expected, last_hash = 1, GENESIS_HASH
    seen: dict[int, str] = {}

    def fail(r: Checked, kind: FailureKind, detail: str) -> Failure:
        return Failure(r.position, r.where, kind, detail, r.provider, r.report_id, r.sequence)

    for r in reports:
        if r.sequence in seen:
            if seen[r.sequence] == r.hash:
                summary.resends += 1  # an identical re-sent copy
                continue
            return fail(r, "conflict", f"a different report with sequence {r.sequence} came earlier")
        if r.sequence > expected:
            if any(p > r.position for p in positions.get(expected, [])):
                return fail(r, "reordered", f"arrives before report {expected}, which comes later")
            missing = str(expected) if r.sequence == expected + 1 else f"{expected}..{r.sequence - 1}"
            return fail(r, "gap", f"sequence {missing} missing before this report")
        if r.prev_hash != last_hash:
            return fail(
                r, "broken_chain", f"prev_hash {r.prev_hash[:16]}… is not the hash of report {expected - 1}"
            )
        seen[r.sequence] = last_hash = r.hash
        expected += 1
        summary.reports += 1
        summary.head_hash = r.hash
        summary.keys.add(r.key_id)
    return None


def verify_stream(records: Iterable[StreamRecord], keys: KeyRing) -> VerifyResult:
    """Verify a whole copy of the stream; the failure named is the earliest in stream order."""
    failures: list[Failure] = []
    by_provider: dict[str, list[Checked]] = defaultdict(list)
    count = 0
    for position, record in enumerate(records):
        count += 1
        checked = check_record(position, record, keys)
        if isinstance(checked, Failure):
            failures.append(checked)
            continue
        by_provider[checked.provider].append(checked)
    providers: dict[str, ProviderSummary] = {}
    for provider, reports in by_provider.items():
        providers[provider] = ProviderSummary()
        if (failure := _check_order(reports, providers[provider])) is not None:
            failures.append(failure)
    first = min(failures, key=lambda f: f.position) if failures else None
    return VerifyResult(count, first, providers)
