"""The rumour cases' projection (DS-11): the key and the handler of the `dsgov.rumour` routes.

A plain function over `Projections` (the routes bind it like a method), kept apart from
`projections.py` so the rumour pages stay one self-contained piece.
"""

from __future__ import annotations

from services.console.domain.rumour_view import RumourCaseView, fold_case
from services.console.projections import Projections
from shared.contracts.rumour import RumourCaseClosed, RumourRecorded
from shared.messaging.codec import Inbound
from shared.messaging.routing import Outcome


def rumour_case_aggregate_id(provider_id: str, notice_id: str) -> str:
    """The read-model document of a rumour case."""
    return f"rumour:{provider_id}/{notice_id}"


def rumour_case_key(event: Inbound[RumourRecorded | RumourCaseClosed]) -> str:
    """Cases by notice id (`recorded` has the rumour id as its subject, `case-closed` the notice id)."""
    return rumour_case_aggregate_id(event.event.providerid, event.data.notice_id)


async def on_rumour_case(
    projections: Projections,
    state: RumourCaseView | None,
    event: Inbound[RumourRecorded | RumourCaseClosed],
) -> Outcome[RumourCaseView]:
    """`dsgov.rumour.recorded|case-closed` (DS-11): a case opened, or closed."""
    return Outcome(fold_case(state, event=event.event, data=event.data, received_at=projections.clock()))
