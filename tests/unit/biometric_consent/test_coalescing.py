"""Concurrent identity lookups of one batch become one store query."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

import pytest

from services.biometric_consent.adapters.coalescing import CoalescingIdentityDirectory
from services.biometric_consent.domain.consent import IdentityFacts


class Inner:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, set[str]]] = []
        self.fail = fail

    async def identities(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, IdentityFacts]:
        self.calls.append((provider_id, set(user_ids)))
        await asyncio.sleep(0)
        if self.fail:
            raise ConnectionError("store down")
        return {u: IdentityFacts(u, True, "adult") for u in user_ids if not u.startswith("x")}


async def test_lookups_started_together_share_one_query_and_each_gets_its_own_users() -> None:
    inner = Inner()
    directory = CoalescingIdentityDirectory(inner)
    a, b, c = await asyncio.gather(
        directory.identities("p1", ["alice", "bob"]),
        directory.identities("p1", ["bob", "xavier"]),
        directory.identities("p2", ["carol"]),
    )
    assert sorted(inner.calls) == [("p1", {"alice", "bob", "xavier"}), ("p2", {"carol"})]
    assert set(a) == {"alice", "bob"}
    assert set(b) == {"bob"}  # xavier is unknown
    assert set(c) == {"carol"}


async def test_later_lookups_query_again() -> None:
    inner = Inner()
    directory = CoalescingIdentityDirectory(inner)
    await directory.identities("p", ["alice"])
    await directory.identities("p", ["bob"])
    assert inner.calls == [("p", {"alice"}), ("p", {"bob"})]


async def test_a_failed_query_fails_every_lookup_that_shared_it() -> None:
    directory = CoalescingIdentityDirectory(Inner(fail=True))
    results = await asyncio.gather(
        directory.identities("p", ["alice"]), directory.identities("p", ["bob"]), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    with pytest.raises(ConnectionError):
        await directory.identities("p", ["carol"])
