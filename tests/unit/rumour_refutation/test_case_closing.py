# ruff: noqa: RUF001 - Chinese test text keeps its own punctuation
"""DS-11: a provider opens a rumour case itself, and cases close; a closed case sends nothing new.

Handlers with in-memory ports, and the fan-out worker over the in-memory store and bus with the
shared save-and-publish step (`Operations`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services.rumour_refutation.domain import case as cases
from services.rumour_refutation.domain import content as contents
from services.rumour_refutation.domain.case import CASE, CaseState, case_key
from services.rumour_refutation.domain.content import CONTENT, ContentState, content_key, list_key
from services.rumour_refutation.domain.index import Match, Thresholds
from services.rumour_refutation.domain.reach import REACH
from services.rumour_refutation.fanout import FanoutSettings, FanoutWorker
from services.rumour_refutation.handlers import RumourHandlers
from services.rumour_refutation.search import SearchState
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import GenerationCompleted
from shared.contracts.rumour import (
    RumourCaseClosed,
    RumourCaseCloseSubmitted,
    RumourCaseSubmitted,
    RumourClosed,
    TakedownOrdered,
)
from shared.messaging.codec import Inbound, RawRecord
from shared.messaging.engine import Unprocessable
from shared.messaging.memory import InMemoryPublisher
from shared.messaging.operations import Operations
from shared.messaging.routing import Outcome
from shared.storage.aggregates import Aggregate, AggregateState
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.rumour_refutation.corpus import RUMOURS
from tests.unit.rumour_refutation.test_handlers import Lists

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PROVIDER = "p1"
OPERATOR = {"username": "ops-li", "role": "operator"}


def _inbound(type_: str, data: Any, subject: str, event_id: str | None = None) -> Inbound[Any]:
    event = CloudEvent(
        specversion="1.0",
        id=event_id or f"evt-{type_}-{subject}",
        source="test",
        type=type_,
        time=NOW,
        subject=subject,
        providerid=PROVIDER,
        data=data.model_dump(mode="json"),
    )
    return Inbound(RawRecord("t", 0, 0, None, b""), event, data)


def _submitted(notice_id: str = "prov-1", role: str = "operator") -> Inbound[RumourCaseSubmitted]:
    data = RumourCaseSubmitted.model_validate(
        {
            "notice_id": notice_id,
            "claim_text": RUMOURS[0].claim,
            "refutation_text": "经核实为谣言。",
            "severity": "high",
            "reason": "our own fact-check found the claim false",
            "actor": {**OPERATOR, "role": role},
        }
    )
    return _inbound(T.RUMOUR_CASE_SUBMITTED, data, notice_id)


def _close(notice_id: str = "prov-1", role: str = "operator") -> Inbound[RumourCaseCloseSubmitted]:
    data = RumourCaseCloseSubmitted.model_validate(
        {"notice_id": notice_id, "reason": "rumour has died down", "actor": {**OPERATOR, "role": role}}
    )
    return _inbound(T.RUMOUR_CASE_CLOSE_SUBMITTED, data, notice_id)


def _output(content_id: str) -> Inbound[GenerationCompleted]:
    data = GenerationCompleted.model_validate(
        {
            "request_id": "r-" + content_id,
            "content_id": content_id,
            "output": {"text": "网传：" + RUMOURS[0].claim},
        }
    )
    return _inbound(T.GENERATION_COMPLETED, data, "r-" + content_id)


class Store(InMemoryAggregateStore):
    """The in-memory store with the service's queries (`CaseStore`), as the Mongo adapter answers them."""

    def _states(self, prefix: str, model: type[AggregateState]) -> list[tuple[Aggregate, Any]]:
        found = []
        for doc in self.docs.values():
            if str(doc["_id"]).startswith(prefix) and doc.get("state"):
                agg = Aggregate.from_doc(doc)
                found.append((agg, agg.typed(model)))
        return found

    async def cases_to_apply(self, limit: int) -> list[Aggregate]:
        return [a for a, s in self._states(CASE, CaseState) if s.apply_pending > 0][:limit]

    async def contents_with_fanout_due(self, limit: int) -> list[Aggregate]:
        return [a for a, s in self._states(CONTENT, ContentState) if s.pending_count > 0][:limit]

    async def indexed_content_ids(self, since_ms: int) -> list[str]:
        return []

    async def rumour_cases(self, since_ms: int) -> list[Aggregate]:
        return []

    async def closed_cases(self, since_ms: int) -> list[Aggregate]:
        return []

    def iter_indexed_contents(self) -> Any:
        raise NotImplementedError


def _handlers(store: Store, lists: Lists, search: SearchState) -> RumourHandlers:
    return RumourHandlers(
        search=search, lists=lists, store=store, thresholds=Thresholds(text=0.45), shards=4, clock=lambda: NOW
    )


# the domain


def _opening() -> cases.Opening:
    return cases.Opening("n-1", "evt-1", "corr-1", "2026-11-22T00:00:00+00:00", 10, 8)


