"""The fan-out worker: takedowns for contents found at determination, and one notice per recipient.

Each round, in this order:

1. cases with matches not yet recorded on their contents: record each match on its content (the
   content requires its takedown, and marks every distribution so far as due for fan-out);
2. contents with fan-out due: read the recipients of each due (notice, distribution), group them
   by case and reach shard, and let each shard notify the recipients it has not notified yet
   (one notice per recipient per case; a recipient reached through two contents in one round
   gets one notice naming both); then mark the items done on the contents;
3. now and then, catch up with what other processes indexed or opened (scale-out).

Every step is an idempotent operation with an operation id, applied through the one shared
save-and-publish step (`shared.messaging.operations.Operations.apply`: state, outbox and the
operation id in one document write, conflicts re-decided on fresh state). The operations of a
step touch distinct aggregates and run concurrently. A crash anywhere is repaired by running the
round again, and the reach shards make sure no recipient is notified twice whatever is repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from services.rumour_refutation.domain import case as cases
from services.rumour_refutation.domain import content as contents
from services.rumour_refutation.domain import reach
from services.rumour_refutation.domain.case import CASE, CaseState, case_key
from services.rumour_refutation.domain.content import CONTENT, CaseRef, ContentState, content_key
from services.rumour_refutation.domain.index import Claim, Thresholds
from services.rumour_refutation.domain.reach import ReachShard, reach_key
from services.rumour_refutation.outbound import notice_event, takedown_event
from services.rumour_refutation.ports import AggregateReader, Applier, CaseStore, RecipientLists
from services.rumour_refutation.search import (
    SearchState,
    add_content,
    output_windows,
    provider_of,
    rumour_from,
)
from shared.contracts.envelope import CloudEvent
from shared.messaging.routing import Outcome, Worker
from shared.observability import get_logger
from shared.storage.aggregates import Aggregate, AggregateState
from shared.storage.outbox import OutboxMessage

log = get_logger(__name__)

CASE_CLOSED = "case_closed"  # reason code (DS-11), domain/reasons.py
QUICK_S = 0.05  # how often the worker looks for a while after being woken
QUICK_FOR_S = 2.0
PARALLEL = 32  # operations of one step in flight at once (distinct aggregates)

S = TypeVar("S", bound=AggregateState)


@dataclass(frozen=True)
class Op(Generic[S]):
    """One idempotent operation on one aggregate."""

    operation_id: str
    state: type[S]
    decide: Callable[[S | None], Outcome[S]]


Ops = dict[str, Op[Any]]  # aggregate id -> its operation


@dataclass(frozen=True)
class FanoutSettings:
    """How much one round does, and how often the worker looks."""

    interval_s: float = 1.0  # idle polling; handlers wake the worker when they leave work due
    cases_per_round: int = 20
    contents_per_apply: int = 500
    contents_per_round: int = 500
    notices_per_round: int = 20_000
    catch_up_interval_s: float = 5.0  # 0: never (a single process sees everything itself)
    catch_up_margin_ms: int = 10_000  # covers clock skew and commit delays between processes


@dataclass(frozen=True)
class _Due:
    """One due (notice, distribution) fan-out item of one content."""

    aggregate_id: str
    provider_id: str
    content_id: str
    notice_id: str
    distribution_id: str
    list_ids: tuple[str, ...]
    recipients: int


def _digest(parts: Sequence[str]) -> str:
    return hashlib.blake2b("\x1f".join(sorted(parts)).encode("utf-8"), digest_size=10).hexdigest()


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class FanoutWorker:
    """Runs rounds until stopped; `wake()` starts the next round early."""

    def __init__(
        self,
        *,
        store: AggregateReader,
        cases_store: CaseStore,
        lists: RecipientLists,
        operations: Applier,
        search: SearchState,
        thresholds: Thresholds,
        clock: Callable[[], datetime],
        settings: FanoutSettings = FanoutSettings(),
    ) -> None:
        """Wire the worker."""
        self.store = store
        self.cases = cases_store
        self.lists = lists
        self.operations = operations
        self.search = search
        self.thresholds = thresholds
        self.clock = clock
        self.settings = settings
        self._wake = asyncio.Event()
        self._caught_up_ms = 0
        self._next_catch_up = 0.0

    def wake(self) -> None:
        """Work is due: start a round soon."""
        self._wake.set()

    def worker(self) -> Worker:
        """The worker the host runs beside the consumer."""
        return Worker("rumour-fanout", self.run)

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until `stop`; errors are logged and the round is tried again.

        A handler wakes the worker before the engine has stored what it decided, so after a wake
        the worker looks again every `QUICK_S` for a while, then goes back to `interval_s`.
        """
        loop = asyncio.get_running_loop()
        self._caught_up_ms = _ms(self.clock())  # the start-up rebuild covered everything before
        quick_until = 0.0
        while not stop.is_set():
            self._wake.clear()
            try:
                busy = await self.round()
            except Exception:
                log.exception("fanout.round_failed")
                busy = False
            if busy:
                continue
            timeout = QUICK_S if loop.time() < quick_until else self.settings.interval_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_first(stop, self._wake), timeout=timeout)
            if self._wake.is_set():
                quick_until = loop.time() + QUICK_FOR_S

    async def round(self) -> bool:
        """One round; True when it did something (then another follows at once)."""
        applied = await self.apply_matches()
        notified = await self.fan_out()
        caught_up = await self._maybe_catch_up()
        return applied or notified or caught_up

    async def _apply(self, ops: Mapping[str, Op[Any]]) -> int:
        """Apply every operation through the shared step; return how many had not been applied before."""
        gate = asyncio.Semaphore(PARALLEL)

        async def one(aggregate_id: str, op: Op[Any]) -> bool:
            async with gate:
                return await self.operations.apply(aggregate_id, op.operation_id, op.state, op.decide)

        return sum(await asyncio.gather(*(one(agg_id, op) for agg_id, op in ops.items())))

    # 1. matches found at determination -> the contents

    async def apply_matches(self) -> bool:
        """Record the matches of cases on their contents (takedowns come out there)."""
        found = await self.cases.cases_to_apply(self.settings.cases_per_round)
        for agg in found:
            state = agg.typed(CaseState)
            if state is not None:
                await self._apply_case(agg.id, state)
        return bool(found)

    async def _apply_case(self, aggregate_id: str, state: CaseState) -> None:
        provider = provider_of(aggregate_id, CASE, state.notice_id)
        ref, scores = cases.case_ref(state), cases.initial_matches(state)
        ids = list(state.to_apply[: self.settings.contents_per_apply])
        now = self.clock()
        ops: Ops = {}
        for cid in ids:
            score, via = scores.get(cid, (1.0, "ordered"))
            decide = self._match_decision(provider, cid, ref, score, via, state.event_id, now)
            ops[content_key(provider, cid)] = Op(f"match:{ref.notice_id}", ContentState, decide)
        matched = await self._apply(ops)
        done: Op[CaseState] = Op(
            f"applied:{_digest(ids)}", CaseState, lambda s: Outcome(cases.applied(s, ids))
        )
        await self._apply({aggregate_id: done})
        log.info("fanout.matches_applied", notice_id=ref.notice_id, contents=len(ids), matched=matched)

    def _match_decision(
        self, provider: str, cid: str, ref: CaseRef, score: float, via: str, cause_id: str, now: datetime
    ) -> Callable[[ContentState | None], Outcome[ContentState]]:
        def decide(state: ContentState | None) -> Outcome[ContentState]:
            result = contents.apply_match(
                state, cid, ref, score=score, via=via, cause_id=cause_id, now_ms=_ms(now)
            )
            if result is None:
                return Outcome(None)
            new, takedown = result
            return Outcome(new, [takedown_event(provider, takedown, now)])

        return decide

    # 2. due (notice, distribution) items -> one notice per recipient

    async def fan_out(self) -> bool:
        """Notify the recipients of due items, within the round's budget; True when any was due."""
        found = await self.cases.contents_with_fanout_due(self.settings.contents_per_round)
        items = self._budget([item for agg in found for item in _due_items(agg)])
        if not items:
            return False
        case_ids = {(i.provider_id, i.notice_id) for i in items}
        loaded = await self.store.load_many(case_key(p, n) for p, n in case_ids)
        recipients = await self.lists.get_many([lid for i in items for lid in i.list_ids])
        now = self.clock()
        ops: Ops = {}
        done: list[_Due] = []
        closed: list[_Due] = []
        for (provider, notice_id), group in _by_case(items).items():
            case_state = loaded[case_key(provider, notice_id)].typed(CaseState)
            if case_state is None:
                log.warning("fanout.case_missing", notice_id=notice_id)  # not stored yet: next round
                continue
            if cases.is_closed(case_state):
                closed += group  # DS-11: a closed case sends no new notice; the items are dropped
                continue
            ops |= self._notify_ops(provider, case_state, group, recipients, now)
            done += group
        if not done and not closed:
            return False
        shards = await self._apply(ops)
        await self._apply(self._done_ops(done, recipients, now) | self._dropped_ops(closed, now))
        log.info("fanout.notified", items=len(done), shards=shards, dropped_for_closed_cases=len(closed))
        return True

    def _budget(self, items: list[_Due]) -> list[_Due]:
        chosen: list[_Due] = []
        total = 0
        for item in items:
            if chosen and total + item.recipients > self.settings.notices_per_round:
                break
            chosen.append(item)
            total += item.recipients
        return chosen

    def _notify_ops(
        self,
        provider: str,
        case_state: CaseState,
        group: list[_Due],
        recipients: dict[str, list[str]],
        now: datetime,
    ) -> Ops:
        ref, shards = cases.case_ref(case_state), case_state.shards
        reached: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
        for item in group:
            for list_id in item.list_ids:
                for recipient in recipients.get(list_id, []):
                    reached[reach.shard_of(recipient, shards)][recipient].append(item.content_id)
        operation = f"notify:{_digest([f'{i.content_id}|{i.distribution_id}' for i in group])}"
        text, cause = case_state.refutation_text, case_state.event_id
        return {
            reach_key(provider, ref.notice_id, shard): Op(
                operation,
                ReachShard,
                self._notify_decision(provider, ref, text, cause, shard, dict(by_recipient), now),
            )
            for shard, by_recipient in reached.items()
        }

    @staticmethod
    def _notify_decision(
        provider: str,
        ref: CaseRef,
        text: str,
        cause_id: str,
        shard: int,
        reached: dict[str, list[str]],
        now: datetime,
    ) -> Callable[[ReachShard | None], Outcome[ReachShard]]:
        def decide(state: ReachShard | None) -> Outcome[ReachShard]:
            result = reach.notify(state, ref.notice_id, shard, reached, _ms(now))
            if result is None:
                return Outcome(None)
            new, notices = result
            return Outcome(new, [notice_event(provider, ref, text, cause_id, n, now) for n in notices])

        return decide

    @staticmethod
    def _done_ops(done: list[_Due], recipients: dict[str, list[str]], now: datetime) -> Ops:
        per_content: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for item in done:
            count = sum(len(recipients.get(lid, [])) for lid in item.list_ids)
            per_content[item.aggregate_id].append((item.notice_id, item.distribution_id, count))
        return {
            agg_id: Op(
                f"fanned:{_digest([f'{n}|{d}' for n, d, _ in finished])}",
                ContentState,
                _complete(finished, _ms(now)),
            )
            for agg_id, finished in per_content.items()
        }

    @staticmethod
    def _dropped_ops(dropped: list[_Due], now: datetime) -> Ops:
        per_content: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for item in dropped:
            per_content[item.aggregate_id].append((item.notice_id, item.distribution_id, 0))
        return {
            agg_id: Op(
                f"dropped:{_digest([f'{n}|{d}' for n, d, _ in items])}",
                ContentState,
                _complete(items, _ms(now), skipped=CASE_CLOSED),
            )
            for agg_id, items in per_content.items()
        }

    # 3. catch up with other processes (scale-out); a no-op when this process is the only one

    async def _maybe_catch_up(self) -> bool:
        interval = self.settings.catch_up_interval_s
        loop_now = asyncio.get_running_loop().time()
        if interval <= 0 or loop_now < self._next_catch_up:
            return False
        self._next_catch_up = loop_now + interval
        return await self.catch_up()

    async def catch_up(self) -> bool:
        """Index outputs and open rumours this process has not seen, and match them both ways."""
        started = _ms(self.clock())
        since = self._caught_up_ms - self.settings.catch_up_margin_ms
        ops: Ops = {}
        new_ids = [i for i in await self.cases.indexed_content_ids(since) if not self._known_content(i)]
        for agg in (await self.store.load_many(new_ids)).values():
            if add_content(self.search, agg):
                ops |= self._matches_for_content(agg)
        for agg in await self.cases.closed_cases(since):  # closed by another process: match no more
            if (case := agg.typed(CaseState)) is not None:
                self.search.rumours_for(provider_of(agg.id, CASE, case.notice_id)).remove(case.notice_id)
        for agg in await self.cases.rumour_cases(since):
            loaded = rumour_from(agg)
            if loaded and self.search.rumours_for(loaded.provider_id).add(loaded.ref, loaded.claim):
                ops |= self._matches_for_rumour(loaded.provider_id, loaded.ref, loaded.claim, agg)
        self._caught_up_ms = started
        if ops:
            await self._apply(ops)
            log.info("fanout.caught_up", matches=len(ops))
        return bool(ops)

    def _known_content(self, aggregate_id: str) -> bool:
        provider, _, content_id = aggregate_id[len(CONTENT) :].rpartition("/")
        return content_id in self.search.index_for(provider)

    def _matches_for_content(self, agg: Aggregate) -> Ops:
        state = agg.typed(ContentState)
        if state is None or state.output is None:
            return {}
        provider = provider_of(agg.id, CONTENT, state.content_id)
        windows, media = output_windows(state)
        now = self.clock()
        found = self.search.rumours_for(provider).matching(windows, media, self.thresholds)
        cause = state.output.event_id
        # One operation per content: several rumours found at once are applied in turn.
        decisions = [
            self._match_decision(provider, state.content_id, ref, score, via, cause, now)
            for ref, score, via in found
        ]
        if not decisions:
            return {}
        ids = [ref.notice_id for ref, _, _ in found]
        return {agg.id: Op(f"catch-up:{_digest(ids)}", ContentState, _chain(decisions))}

    def _matches_for_rumour(self, provider: str, ref: CaseRef, claim: Claim, agg: Aggregate) -> Ops:
        state = agg.typed(CaseState)
        if state is None:
            return {}
        now = self.clock()
        hits = self.search.index_for(provider).search(claim, self.thresholds)
        return {
            content_key(provider, m.content_id): Op(
                f"match:{ref.notice_id}",
                ContentState,
                self._match_decision(provider, m.content_id, ref, m.score, m.via, state.event_id, now),
            )
            for m in hits
        }


