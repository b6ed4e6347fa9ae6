"""Login throttling: 5 failures per username and client address in 15 minutes, then 429."""

from __future__ import annotations

import httpx

from services.console.domain.ratelimit import LoginRateLimiter, RateLimitPolicy, limiter_key
from tests.unit.console.conftest import PASSWORD, add_user, client_for, login
from tests.unit.console.fakes import FakeFailureLog, Fakes

MIN = 60_000


async def test_the_sixth_attempt_within_the_window_is_refused_until_the_oldest_failure_ages_out() -> None:
    limiter = LoginRateLimiter(FakeFailureLog(), RateLimitPolicy(max_failures=5, window_s=900))
    t0 = 1_000_000_000_000
    for i in range(5):
        assert (await limiter.check("alice", "10.0.0.1", t0 + i * MIN)).allowed
        await limiter.failed("alice", "10.0.0.1", t0 + i * MIN)

    verdict = await limiter.check("alice", "10.0.0.1", t0 + 5 * MIN)
    assert not verdict.allowed
    assert verdict.retry_after_s == 10 * 60  # the first failure leaves the window at t0 + 15 min
    assert not (await limiter.check("alice", "10.0.0.1", t0 + 15 * MIN - 1)).allowed
    assert (await limiter.check("alice", "10.0.0.1", t0 + 15 * MIN + 1)).allowed


async def test_the_limit_is_per_username_and_address_and_usernames_are_case_insensitive() -> None:
    limiter = LoginRateLimiter(FakeFailureLog())
    for _ in range(5):
        await limiter.failed("Alice", "10.0.0.1", 0)
    assert not (await limiter.check("alice ", "10.0.0.1", 1)).allowed
    assert (await limiter.check("alice", "10.0.0.2", 1)).allowed
    assert (await limiter.check("bob", "10.0.0.1", 1)).allowed


async def test_a_success_clears_the_count_and_the_log_never_holds_the_username() -> None:
    log = FakeFailureLog()
    limiter = LoginRateLimiter(log)
    for _ in range(4):
        await limiter.failed("alice", "10.0.0.1", 0)
    assert limiter_key("alice", "10.0.0.1") in log.failures
    assert not any("alice" in key for key in log.failures)
    await limiter.succeeded("alice", "10.0.0.1")
    for _ in range(4):
        await limiter.failed("alice", "10.0.0.1", 1)
    assert (await limiter.check("alice", "10.0.0.1", 2)).allowed


async def test_over_http_the_sixth_login_gets_429_even_with_the_right_password(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    add_user(fakes, "alice", "viewer")
    for _ in range(5):
        assert (await login(client, "alice", "wrong password!!")).status_code == 401

    refused = await login(client, "alice", PASSWORD)

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) == 15 * 60
    assert "Too many failed attempts" in refused.text
    assert fakes.deps.config.cookie_name not in refused.cookies
    assert fakes.audit.actions().count("login_failed") == 5
    assert "login_rate_limited" in fakes.audit.actions()
    async with client_for(fakes) as other:  # the same address, so the same lock for this username
        assert (await login(other, "alice", PASSWORD)).status_code == 429
    add_user(fakes, "bob", "viewer")
    assert (await login(client, "bob", PASSWORD)).status_code == 303


async def test_the_lock_lifts_after_the_window(fakes: Fakes, client: httpx.AsyncClient) -> None:
    add_user(fakes, "alice", "viewer")
    for _ in range(5):
        await login(client, "alice", "wrong password!!")
    assert (await login(client, "alice", PASSWORD)).status_code == 429
    fakes.clock[0] = fakes.clock[0].replace(minute=fakes.clock[0].minute + 16)
    assert (await login(client, "alice", PASSWORD)).status_code == 303