def test_ds11_closing_a_case_drops_what_was_still_to_apply_and_counts_once() -> None:
    state = cases.open_takedown_order(_opening(), content_ids=["a", "b"], reason="order")
    closed = cases.close(state, by="regulator", reason="withdrawn", event_id="evt-2", now_ms=20)
    assert closed is not None
    assert (closed.status, closed.closed_ms, closed.to_apply, closed.apply_pending) == ("closed", 20, (), 0)
    assert closed.closure is not None
    assert closed.closure.unapplied == ("a", "b")  # kept for the record, no takedown for them any more
    assert cases.is_closed(closed)
    assert cases.close(closed, by="console", reason="again", event_id="evt-3", now_ms=30) is None


def test_ds11_fan_out_dropped_for_a_closed_case_is_recorded_as_skipped() -> None:
    ref = contents.CaseRef("n-1", "rumour", "r-1", "corr-1", "known_rumour")
    state = contents.record_distribution(
        None,
        "c1",
        distribution_id="d1",
        list_id="l1",
        recipients=2,
        channel="feed",
        explicit_label_kept=True,
        now_ms=1,
    )
    matched = contents.apply_match(state, "c1", ref, score=0.9, via="text", cause_id="e", now_ms=2)
    assert matched is not None
    dropped = contents.complete_fanout(matched[0], [("n-1", "d1", 0)], now_ms=3, skipped="case_closed")
    assert dropped is not None
    assert dropped.pending == ()
    assert [(f.notice_id, f.recipients, f.skipped) for f in dropped.fanned] == [("n-1", 0, "case_closed")]


# the handlers


async def test_ds11_a_provider_opens_a_rumour_case_itself_and_it_matches_like_a_determination() -> None:
    store, lists, search = Store(), Lists(), SearchState()
    handlers = _handlers(store, lists, search)
    outcome = await handlers.on_case_submitted(None, _submitted())
    case = outcome.state
    assert case is not None
    assert (case.origin, case.kind, case.status) == ("provider", "rumour", "open")
    assert case.opened_by is not None
    assert (case.opened_by.username, case.opened_by.role) == ("ops-li", "operator")
    assert case.opening_reason == "our own fact-check found the claim false"
    assert [e.type for e in outcome.events] == [T.RUMOUR_RECORDED]
    later = await handlers.on_completed(None, _output("c-after"))
    assert [e.type for e in later.events] == [T.CONTENT_TAKEDOWN_REQUIRED]


async def test_ds11_only_operators_open_or_close_cases_with_a_reason_and_an_existing_id_is_refused() -> None:
    handlers = _handlers(Store(), Lists(), SearchState())
    with pytest.raises(Unprocessable, match="role_not_permitted"):
        await handlers.on_case_submitted(None, _submitted(role="viewer"))
    with pytest.raises(ValidationError):
        RumourCaseCloseSubmitted.model_validate({"notice_id": "x", "reason": "", "actor": OPERATOR})
    with pytest.raises(ValidationError):
        RumourCaseSubmitted.model_validate(
            {"notice_id": "x", "claim_text": "c", "refutation_text": "r", "severity": "h", "actor": OPERATOR}
        )
    opened = (await handlers.on_case_submitted(None, _submitted())).state
    with pytest.raises(Unprocessable, match="case_exists"):
        await handlers.on_case_submitted(opened, _submitted())
    with pytest.raises(Unprocessable, match="role_not_permitted"):
        await handlers.on_close_submitted(opened, _close(role="viewer"))
    with pytest.raises(Unprocessable, match="case_unknown"):
        await handlers.on_close_submitted(None, _close())


async def test_ds11_a_console_close_stops_matching_and_says_how_many_were_told() -> None:
    store, lists, search = Store(), Lists(), SearchState()
    handlers = _handlers(store, lists, search)
    opened = (await handlers.on_case_submitted(None, _submitted())).state
    assert opened is not None
    store.docs[f"{REACH}{PROVIDER}/prov-1/0002"] = {
        "_id": f"{REACH}{PROVIDER}/prov-1/0002",
        "version": 1,
        "state": {"kind": "reach", "notice_id": "prov-1", "shard": 2, "notified": [], "count": 7},
    }
    outcome = await handlers.on_close_submitted(opened, _close())
    closed = outcome.state
    assert closed is not None
    assert closed.status == "closed"
    assert closed.closure is not None
    assert (closed.closure.by, closed.closure.reason) == ("console", "rumour has died down")
    [event] = outcome.events
    assert isinstance(event, CloudEvent)
    assert (event.type, event.subject) == (T.RUMOUR_CASE_CLOSED, "prov-1")
    data = RumourCaseClosed.model_validate(event.data)
    assert (data.closed_by, data.notices_sent, data.rumour_id) == ("console", 7, opened.rumour_id)
    assert data.actor is not None
    assert data.actor.username == "ops-li"
    # No new takedown from an output that arrives after the close.
    later = await handlers.on_completed(None, _output("c-after-close"))
    assert list(later.events) == []
    # Closing again changes nothing and says nothing.
    again = await handlers.on_close_submitted(closed, _close())
    assert (again.state, list(again.events)) == (None, [])