def _complete(
    finished: list[tuple[str, str, int]], now_ms: int, skipped: str | None = None
) -> Callable[[ContentState | None], Outcome[ContentState]]:
    def decide(state: ContentState | None) -> Outcome[ContentState]:
        return Outcome(contents.complete_fanout(state, finished, now_ms, skipped))

    return decide


def _chain(
    decisions: list[Callable[[ContentState | None], Outcome[ContentState]]],
) -> Callable[[ContentState | None], Outcome[ContentState]]:
    """Several decisions on one aggregate, each on the state the previous one left."""

    def decide(state: ContentState | None) -> Outcome[ContentState]:
        changed: ContentState | None = None
        events: list[CloudEvent | OutboxMessage] = []
        for step in decisions:
            outcome = step(changed if changed is not None else state)
            changed = outcome.state if outcome.state is not None else changed
            events += outcome.events
        return Outcome(changed, events)

    return decide


def _due_items(agg: Aggregate) -> list[_Due]:
    state = agg.typed(ContentState)
    if state is None:
        return []
    provider = provider_of(agg.id, CONTENT, state.content_id)
    items = []
    for notice_id, distribution_id in contents.pending_items(state):
        dist = contents.distribution(state, distribution_id)
        lists = dist.lists if dist else ()
        count = dist.recipients if dist else 0
        items.append(_Due(agg.id, provider, state.content_id, notice_id, distribution_id, lists, count))
    return items


def _by_case(items: list[_Due]) -> dict[tuple[str, str], list[_Due]]:
    grouped: dict[tuple[str, str], list[_Due]] = defaultdict(list)
    for item in items:
        grouped[(item.provider_id, item.notice_id)].append(item)
    return grouped


async def _first(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
