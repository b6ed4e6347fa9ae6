"""Login throttling: failed logins counted in a sliding window per username + address, per address, globally.

- per username and client address (guessing one password): 5 failures in 15 minutes;
- per client address (password spraying: a few guesses over many usernames): 10 in 15 minutes;
- over all addresses (spraying from many addresses): 100 in 15 minutes.

Once a limit is reached, further attempts it covers are refused with 429, even with the right
password, until the oldest failure in the window ages out. A successful login clears only the
username + address count: one valid account must not reset an address's or the global count.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, Protocol

Scope = Literal["user", "address", "global"]


@dataclass(frozen=True)
class RateLimitPolicy:
    """How many failures are allowed in what window, per scope."""

    max_failures: int = 5  # per username + address
    window_s: int = 15 * 60
    max_failures_per_address: int = 10
    max_failures_global: int = 100

    def limit(self, scope: Scope) -> int:
        """The number of failures a scope allows in the window."""
        return {
            "user": self.max_failures,
            "address": self.max_failures_per_address,
            "global": self.max_failures_global,
        }[scope]


class FailureLog(Protocol):
    """Where failed attempts are remembered (shared by every console process)."""

    async def since(self, key: str, since_ms: int) -> list[int]:
        """Times (ms) of the failures of `key` at or after `since_ms`."""
        ...

    async def add(self, key: str, at_ms: int) -> None:
        """Remember one failure."""
        ...

    async def clear(self, key: str) -> None:
        """Forget the failures of `key`."""
        ...


def limiter_key(username: str, client: str) -> str:
    """A digest of username and address: the log never holds what somebody typed as a username."""
    return hashlib.sha256(f"{username.strip().lower()}\x1f{client}".encode()).hexdigest()


def address_key(client: str) -> str:
    """The key of every failure from one client address."""
    return "address:" + hashlib.sha256(client.encode()).hexdigest()


GLOBAL_KEY = "global"


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead, and if not, for how long to wait and which limit refused it."""

    allowed: bool
    retry_after_s: int = 0
    scope: Scope | None = None


class LoginRateLimiter:
    """Applies a `RateLimitPolicy` over a `FailureLog`."""

    def __init__(self, log: FailureLog, policy: RateLimitPolicy | None = None) -> None:
        """Use `log` to count failures."""
        self.log = log
        self.policy = policy or RateLimitPolicy()

    def _keys(self, username: str, client: str) -> list[tuple[Scope, str]]:
        return [
            ("user", limiter_key(username, client)),
            ("address", address_key(client)),
            ("global", GLOBAL_KEY),
        ]

    async def check(self, username: str, client: str, now_ms: int) -> Verdict:
        """Whether `username` may try to log in from `client` now (the longest wait of any limit)."""
        refused = Verdict(True)
        for scope, key in self._keys(username, client):
            verdict = await self._check(key, self.policy.limit(scope), now_ms)
            if verdict is not None and verdict > refused.retry_after_s:
                refused = Verdict(False, verdict, scope)
        return refused

    async def _check(self, key: str, limit: int, now_ms: int) -> int | None:
        """Seconds to wait when `key` has reached `limit`, else None."""
        window_ms = self.policy.window_s * 1000
        failures = sorted(await self.log.since(key, now_ms - window_ms))
        if len(failures) < limit:
            return None
        # Allowed again once enough failures left the window to be below the limit.
        unblock_at = failures[len(failures) - limit] + window_ms
        return max(1, -(-(unblock_at - now_ms) // 1000))

    async def failed(self, username: str, client: str, now_ms: int) -> None:
        """Count a failed attempt in every scope."""
        for _, key in self._keys(username, client):
            await self.log.add(key, now_ms)

    async def succeeded(self, username: str, client: str) -> None:
        """A successful login starts this username + address count afresh (not the others)."""
        await self.log.clear(limiter_key(username, client))
