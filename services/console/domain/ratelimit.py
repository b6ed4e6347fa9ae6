"""Login throttling: at most N failed logins per username and client address in a sliding window.

Once the limit is reached, further attempts are refused with 429, even with the right password,
until the oldest failure in the window ages out. A successful login clears the counter.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class RateLimitPolicy:
    """How many failures are allowed in what window."""

    max_failures: int = 5
    window_s: int = 15 * 60


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


@dataclass(frozen=True)
class Verdict:
    """Whether an attempt may go ahead, and if not, for how long to wait."""

    allowed: bool
    retry_after_s: int = 0


class LoginRateLimiter:
    """Applies a `RateLimitPolicy` over a `FailureLog`."""

    def __init__(self, log: FailureLog, policy: RateLimitPolicy | None = None) -> None:
        """Use `log` to count failures."""
        self.log = log
        self.policy = policy or RateLimitPolicy()

    async def check(self, username: str, client: str, now_ms: int) -> Verdict:
        """Whether `username` may try to log in from `client` now."""
        window_ms = self.policy.window_s * 1000
        failures = sorted(await self.log.since(limiter_key(username, client), now_ms - window_ms))
        if len(failures) < self.policy.max_failures:
            return Verdict(True)
        # Allowed again once enough failures left the window to be below the limit.
        unblock_at = failures[len(failures) - self.policy.max_failures] + window_ms
        return Verdict(False, max(1, -(-(unblock_at - now_ms) // 1000)))

    async def failed(self, username: str, client: str, now_ms: int) -> None:
        """Count a failed attempt."""
        await self.log.add(limiter_key(username, client), now_ms)

    async def succeeded(self, username: str, client: str) -> None:
        """A successful login starts the count afresh."""
        await self.log.clear(limiter_key(username, client))
