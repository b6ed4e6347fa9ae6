# ruff: noqa: RUF001 - Chinese and full-width test text keeps its own punctuation
"""The handlers with in-memory ports: retroaction in both directions within one batch (DS-11)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from services.rumour_refutation.domain.index import Thresholds
from services.rumour_refutation.handlers import RumourHandlers
from services.rumour_refutation.search import SearchState
from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import GenerationCompleted
from shared.contracts.rumour import RumourDetermined
from shared.messaging.codec import Inbound, RawRecord
from shared.storage.aggregates import Aggregate
from tests.unit.rumour_refutation.corpus import RUMOURS

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


class Lists:
    def __init__(self) -> None:
        self.lists: dict[str, list[str]] = {}

    async def put(
        self,
        list_id: str,
        *,
        provider_id: str,
        content_id: str,
        distribution_id: str,
        recipients: Sequence[str],
    ) -> None:
        self.lists.setdefault(list_id, list(recipients))

    async def get_many(self, list_ids: Sequence[str]) -> dict[str, list[str]]:
        return {i: self.lists[i] for i in list_ids if i in self.lists}


class Store:
    async def load_many(self, ids: Iterable[str]) -> dict[str, Aggregate]:
        await asyncio.sleep(0)  # a real store yields to other handlers here
        return {i: Aggregate(id=i) for i in ids}


def _inbound(type_: str, data: Any, subject: str) -> Inbound[Any]:
    event = CloudEvent(
        specversion="1.0",
        id=f"evt-{subject}",
        source="test",
        type=type_,
        time=NOW,
        subject=subject,
        providerid="p1",
        data=data.model_dump(mode="json"),
    )
    return Inbound(RawRecord("t", 0, 0, None, b""), event, data)


def _handlers(woken: list[int]) -> RumourHandlers:
    return RumourHandlers(
        search=SearchState(),
        lists=Lists(),
        store=Store(),
        thresholds=Thresholds(text=0.45),
        shards=4,
        clock=lambda: NOW,
        work_due=lambda: woken.append(1),
    )


def _pair() -> tuple[Inbound[Any], Inbound[Any]]:
    rumour = RUMOURS[0]
    output = GenerationCompleted.model_validate(
        {"request_id": "r1", "content_id": "c1", "output": {"text": "网传：" + rumour.claim}}
    )
    notice = RumourDetermined(
        notice_id="n1", claim_text=rumour.claim, refutation_text="false", severity="high"
    )
    return _inbound("dsgov.generation.completed", output, "r1"), _inbound(
        "dsgov.rumour.determined", notice, "n1"
    )


async def test_an_output_and_a_determination_in_one_batch_find_each_other_in_either_order() -> None:
    for output_first in (True, False):
        woken: list[int] = []
        handlers = _handlers(woken)
        completed, determined = _pair()
        steps = [handlers.on_completed(None, completed), handlers.on_determined(None, determined)]
        if not output_first:
            steps.reverse()
        results = await asyncio.gather(*steps)
        content, case = results if output_first else results[::-1]
        found_by_case = case.state.to_apply == ("c1",)
        found_by_output = [e.type for e in content.events] == ["dsgov.content.takedown-required"]
        assert found_by_case or found_by_output, output_first
        assert case.events[0].type == "dsgov.rumour.recorded"


async def test_a_second_output_for_the_same_content_is_not_indexed_again() -> None:
    handlers = _handlers([])
    completed, _ = _pair()
    first = await handlers.on_completed(None, completed)
    again = await handlers.on_completed(first.state, completed)
    assert again.state is None
    assert again.events == ()