async def test_ds11_takedown_orders_are_closed_by_the_regulator_not_the_console() -> None:
    handlers = _handlers(Store(), Lists(), SearchState())
    order = TakedownOrdered(notice_id="ord-1", content_ids=["c1"], reason="违法")
    opened = (await handlers.on_takedown_ordered(None, _inbound(T.TAKEDOWN_ORDERED, order, "ord-1"))).state
    assert opened is not None
    with pytest.raises(Unprocessable, match="case_not_closable"):
        await handlers.on_close_submitted(opened, _close("ord-1"))
    closing = RumourClosed(notice_id="ord-1", reason="order withdrawn")
    closed = (await handlers.on_closed(opened, _inbound(T.RUMOUR_CLOSED, closing, "ord-1"))).state
    assert closed is not None
    assert closed.closure is not None
    assert (closed.status, closed.closure.by, closed.to_apply) == ("closed", "regulator", ())
    repeated = TakedownOrdered(notice_id="ord-1", content_ids=["c2"], reason="违法")
    extended = await handlers.on_takedown_ordered(
        closed, _inbound(T.TAKEDOWN_ORDERED, repeated, "ord-1", "evt-x")
    )
    assert extended.state is None  # a closed order is not extended
    with pytest.raises(Unprocessable, match="case_unknown"):
        await handlers.on_closed(None, _inbound(T.RUMOUR_CLOSED, closing, "ord-2"))


# the fan-out worker


async def _seed(store: Store, aggregate_id: str, model: type[Any], state: Any) -> None:
    ops = Operations(store, InMemoryPublisher())
    await ops.apply(aggregate_id, f"seed:{aggregate_id}", model, lambda _: Outcome(state))


async def _worker_with_matched_content(closed: bool) -> tuple[Store, InMemoryPublisher, FanoutWorker]:
    store, lists, publisher = Store(), Lists(), InMemoryPublisher()
    ref = contents.CaseRef("n-1", "rumour", "r-1", "corr-1", "known_rumour")
    case = cases.open_rumour(
        _opening(),
        rumour_id="r-1",
        claim_text="claim",
        refutation_text="false",
        severity="high",
        claim_media=[],
        claim_sketches="",
        claim_sizes=[],
        scheme="s",
        matches=[Match("c1", 0.9, "text")],
    )
    case = cases.applied(case, ["c1"]) or case
    if closed:
        case = cases.close(case, by="console", reason="done", event_id="evt-close", now_ms=15) or case
    await _seed(store, case_key(PROVIDER, "n-1"), CaseState, case)
    await lists.put(
        list_key(PROVIDER, "e-d1"),
        provider_id=PROVIDER,
        content_id="c1",
        distribution_id="d1",
        recipients=["u1", "u2"],
    )
    content = contents.record_distribution(
        None,
        "c1",
        distribution_id="d1",
        list_id=list_key(PROVIDER, "e-d1"),
        recipients=2,
        channel="feed",
        explicit_label_kept=True,
        now_ms=1,
    )
    matched = contents.apply_match(content, "c1", ref, score=0.9, via="text", cause_id="evt-1", now_ms=2)
    assert matched is not None
    await _seed(store, content_key(PROVIDER, "c1"), ContentState, matched[0])
    worker = FanoutWorker(
        store=store,
        cases_store=store,
        lists=lists,
        operations=Operations(store, publisher),
        search=SearchState(),
        thresholds=Thresholds(),
        clock=lambda: NOW,
        settings=FanoutSettings(catch_up_interval_s=0),
    )
    return store, publisher, worker


def _content(store: Store) -> ContentState:
    state = Aggregate.from_doc(store.docs[content_key(PROVIDER, "c1")]).typed(ContentState)
    assert state is not None
    return state


async def test_ds11_an_open_case_notifies_each_recipient_through_the_shared_save_step() -> None:
    store, publisher, worker = await _worker_with_matched_content(closed=False)
    assert await worker.round()
    assert sorted(m.key for m in publisher.of_type(T.REFUTATION_NOTICE)) == ["u1", "u2"]
    assert _content(store).pending == ()
    assert not await worker.round()  # nothing due any more; a repeat sends nothing
    assert len(publisher.of_type(T.REFUTATION_NOTICE)) == 2


async def test_ds11_a_closed_case_sends_no_new_notice_and_its_due_fan_out_is_dropped() -> None:
    store, publisher, worker = await _worker_with_matched_content(closed=True)
    assert await worker.round()
    assert publisher.of_type(T.REFUTATION_NOTICE) == []
    state = _content(store)
    assert state.pending == ()
    assert [(f.notice_id, f.skipped) for f in state.fanned] == [("n-1", "case_closed")]
    assert not any(str(i).startswith(REACH) for i in store.docs)  # no reach shard was written
