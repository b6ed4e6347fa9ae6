"""Turning an incident's draft into the next report of the chain (pure: time and head passed in).

A report is numbered by the sequencer: it gets the provider's next sequence number, the previous
report's hash as `prev_hash`, its own `hash` over its canonical JSON and an Ed25519 signature
(`chain.py`). Its id is derived from the provider and the part's incident key, so a report that
had to be rebuilt (it never is once stored) would carry the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.regulator_reporting.domain import cyber
from services.regulator_reporting.domain.cyber import Stage
from services.regulator_reporting.domain.incidents import Draft, Incident, PartRef, draft_of, iso, part_key
from shared.contracts.reporting import ReportSubmitted
from shared.messaging.ids import derived_id

SOURCE = "dsgov/regulator-reporting"


@dataclass(frozen=True)
class Head:
    """The last report of a provider's chain: sequence 0 and 64 zeros before the first."""

    sequence: int
    hash: str


@dataclass(frozen=True)
class Pending:
    """What the sequencer needs of an incident with something to report."""

    aggregate_id: str
    provider: str
    incident_key: str  # of this part: unique per provider
    report_id: str
    part: int  # 1 for the first report of the incident
    previous_report_id: str | None
    draft: Draft
    draft_digest: str
    correlation_id: str
    causation_id: str
    stage: Stage | None = None  # cybersecurity incidents: what this part is
    due_ms: int | None = None  # ... and the deadline it answers


def report_id_for(provider: str, incident_key: str) -> str:
    """The stable id of the report for one part of an incident."""
    return derived_id(SOURCE, "report", provider, incident_key)


def pending_of(aggregate_id: str, state: Incident) -> Pending:
    """The next report an incident owes."""
    key = part_key(state)
    parts = state.parts
    c = state.acc.cyber
    stage = cyber.stage_of(c, len(parts) + 1) if c else None
    return Pending(
        aggregate_id=aggregate_id,
        provider=state.provider,
        incident_key=key,
        report_id=report_id_for(state.provider, key),
        part=len(parts) + 1,
        previous_report_id=parts[-1].report_id if parts else None,
        draft=draft_of(state),
        draft_digest=state.draft_digest,
        correlation_id=state.correlation_id,
        causation_id=state.cause_event_id,
        stage=stage,
        due_ms=cyber.due_of(c, stage) if c and stage else None,
    )


def unsigned_report(pending: Pending, head: Head, now_ms: int) -> dict[str, Any]:
    """The report's payload in its wire (JSON) form, without `hash`, `signature`, `key_id`.

    A report that answers a deadline says whether it is late, as numbered at `now_ms`.
    """
    facts = {**pending.draft["facts"], "incident_key": pending.incident_key, "part": pending.part}
    if pending.previous_report_id:
        facts["previous_report_id"] = pending.previous_report_id
    if pending.stage:
        facts["stage"] = pending.stage
    model = ReportSubmitted(
        report_id=pending.report_id,
        sequence=head.sequence + 1,
        category=pending.draft["category"],
        articles=pending.draft["articles"],
        occurred_at=pending.draft["occurred_at"],
        detected_at=pending.draft["detected_at"],
        facts=facts,
        actions_taken=pending.draft["actions_taken"],
        severity=pending.draft.get("severity"),
        due_at=iso(pending.due_ms) if pending.due_ms is not None else None,
        late=now_ms > pending.due_ms if pending.due_ms is not None else None,
        prev_hash=head.hash,
        hash="",
        signature="",
        key_id="",
    )
    data = model.model_dump(mode="json", exclude_none=True)
    for name in ("hash", "signature", "key_id"):
        del data[name]
    return data


def part_ref(pending: Pending, sequence: int) -> PartRef:
    """What the incident records once its report is numbered."""
    return PartRef(pending.report_id, sequence, pending.incident_key, pending.draft_digest)
