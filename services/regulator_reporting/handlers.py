"""Stage 1 of reporting: reportable events fold into incidents; acknowledgements update the ledger.

Thin: each event is turned into a domain observation (texts become SHA-256, user ids stay as the
platform's pseudonyms), folded into its incident by `domain.incidents.fold`, and the engine stores
the incident with the event id in one document write. Nothing is published here: the sequencer
numbers due incidents and the publisher sends the reports (see `sequencer.py`, `publisher.py`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.regulator_reporting.domain import complaints, cyber
from services.regulator_reporting.domain import incidents as inc
from services.regulator_reporting.domain.acks import AckEntry, AckLog, bounded_errors, with_answer
from services.regulator_reporting.domain.articles import is_reportable, safe_article, safe_code
from services.regulator_reporting.ports import Ack, ReportLedger
from shared.contracts import types as T
from shared.contracts.base import Reason
from shared.contracts.complaints import ComplaintOverdue, ComplaintReceived, ComplaintResolved
from shared.contracts.generation import ReviewDecision, UserSanctioned
from shared.contracts.incidents import IncidentClosed, IncidentDetected, IncidentUpdated
from shared.contracts.reporting import ReportAcknowledged
from shared.contracts.rumour import ContentTakedownRequired, RefutationNotice, RumourRecorded, TakedownOrdered
from shared.messaging.codec import Inbound
from shared.messaging.engine import Unprocessable
from shared.messaging.routing import Outcome
from shared.observability import get_logger

log = get_logger(__name__)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _reasons(reasons: list[Reason]) -> tuple[tuple[str, str], ...]:
    # Codes and articles only: `detail` is free text and stays out of reports (rule 6).
    return tuple((safe_code(r.code), safe_article(r.article) or safe_code(r.article)) for r in reasons)


def _blocked(event: Inbound[ReviewDecision]) -> inc.Blocked | None:
    d = event.data
    if not is_reportable([r.code for r in d.reasons]):
        return None  # e.g. identity_unverified: a refusal, not illegal content (DS-10.3 is about the latter)
    return inc.Blocked(
        stage="output" if event.type == T.OUTPUT_BLOCKED else "input",
        request_id=d.request_id,
        user_id=d.user_id,
        decision_id=d.decision_id,
        reasons=_reasons(d.reasons),
        at_ms=_ms(d.decided_at or event.event.time),
        service_type=d.service_type,
        content_id=d.content_id,
        library_version=d.library_version,
        rule_set_version=d.rule_set_version,
    )


def _sanction(event: Inbound[UserSanctioned]) -> inc.Sanction:
    d = event.data
    return inc.Sanction(
        user_id=d.user_id,
        level=d.level,
        strikes=d.strikes,
        reasons=_reasons(d.reasons),
        at_ms=_ms(event.event.time),
        until_ms=_ms(d.until) if d.until else None,
        decision_id=d.decision_id,
        category=d.category,
    )


def _rumour(event: Inbound[RumourRecorded]) -> inc.RumourCase:
    d = event.data
    return inc.RumourCase(
        notice_id=d.notice_id,
        rumour_id=d.rumour_id,
        at_ms=_ms(event.event.time),
        claim_text_sha256=inc.sha256_text(d.claim_text) if d.claim_text else None,
        refutation_text_sha256=inc.sha256_text(d.refutation_text) if d.refutation_text else None,
        claim_media_sha256=tuple(sorted({m.sha256.lower() for m in d.claim_media})),
        fingerprint_count=len(d.fingerprints),
        matched_content_ids=tuple(d.matched_content_ids),
        recipients_reached=d.recipients_reached,
    )


def recipient_ref(user_id: str) -> str:
    """A short digest of a recipient: enough to count distinct recipients, not to name them."""
    return hashlib.sha256(f"recipient\x1f{user_id}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _refutation(event: Inbound[RefutationNotice]) -> inc.Refutation:
    d = event.data
    return inc.Refutation(
        notice_id=d.notice_id,
        recipient_ref=recipient_ref(d.recipient_user_id),
        at_ms=_ms(event.event.time),
        rumour_id=d.rumour_id,
        refutation_text_sha256=inc.sha256_text(d.refutation_text) if d.refutation_text else None,
        content_ids=tuple(d.content_ids),
    )


def _takedown_required(event: Inbound[ContentTakedownRequired]) -> inc.TakedownRequired:
    d = event.data
    return inc.TakedownRequired(d.notice_id, d.content_id, _ms(event.event.time), d.rumour_id)


def _takedown_ordered(event: Inbound[TakedownOrdered]) -> inc.TakedownOrder:
    d = event.data
    return inc.TakedownOrder(
        d.notice_id, tuple(d.content_ids), inc.sha256_text(d.reason), _ms(event.event.time)
    )


def _text_sha256(text: str | None) -> str | None:
    # Free text never goes into a report (rule 6): a description travels as its SHA-256.
    return inc.sha256_text(text) if text else None


def _systems(names: list[str]) -> tuple[str, ...]:
    return tuple(safe_code(n) for n in names)


def _incident_detected(event: Inbound[IncidentDetected]) -> cyber.CyberDetected:
    d = event.data
    return cyber.CyberDetected(
        incident_id=d.incident_id,
        kind=safe_code(d.kind),
        cii=d.cii,
        occurred_ms=_ms(d.occurred_at),
        detected_ms=_ms(d.detected_at),
        at_ms=_ms(event.event.time),
        affected_people=d.affected_people,
        direct_loss_cny=d.direct_loss_cny,
        systems=_systems(d.systems),
        description_sha256=_text_sha256(d.description),
    )


def _incident_updated(event: Inbound[IncidentUpdated]) -> cyber.CyberUpdated:
    d = event.data
    return cyber.CyberUpdated(
        incident_id=d.incident_id,
        at_ms=_ms(event.event.time),
        kind=safe_code(d.kind) if d.kind else None,
        affected_people=d.affected_people,
        direct_loss_cny=d.direct_loss_cny,
        systems=_systems(d.systems),
        description_sha256=_text_sha256(d.description),
    )


def _incident_closed(event: Inbound[IncidentClosed]) -> cyber.CyberClosed:
    d = event.data
    return cyber.CyberClosed(
        incident_id=d.incident_id,
        closed_ms=_ms(d.closed_at or event.event.time),
        at_ms=_ms(event.event.time),
        description_sha256=_text_sha256(d.description),
    )


def _complaint_received(event: Inbound[ComplaintReceived]) -> complaints.Received:
    d = event.data
    return complaints.Received(d.complaint_id, d.kind, _ms(d.received_at), _ms(d.due_at))


def _complaint_resolved(event: Inbound[ComplaintResolved]) -> complaints.Resolved:
    d = event.data
    return complaints.Resolved(d.complaint_id, d.kind, _ms(d.resolved_at), _ms(d.due_at), d.in_time)


def _complaint_overdue(event: Inbound[ComplaintOverdue]) -> complaints.Overdue:
    d = event.data
    return complaints.Overdue(d.complaint_id, d.kind, _ms(d.due_at), _ms(d.detected_at))


_OBSERVERS: dict[str, Callable[[Inbound[Any]], inc.Observation | None]] = {
    T.GENERATION_REJECTED: _blocked,
    T.OUTPUT_BLOCKED: _blocked,
    T.USER_SANCTIONED: _sanction,
    T.RUMOUR_RECORDED: _rumour,
    T.CONTENT_TAKEDOWN_REQUIRED: _takedown_required,
    T.REFUTATION_NOTICE: _refutation,
    T.TAKEDOWN_ORDERED: _takedown_ordered,
    T.INCIDENT_DETECTED: _incident_detected,
    T.INCIDENT_UPDATED: _incident_updated,
    T.INCIDENT_CLOSED: _incident_closed,
    T.COMPLAINT_RECEIVED: _complaint_received,
    T.COMPLAINT_RESOLVED: _complaint_resolved,
    T.COMPLAINT_OVERDUE: _complaint_overdue,
}
INCIDENT_TYPES = tuple(_OBSERVERS)


def observe(event: Inbound[Any]) -> inc.Observation | None:
    """The domain observation an event carries, or None when it is not reportable."""
    return _OBSERVERS[event.type](event)


def by_incident(event: Inbound[Any]) -> str:
    """The aggregate key of a reportable event: its incident; unreportable events share one sink."""
    obs = observe(event)
    return f"{event.event.providerid}/{inc.incident_key(obs) if obs else 'not-reportable'}"


def by_report(event: Inbound[ReportAcknowledged]) -> str:
    """The aggregate key of an acknowledgement: the report it answers."""
    return f"{event.event.providerid}/ack/{event.data.report_id}"


class ReportingHandlers:
    """The use cases, with the ledger and the clock injected."""

    def __init__(self, ledger: ReportLedger, policy: inc.Policy, clock: Callable[[], datetime]) -> None:
        """`policy` sets the windows of rumour and takedown cases."""
        self.ledger = ledger
        self.policy = policy
        self.clock = clock

    async def on_incident_event(
        self, state: inc.Incident | None, event: Inbound[Any]
    ) -> Outcome[inc.Incident]:
        """Fold a reportable event into its incident (a not reportable one changes nothing)."""
        obs = observe(event)
        if obs is None:
            return Outcome(state=None)
        ref = inc.EventRef(event.id, event.event.correlation)
        now_ms = _ms(self.clock())
        try:
            return Outcome(inc.fold(state, event.event.providerid, obs, ref, now_ms, self.policy))
        except inc.InvalidIncident as exc:
            raise Unprocessable(str(exc)) from None

    def on_timer(self, state: inc.Incident | None, operation_id: str, now: datetime) -> Outcome[inc.Incident]:
        """A cybersecurity incident's timer fired: the summary reminder or the 30-day summary is due."""
        if state is None:
            return Outcome(state=None)
        ref = inc.EventRef(operation_id, state.correlation_id)
        return Outcome(inc.fire_timer(state, _ms(now), ref, self.policy))

    def on_statistics(
        self,
        state: inc.Incident | None,
        provider: str,
        counted: complaints.Statistics,
        operation_id: str,
        now: datetime,
    ) -> Outcome[inc.Incident]:
        """A period's complaint handling statistics were counted (DS-12, GA-15): report what changed."""
        ref = inc.EventRef(operation_id, state.correlation_id if state else operation_id)
        return Outcome(inc.with_statistics(state, provider, counted, ref, _ms(now), self.policy))

    async def on_acknowledged(
        self, state: AckLog | None, event: Inbound[ReportAcknowledged]
    ) -> Outcome[AckLog]:
        """Keep the regulator's answer; the latest answer (by event time) is the effective one."""
        ack, provider = event.data, event.event.providerid
        report = await self.ledger.find(provider, ack.sequence)
        if report is None or report.report_id != ack.report_id:
            raise Unprocessable(
                f"provider {provider} has no report {ack.report_id} with sequence {ack.sequence}"
            )
        entry = AckEntry(
            event_id=event.id,
            status=ack.status,
            errors=bounded_errors(ack.errors),
            at_ms=_ms(event.event.time),
        )
        answers = with_answer(state, ack.report_id, ack.sequence, entry)
        latest = answers.effective()
        await self.ledger.record_ack(
            provider, ack.sequence, Ack(latest.status, latest.errors, latest.at_ms, latest.event_id)
        )
        if ack.status == "rejected":
            # Never silently dropped: kept in the ledger (`reports --status rejected`) and logged.
            log.warning(
                "report.rejected_by_regulator",
                report_id=ack.report_id,
                sequence=ack.sequence,
                errors=list(entry.errors),
            )
        else:
            log.info("report.accepted_by_regulator", report_id=ack.report_id, sequence=ack.sequence)
        return Outcome(answers)
