"""Fixtures for the console's unit tests: the real app over in-memory fakes, driven through ASGI."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio

from services.console.domain.csrf import new_token
from services.console.ports import Session, User
from services.console.web.app import create_app
from services.console.web.security import new_session_token, session_digest
from tests.unit.console.fakes import SECRET, Fakes, cheap_passwords, make_fakes

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')


@pytest.fixture
def fakes() -> Fakes:
    return make_fakes()


def client_for(
    fakes: Fakes, base_url: str = "https://testserver", client: str = "203.0.113.7", origin: bool = True
) -> httpx.AsyncClient:
    """A client that behaves like a browser on the console's pages: its form posts carry `Origin`."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(fakes.deps), client=(client, 50000)),
        base_url=base_url,
        headers={"Origin": base_url} if origin else {},
        follow_redirects=False,
    )


@pytest_asyncio.fixture
async def client(fakes: Fakes) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(fakes) as c:
        yield c


def add_user(fakes: Fakes, username: str, role: str, password: str = PASSWORD, active: bool = True) -> User:
    user = User(username, role, cheap_passwords().hash(password), active, version=1)  # type: ignore[arg-type]
    fakes.users.users[username] = user
    return user


def sign_in_as(fakes: Fakes, client: httpx.AsyncClient, username: str, role: str) -> str:
    """Give `client` a logged-in session without the login form; return its CSRF token."""
    if username not in fakes.users.users:
        add_user(fakes, username, role)
    token, csrf = new_session_token(), new_token()
    now_ms = int(fakes.clock[0].timestamp() * 1000)
    digest = session_digest(SECRET, token)
    fakes.sessions.sessions[digest] = Session(digest, csrf, now_ms + 3_600_000, username, now_ms)
    client.cookies.clear()
    client.cookies.set(fakes.deps.config.cookie_name, token)
    return csrf


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    """Go through the login form."""
    token = csrf_of((await client.get("/login")).text)
    return await client.post("/login", data={"username": username, "password": password, "csrf_token": token})
