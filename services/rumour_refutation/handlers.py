"""Handling outputs, distributions, rumour determinations and takedown orders (DS-11, DS-21).

Each handler decides for one aggregate and returns its new state and the events it causes; the
fan-out that reaches other aggregates (contents found at determination, recipients to notify)
is left as due work in that state and done by the fan-out worker (`fanout.py`).

The in-memory search structures are updated synchronously, with no `await` between "add mine"
and "look for the others": when an output and a determination are handled in the same batch,
whichever handler runs second sees the first, so neither misses the other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.rumour_refutation.domain import case as cases
from services.rumour_refutation.domain import content as contents
from services.rumour_refutation.domain.case import ACTING_ROLES, ActorRecord, CaseState, ClosedBy
from services.rumour_refutation.domain.content import (
    CaseRef,
    ContentState,
    OutputRecord,
    StoredMedia,
    content_key,
    list_key,
)
from services.rumour_refutation.domain.fingerprint import (
    SCHEME,
    Sketch,
    claim_sketches,
    encode_sketches,
    output_sketches,
)
from services.rumour_refutation.domain.index import Claim, MediaHash, Thresholds
from services.rumour_refutation.domain.reach import ReachShard, reach_key
from services.rumour_refutation.outbound import closed_event, recorded_event, rumour_id, takedown_event
from services.rumour_refutation.ports import AggregateReader, RecipientLists
from services.rumour_refutation.search import SearchState
from shared.contracts.base import Actor
from shared.contracts.complaints import ComplaintResolved
from shared.contracts.distribution import ContentDistributed
from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import GenerationCompleted
from shared.contracts.rumour import (
    ClaimMedia,
    RumourCaseCloseSubmitted,
    RumourCaseSubmitted,
    RumourClosed,
    RumourDetermined,
    TakedownOrdered,
)
from shared.messaging.codec import Inbound
from shared.messaging.engine import Unprocessable
from shared.messaging.routing import Outcome
from shared.observability import get_logger

log = get_logger(__name__)


def complaint_notice_id(complaint_id: str) -> str:
    """The case id of the takedowns an upheld complaint requires (apart from regulator notice ids)."""
    return f"complaint:{complaint_id}"


def complaint_case_key(event: Inbound[ComplaintResolved]) -> str:
    """A resolution folds into the case of its complaint."""
    return f"{cases.CASE}{event.event.providerid}/{complaint_notice_id(event.data.complaint_id)}"


def completed_key(event: Inbound[GenerationCompleted]) -> str:
    """`dsgov.generation.completed` is keyed by request id on the wire but folds into its content."""
    return content_key(event.event.providerid, event.data.content_id)


def fingerprint_texts(pieces: list[Sketch]) -> list[str]:
    """The claim fingerprints as published: `<scheme>:<shingles>:<hex of the 128 one-byte values>`."""
    return [f"{SCHEME}:{p.size}:{p.values.tobytes().hex()}" for p in pieces]


class RumourHandlers:
    """The service's use cases, with their ports injected."""

    def __init__(
        self,
        *,
        search: SearchState,
        lists: RecipientLists,
        store: AggregateReader,
        thresholds: Thresholds,
        shards: int,
        clock: Callable[[], datetime],
        work_due: Callable[[], None] = lambda: None,
    ) -> None:
        """`work_due` wakes the fan-out worker; `shards` is fixed per case when it opens."""
        self.search = search
        self.lists = lists
        self.store = store
        self.thresholds = thresholds
        self.shards = shards
        self.clock = clock
        self.work_due = work_due

    async def on_completed(
        self, state: ContentState | None, event: Inbound[GenerationCompleted]
    ) -> Outcome[ContentState]:
        """Index an output; if it carries an open rumour, require its takedown (retroaction, DS-11)."""
        data, provider = event.data, event.event.providerid
        if contents.is_indexed(state):
            log.info("output.already_indexed", content_id=data.content_id)
            return Outcome(None)
        windows = output_sketches(data.output.text)
        media = [MediaHash(m.sha256.lower(), m.phash) for m in data.output.media]
        blob, sizes = encode_sketches(windows)
        now = self.clock()
        record = OutputRecord(
            request_id=data.request_id,
            event_id=event.id,
            sketches=blob,
            sizes=tuple(sizes),
            media=tuple(StoredMedia(sha256=m.sha256, phash=m.phash) for m in media),
            text_chars=len(data.output.text or ""),
        )
        new = contents.index_output(state, data.content_id, record, _ms(now))
        assert new is not None
        self.search.index_for(provider).add(data.content_id, windows, media)
        found = self.search.rumours_for(provider).matching(windows, media, self.thresholds)
        events: list[CloudEvent] = []
        for ref, score, via in found:
            applied = contents.apply_match(
                new, data.content_id, ref, score=score, via=via, cause_id=event.id, now_ms=_ms(now)
            )
            if applied is not None:
                new, takedown = applied
                events.append(takedown_event(provider, takedown, now))
                log.info("rumour.matched_new_output", notice_id=ref.notice_id, score=score, via=via)
        if new.pending_count:
            self.work_due()
        return Outcome(new, events)

    async def on_distributed(
        self, state: ContentState | None, event: Inbound[ContentDistributed]
    ) -> Outcome[ContentState]:
        """Log a distribution and its recipients; notices are due if the content carries a rumour."""
        data, provider = event.data, event.event.providerid
        recipients = list(dict.fromkeys(r for r in data.recipients if r))
        list_id = list_key(provider, event.id)
        # Written first and idempotently: the content only ever refers to a list that exists.
        await self.lists.put(
            list_id,
            provider_id=provider,
            content_id=data.content_id,
            distribution_id=data.distribution_id,
            recipients=recipients,
        )
        new = contents.record_distribution(
            state,
            data.content_id,
            distribution_id=data.distribution_id,
            list_id=list_id,
            recipients=len(recipients),
            channel=data.channel,
            explicit_label_kept=data.explicit_label_kept,
            now_ms=_ms(self.clock()),
        )
        if new.pending_count > (state.pending_count if state else 0):
            self.work_due()
        return Outcome(new)

    async def on_determined(
        self, state: CaseState | None, event: Inbound[RumourDetermined]
    ) -> Outcome[CaseState]:
        """Open a rumour case: find every indexed output carrying the claim, record it (DS-11)."""
        if state is not None:
            if state.kind != "rumour":
                raise Unprocessable(f"notice {event.data.notice_id!r} already names a takedown order")
            log.info("rumour.already_open", notice_id=event.data.notice_id)
            return Outcome(None)
        return await self._open_rumour(event, event.data)

    async def on_case_submitted(
        self, state: CaseState | None, event: Inbound[RumourCaseSubmitted]
    ) -> Outcome[CaseState]:
        """The provider opens a rumour case itself from the console (DS-11); as a determination."""
        data = event.data
        actor = _acting(data.actor, "open a rumour case")
        if state is not None:
            raise Unprocessable(f"case_exists (DS-11): case {data.notice_id!r} exists already")
        return await self._open_rumour(event, data, opened_by=actor, opening_reason=data.reason)

    async def _open_rumour(
        self,
        event: Inbound[Any],
        data: RumourDetermined | RumourCaseSubmitted,
        opened_by: ActorRecord | None = None,
        opening_reason: str | None = None,
    ) -> Outcome[CaseState]:
        provider = event.event.providerid
        pieces = claim_sketches(data.claim_text)
        claim = Claim(tuple(pieces), tuple(MediaHash(m.sha256.lower(), m.phash) for m in data.claim_media))
        if not claim.pieces and not claim.media:
            log.warning("rumour.claim_unmatchable", notice_id=data.notice_id)
        ref = CaseRef(
            notice_id=data.notice_id,
            kind="rumour",
            rumour_id=rumour_id(provider, data.notice_id),
            correlation_id=event.event.correlation,
            reason=cases.REASON_BY_KIND["rumour"],
        )
        matches = self.search.index_for(provider).search(claim, self.thresholds)
        self.search.rumours_for(provider).add(ref, claim)
        reached = await self._recipients(provider, [m.content_id for m in matches])
        now = self.clock()
        blob, sizes = encode_sketches(pieces)
        new = cases.open_rumour(
            self._opening(event, data.notice_id, now),
            rumour_id=ref.rumour_id or "",
            claim_text=data.claim_text,
            refutation_text=data.refutation_text,
            severity=data.severity,
            claim_media=[StoredMedia(sha256=m.sha256, phash=m.phash) for m in data.claim_media],
            claim_sketches=blob,
            claim_sizes=sizes,
            scheme=SCHEME,
            matches=matches,
            opened_by=opened_by,
            opening_reason=opening_reason,
        )
        recorded = recorded_event(
            event,
            case=ref,
            claim_text=data.claim_text,
            refutation_text=data.refutation_text,
            claim_media=[ClaimMedia(sha256=m.sha256, phash=m.phash) for m in data.claim_media],
            fingerprints=fingerprint_texts(pieces),
            matched_content_ids=[m.content_id for m in matches],
            recipients_reached=len(reached),
            now=now,
        )
        log.info(
            "rumour.case_opened",
            notice_id=data.notice_id,
            origin=new.origin,
            matches=len(matches),
            recipients=len(reached),
        )
        if matches:
            self.work_due()
        return Outcome(new, [recorded])

    async def on_close_submitted(
        self, state: CaseState | None, event: Inbound[RumourCaseCloseSubmitted]
    ) -> Outcome[CaseState]:
        """An operator closes a rumour case from the console (DS-11); takedown orders stay the regulator's."""
        data = event.data
        actor = _acting(data.actor, "close a case")
        if state is None:
            raise Unprocessable(f"case_unknown (DS-11): no case {data.notice_id!r}")
        if state.kind != "rumour":
            raise Unprocessable(
                f"case_not_closable (DS-21): {data.notice_id!r} is a regulator takedown order; "
                "only the regulator closes it"
            )
        return await self._close(state, event, by="console", reason=data.reason, actor=actor)

    async def on_closed(self, state: CaseState | None, event: Inbound[RumourClosed]) -> Outcome[CaseState]:
        """The regulator closes a rumour case or a takedown order (DS-11, DS-21)."""
        if state is None:
            raise Unprocessable(f"case_unknown (DS-11): no case {event.data.notice_id!r}")
        return await self._close(state, event, by="regulator", reason=event.data.reason)

    async def _close(
        self,
        state: CaseState,
        event: Inbound[Any],
        *,
        by: ClosedBy,
        reason: str,
        actor: ActorRecord | None = None,
    ) -> Outcome[CaseState]:
        provider, now = event.event.providerid, self.clock()
        closed = cases.close(state, by=by, reason=reason, event_id=event.id, now_ms=_ms(now), actor=actor)
        if closed is None:
            log.info("case.already_closed", notice_id=state.notice_id)
            return Outcome(None)
        # At once in this process; other processes drop it at their next catch-up.
        self.search.rumours_for(provider).remove(state.notice_id)
        sent = await self._notices_sent(provider, state)
        log.info("case.closed", notice_id=state.notice_id, by=by, notices_sent=sent)
        return Outcome(closed, [closed_event(event, closed, sent, now)])

    async def _notices_sent(self, provider: str, state: CaseState) -> int:
        """Recipients notified for the case so far (the reach shards' counts)."""
        ids = [reach_key(provider, state.notice_id, shard) for shard in range(state.shards)]
        loaded = await self.store.load_many(ids)
        return sum(shard.count for agg in loaded.values() if (shard := agg.typed(ReachShard)) is not None)

    async def on_takedown_ordered(
        self, state: CaseState | None, event: Inbound[TakedownOrdered]
    ) -> Outcome[CaseState]:
        """Open (or extend) a takedown order: the listed contents and their recipients (DS-21, DS-11)."""
        data = event.data
        now = self.clock()
        if state is not None:
            if state.kind != "takedown":
                raise Unprocessable(f"notice {data.notice_id!r} already names a rumour determination")
            if cases.is_closed(state):
                log.info("takedown.order_closed_ignored", notice_id=data.notice_id)
                return Outcome(None)
            extended = cases.extend_order(state, data.content_ids, event.id, _ms(now))
            if extended is not None:
                self.work_due()
            return Outcome(extended)
        new = cases.open_takedown_order(
            self._opening(event, data.notice_id, now), content_ids=data.content_ids, reason=data.reason
        )
        log.info("takedown.order_opened", notice_id=data.notice_id, contents=len(new.to_apply))
        if new.to_apply:
            self.work_due()
        return Outcome(new)

    async def on_complaint_resolved(
        self, state: CaseState | None, event: Inbound[ComplaintResolved]
    ) -> Outcome[CaseState]:
        """An upheld report or complaint about content: the same takedown path as an order (DS-12, DS-11)."""
        data = event.data
        content_ids = [a.content_id for a in data.actions if a.type == "takedown" and a.content_id]
        if state is not None or data.outcome == "rejected" or not content_ids:
            return Outcome(None)
        reason = f"complaint {data.complaint_id} upheld (DS-12): " + "; ".join(data.reasons)
        opening = self._opening(event, complaint_notice_id(data.complaint_id), self.clock())
        new = cases.open_takedown_order(opening, content_ids=content_ids, reason=reason[:2000])
        log.info("takedown.complaint_upheld", complaint_id=data.complaint_id, contents=len(new.to_apply))
        self.work_due()
        return Outcome(new)

    def _opening(self, event: Inbound[Any], notice_id: str, now: datetime) -> cases.Opening:
        return cases.Opening(
            notice_id=notice_id,
            event_id=event.id,
            correlation_id=event.event.correlation,
            determined_at=event.event.time.isoformat(),
            now_ms=_ms(now),
            shards=self.shards,
        )

    async def _recipients(self, provider: str, content_ids: list[str]) -> set[str]:
        """Distinct recipients of the contents found, as known now (for `recipients_reached`)."""
        if not content_ids:
            return set()
        loaded = await self.store.load_many(content_key(provider, c) for c in content_ids)
        list_ids = [
            list_id
            for agg in loaded.values()
            if (content := agg.typed(ContentState)) is not None
            for dist in content.distributions
            for list_id in dist.lists
        ]
        found = await self.lists.get_many(list_ids)
        return {r for recipients in found.values() for r in recipients}


def _acting(actor: Actor, action: str) -> ActorRecord:
    """The console user, when their role may change a case (the console checks too; never fail open)."""
    if actor.role not in ACTING_ROLES:
        raise Unprocessable(f"role_not_permitted (DS-11): a {actor.role} may not {action}")
    return ActorRecord(username=actor.username, role=actor.role)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
