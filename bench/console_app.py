"""The console web app as the composition root builds it, for the page benchmarks.

Uses the real `build_deps` (every page's dependencies, as in production) over the benchmark's own
store, with publishing stubbed (the store's share of a command is what is measured), and a signed-in
operator session. One place, so a new console dependency needs no change in each benchmark.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx

from services.console.config import ConsoleSettings
from services.console.domain.csrf import new_token
from services.console.entrypoints.app import build_deps
from services.console.ports import Session, User
from services.console.web.app import create_app
from services.console.web.base import ConsoleDeps
from services.console.web.security import new_session_token, session_digest
from shared.storage.aggregates import AggregateStore
from shared.storage.outbox import OutboxMessage

SECRET = "bench-session-secret-0123456789abcdef"
ORIGIN = "http://127.0.0.1:8000"


class NullPublisher:
    """Commands are 'sent' instantly: the benchmark measures the store's share."""

    def topic(self, name: str) -> str:
        """No prefix."""
        return name

    async def publish(self, messages: Sequence[OutboxMessage]) -> None:
        """Publish nothing."""
        del messages


def console_deps(db: Any, projections: AggregateStore, provider: str) -> ConsoleDeps:
    """The production dependencies of the web app over `db` (projections in `projections`)."""
    settings = ConsoleSettings(session_secret=SECRET, insecure_cookies=True)  # type: ignore[arg-type]
    common = SimpleNamespace(provider_id=provider, mongo_uri="mongodb://bench", mongo_database=db.name)
    runtime = SimpleNamespace(db=db, settings=common, store=projections, publisher=NullPublisher())
    deps, _ = build_deps(runtime, settings, lambda: datetime.now(UTC))  # type: ignore[arg-type]
    return deps


@asynccontextmanager
async def signed_in(
    deps: ConsoleDeps, username: str = "olga", role: str = "operator"
) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the app with a signed-in session (and the Origin a browser sends)."""
    await deps.users.add(User(username, role, "not-a-real-hash", created_ms=0))  # type: ignore[arg-type]
    token, now_ms = new_session_token(), int(time.time() * 1000)
    await deps.sessions.add(
        Session(
            session_digest(deps.config.session_secret, token),
            new_token(),
            now_ms + 3_600_000,
            username,
            now_ms,
        )
    )
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN}) as web:
        web.cookies.set(deps.config.cookie_name, token)
        yield web


def percentiles(samples: list[float]) -> str:
    """p50 and p95 of samples in ms."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered):6.1f} ms  p95 {p95:6.1f} ms"


async def timed(rounds: int, call: Callable[[int], Awaitable[Any]]) -> list[float]:
    """Milliseconds each of `rounds` calls took, one after the other."""
    samples = []
    for i in range(rounds):
        started = time.perf_counter()
        await call(i)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def time_pages(
    web: httpx.AsyncClient, rounds: int, pages: Sequence[tuple[str, str]], width: int
) -> None:
    """GET each (label, path) `rounds` times (each must answer 200) and print its percentiles."""
    for label, path in pages:

        async def get(_: int, path: str = path) -> None:
            response = await web.get(path)
            assert response.status_code == 200, (path, response.status_code)

        print(f"  {label:{width}s} {percentiles(await timed(rounds, get))}")
