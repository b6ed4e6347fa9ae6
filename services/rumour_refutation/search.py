"""The in-memory search state of one process, per provider, and how it is rebuilt from the store.

The store is the source of truth: at start-up every indexed output and every open rumour is
read back (the stored sketches, not the texts, which are never stored), and while running the
handlers add what they index. `catch_up` adds what other processes indexed meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.rumour_refutation.domain import case as cases
from services.rumour_refutation.domain.case import CASE, CaseState
from services.rumour_refutation.domain.content import CONTENT, CaseRef, ContentState
from services.rumour_refutation.domain.fingerprint import SCHEME, Sketch, decode_sketches
from services.rumour_refutation.domain.index import Claim, ContentIndex, MediaHash, OpenRumours
from services.rumour_refutation.ports import CaseStore
from shared.observability import get_logger
from shared.storage.aggregates import Aggregate

log = get_logger(__name__)


class SearchState:
    """Indexed outputs and open rumours, kept apart per provider (tenant)."""

    def __init__(self) -> None:
        """Empty."""
        self._indexes: dict[str, ContentIndex] = {}
        self._rumours: dict[str, OpenRumours] = {}

    def index_for(self, provider_id: str) -> ContentIndex:
        """The outputs of one provider."""
        return self._indexes.setdefault(provider_id, ContentIndex())

    def rumours_for(self, provider_id: str) -> OpenRumours:
        """The open rumours of one provider."""
        return self._rumours.setdefault(provider_id, OpenRumours())

    def counts(self) -> tuple[int, int]:
        """Outputs indexed and rumours open, over all providers."""
        return sum(map(len, self._indexes.values())), sum(map(len, self._rumours.values()))


@dataclass(frozen=True)
class LoadedRumour:
    """A rumour case read back from the store."""

    provider_id: str
    ref: CaseRef
    claim: Claim


def provider_of(aggregate_id: str, prefix: str, subject: str) -> str:
    """The provider part of `<prefix><provider>/<subject>`."""
    return aggregate_id[len(prefix) : len(aggregate_id) - len(subject) - 1]


def output_windows(state: ContentState) -> tuple[list[Sketch], list[MediaHash]]:
    """The stored output of a content as the index holds it (empty when none was indexed)."""
    output = state.output
    if output is None:
        return [], []
    windows = decode_sketches(output.sketches, output.sizes) if output.sizes else []
    return windows, [MediaHash(m.sha256, m.phash) for m in output.media]


def add_content(search: SearchState, agg: Aggregate) -> bool:
    """Index a stored content's output; False when it has none or is known."""
    state = agg.typed(ContentState)
    if state is None or state.output is None:
        return False
    provider = provider_of(agg.id, CONTENT, state.content_id)
    windows, media = output_windows(state)
    return search.index_for(provider).add(state.content_id, windows, media)


def rumour_from(agg: Aggregate) -> LoadedRumour | None:
    """A stored open rumour case as a claim to match new outputs against (None for anything else)."""
    state = agg.typed(CaseState)
    if state is None or state.kind != "rumour" or cases.is_closed(state):
        return None  # a closed rumour is matched no more (DS-11)
    if state.claim is None or state.claim.scheme != SCHEME:
        return None
    claim = state.claim
    pieces = decode_sketches(claim.sketches, claim.sizes) if claim.sizes else []
    media = tuple(MediaHash(m.sha256.lower(), m.phash) for m in state.claim_media)
    provider = provider_of(agg.id, CASE, state.notice_id)
    return LoadedRumour(provider, cases.case_ref(state), Claim(tuple(pieces), media))


async def rebuild(search: SearchState, store: CaseStore) -> tuple[int, int]:
    """Load every indexed output and every rumour case; return how many of each were added."""
    outputs = 0
    async for agg in store.iter_indexed_contents():
        outputs += add_content(search, agg)
    rumours = 0
    for agg in await store.rumour_cases(0):
        if (loaded := rumour_from(agg)) is not None:
            rumours += search.rumours_for(loaded.provider_id).add(loaded.ref, loaded.claim)
    log.info("search.rebuilt", outputs=outputs, rumours=rumours)
    return outputs, rumours
