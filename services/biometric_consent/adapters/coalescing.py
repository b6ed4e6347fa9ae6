"""One store query for all identity lookups of a batch.

The engine decides the aggregates of a batch concurrently (one task per consent), and every grant
reads its subject, grantee and guardian. Lookups that start in the same event-loop turn are merged
into one `$in` query per provider; each caller gets only the users it asked for. A failure of
that query reaches every caller, so the engine retries the batch as it would for its own query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

from services.biometric_consent.domain.consent import IdentityFacts
from services.biometric_consent.ports import IdentityDirectory

_Answer = Mapping[str, IdentityFacts]


class CoalescingIdentityDirectory:
    """Wraps a directory; concurrent lookups share one call to it."""

    def __init__(self, inner: IdentityDirectory) -> None:
        """`inner` answers the merged lookups."""
        self._inner = inner
        self._pending: dict[str, tuple[set[str], asyncio.Future[_Answer]]] = {}
        self._flushes: set[asyncio.Task[None]] = set()

    async def identities(self, provider_id: str, user_ids: Collection[str]) -> _Answer:
        """Facts for `user_ids`, from a query shared with every lookup of this turn."""
        entry = self._pending.get(provider_id)
        if entry is None:
            loop = asyncio.get_running_loop()
            entry = (set(), loop.create_future())
            self._pending[provider_id] = entry
            loop.call_soon(self._start_flush, provider_id)
        entry[0].update(user_ids)
        found = await asyncio.shield(entry[1])
        return {u: found[u] for u in user_ids if u in found}

    def _start_flush(self, provider_id: str) -> None:
        task = asyncio.ensure_future(self._flush(provider_id))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, provider_id: str) -> None:
        ids, future = self._pending.pop(provider_id)
        try:
            answer = await self._inner.identities(provider_id, ids)
        except BaseException as exc:  # every waiter sees the failure (and retries its batch)
            if not future.done():
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if not future.done():
            future.set_result(answer)
