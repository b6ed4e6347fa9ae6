"""The outbound translator: a numbered incident part → the signed, chained `dsgov.report.submitted`."""

from __future__ import annotations

from datetime import datetime

from services.regulator_reporting.chain import Signer, seal
from services.regulator_reporting.domain.reports import SOURCE, Head, Pending, unsigned_report
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.reporting import ReportSubmitted
from shared.messaging.ids import derived_id
from shared.messaging.replies import Cause, reply

__all__ = ["SOURCE", "build_report", "report_event_id"]


def report_event_id(report_id: str) -> str:
    """The CloudEvents id of a report: stable, so a re-send is byte-identical."""
    return derived_id(SOURCE, "event", report_id)


def build_report(pending: Pending, head: Head, signer: Signer, now: datetime) -> CloudEvent:
    """The signed, chained report event that follows `head`.

    It answers the event that last changed the incident, in that event's correlation.
    """
    sealed = seal(unsigned_report(pending, head, int(now.timestamp() * 1000)), signer)
    event = reply(
        Cause(pending.causation_id, pending.provider, pending.correlation_id),
        type=T.REPORT_SUBMITTED,
        source=SOURCE,
        subject=pending.report_id,
        data=ReportSubmitted.model_validate(sealed),
        time=now,
        id=report_event_id(pending.report_id),
    )
    if event.data != sealed:  # the hash covers exactly what travels; a difference is a bug, not input
        raise AssertionError(f"report {pending.report_id} changed when serialised")
    return event
