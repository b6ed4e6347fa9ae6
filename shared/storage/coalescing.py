"""Merging the lookups of one batch into one store query.

The engine decides the aggregates of a batch concurrently (one task per aggregate), and many
decisions read the same kind of projection (users, consents). Lookups that start in the same
event-loop turn are merged into one query per provider; each caller gets only what it asked for.
A failure of that query reaches every caller, so the engine retries the batch as it would for
its own query.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Generic, TypeVar

V = TypeVar("V")
_Fetch = Callable[[str, Collection[str]], Awaitable[Mapping[str, V]]]


class Coalescer(Generic[V]):
    """Merges concurrent `get(provider, keys)` calls into one `fetch(provider, all_keys)`."""

    def __init__(self, fetch: _Fetch[V]) -> None:
        """`fetch` answers the merged lookups."""
        self._fetch = fetch
        self._pending: dict[str, tuple[set[str], asyncio.Future[Mapping[str, V]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, provider_id: str, keys: Collection[str]) -> dict[str, V]:
        """The values for `keys`, from a query shared with every lookup of this turn."""
        entry = self._pending.get(provider_id)
        if entry is None:
            loop = asyncio.get_running_loop()
            entry = (set(), loop.create_future())
            self._pending[provider_id] = entry
            loop.call_soon(self._start, provider_id)
        entry[0].update(keys)
        found = await asyncio.shield(entry[1])
        return {k: found[k] for k in keys if k in found}

    def _start(self, provider_id: str) -> None:
        task = asyncio.ensure_future(self._flush(provider_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _flush(self, provider_id: str) -> None:
        keys, future = self._pending.pop(provider_id)
        try:
            answer = await self._fetch(provider_id, keys)
        except BaseException as exc:  # every waiter sees the failure (and retries its batch)
            if not future.done():
                future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if not future.done():
            future.set_result(answer)
