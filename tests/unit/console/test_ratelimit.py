"""Login throttling in 15 minutes: 5 failures per username + address, 10 per address, 100 overall."""

from __future__ import annotations

import httpx
import pytest

from services.console.config import ConsoleSettings, login_limiter
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


async def test_password_spraying_from_one_address_is_refused_after_ten_failures(fakes: Fakes) -> None:
    """The issue's case: 20 wrong logins over 10 usernames from one address all got 401 before."""
    for i in range(10):
        add_user(fakes, f"user{i}", "viewer")
    codes = []
    async with client_for(fakes) as client:
        for attempt in range(20):
            codes.append((await login(client, f"user{attempt % 10}", "wrong password!!")).status_code)
        refused = await login(client, "user0", PASSWORD)  # even the right password of an untried pair
        async with client_for(fakes, client="198.51.100.9") as elsewhere:
            assert (await login(elsewhere, "user0", PASSWORD)).status_code == 303  # the limit is per address
    assert codes == [401] * 10 + [429] * 10
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    limited = [e for e in fakes.audit.entries if e.action == "login_rate_limited"]
    assert {e.details["scope"] for e in limited} == {"address"}


async def test_a_success_does_not_reset_the_address_count() -> None:
    limiter = LoginRateLimiter(FakeFailureLog(), RateLimitPolicy(max_failures_per_address=3))
    for name in ("a", "b"):
        await limiter.failed(name, "10.0.0.1", 0)
    await limiter.succeeded("mallory", "10.0.0.1")  # the sprayer's own valid account
    await limiter.failed("c", "10.0.0.1", 1)
    verdict = await limiter.check("d", "10.0.0.1", 2)
    assert (verdict.allowed, verdict.scope) == (False, "address")


async def test_spraying_from_many_addresses_hits_the_global_limit() -> None:
    limiter = LoginRateLimiter(FakeFailureLog(), RateLimitPolicy(max_failures_global=100))
    t0 = 1_000_000_000_000
    for i in range(100):
        address = f"10.0.{i // 250}.{i % 250}"
        assert (await limiter.check(f"user{i}", address, t0 + i)).allowed
        await limiter.failed(f"user{i}", address, t0 + i)

    verdict = await limiter.check("ada", "192.0.2.1", t0 + 1000)

    assert (verdict.allowed, verdict.scope) == (False, "global")
    assert verdict.retry_after_s == 15 * 60 - 1  # until the oldest failure leaves the window
    assert (await limiter.check("ada", "192.0.2.1", t0 + 15 * MIN + 1)).allowed


def test_the_figures_come_from_the_consoles_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGOV_CONSOLE_SESSION_SECRET", "s" * 32)
    monkeypatch.setenv("DSGOV_CONSOLE_LOGIN_MAX_FAILURES_PER_ADDRESS", "7")
    monkeypatch.setenv("DSGOV_CONSOLE_LOGIN_MAX_FAILURES_GLOBAL", "40")
    monkeypatch.setenv("DSGOV_CONSOLE_LOGIN_WINDOW_S", "600")
    policy = login_limiter(FakeFailureLog(), ConsoleSettings()).policy
    assert policy == RateLimitPolicy(
        max_failures=5, window_s=600, max_failures_per_address=7, max_failures_global=40
    )
    assert RateLimitPolicy() == RateLimitPolicy(5, 900, 10, 100)  # the figures in the README
