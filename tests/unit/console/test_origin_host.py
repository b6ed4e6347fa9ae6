"""Defence in depth (issue 16): every POST must come from the console's own origin; unknown hosts get 400.

Before: a valid CSRF token with a foreign `Origin` was accepted, and any `Host` got 200.
"""

from __future__ import annotations

import httpx
import pytest

from services.console.web.security import foreign_origin, origin_of
from tests.unit.console.conftest import PASSWORD, add_user, client_for, csrf_of, sign_in_as
from tests.unit.console.fakes import Fakes, granted_consent

WITHDRAW = {"reason": "asked by phone", "request_id": "5f1a3c7e-0000-4000-8000-000000000001"}


@pytest.mark.parametrize(
    ("origin", "referer", "why"),
    [
        ("https://testserver", None, None),
        ("https://TESTSERVER:443", None, None),  # default port and case do not matter
        (None, "https://testserver/consents/view/c-1", None),
        ("https://evil.example", None, "foreign_origin"),
        ("http://testserver", None, "foreign_origin"),  # another scheme is another origin
        ("https://testserver:8443", None, "foreign_origin"),
        ("null", None, "foreign_origin"),
        ("https://evil.example", "https://testserver/", "foreign_origin"),  # Origin decides
        (None, "https://evil.example/page", "foreign_referer"),
        (None, "https://testserver.evil.example/", "foreign_referer"),
        (None, None, "no_origin"),
    ],
)
def test_foreign_origin(origin: str | None, referer: str | None, why: str | None) -> None:
    assert foreign_origin(origin, referer, "https://testserver/") == why


def test_origin_of() -> None:
    assert origin_of("http://127.0.0.1:8000/x?y") == "http://127.0.0.1:8000"
    assert origin_of("http://[::1]:8000/") == "http://[::1]:8000"
    assert origin_of("javascript:alert(1)") is None
    assert origin_of("http://host:notaport/") is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "", "Referer": "https://evil.example/"},
    ],
)
async def test_a_valid_token_from_a_foreign_origin_is_refused(
    fakes: Fakes, client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    fakes.read_model.put(granted_consent("c-1"))
    token = sign_in_as(fakes, client, "olga", "operator")
    if headers.get("Origin") == "":
        del client.headers["Origin"]
        headers = {k: v for k, v in headers.items() if k != "Origin"}

    response = await client.post(
        "/consents/withdraw/c-1", data=WITHDRAW | {"csrf_token": token}, headers=headers
    )

    assert response.status_code == 403
    assert "Request refused" in response.text
    assert fakes.commands.calls == []
    [refusal] = [e for e in fakes.audit.entries if e.action == "csrf_rejected"]
    assert refusal.details["why"] in ("foreign_origin", "foreign_referer")
    assert refusal.actor is not None
    assert refusal.actor.username == "olga"
    same = await client.post(
        "/consents/withdraw/c-1",
        data=WITHDRAW | {"csrf_token": token},
        headers={"Origin": "https://testserver"},
    )
    assert same.status_code == 303
    assert len(fakes.commands.calls) == 1


async def test_a_post_with_neither_origin_nor_referer_is_refused(fakes: Fakes) -> None:
    fakes.read_model.put(granted_consent("c-1"))
    async with client_for(fakes, origin=False) as bare:
        token = sign_in_as(fakes, bare, "olga", "operator")
        response = await bare.post("/consents/withdraw/c-1", data=WITHDRAW | {"csrf_token": token})
        referred = await bare.post(
            "/consents/withdraw/c-1",
            data=WITHDRAW | {"csrf_token": token},
            headers={"Referer": "https://testserver/consents/view/c-1"},
        )
    assert response.status_code == 403
    assert referred.status_code == 303


async def test_the_login_form_checks_the_origin_too(fakes: Fakes, client: httpx.AsyncClient) -> None:
    add_user(fakes, "alice", "viewer")
    token = csrf_of((await client.get("/login")).text)
    data = {"username": "alice", "password": PASSWORD, "csrf_token": token}

    refused = await client.post("/login", data=data, headers={"Origin": "https://evil.example"})

    assert refused.status_code == 403
    assert fakes.failures.failures == {}  # refused before any password check
    assert (await client.post("/login", data=data)).status_code == 303


@pytest.mark.parametrize("host", ["evil.example", "testserver.evil.example", "127.0.0.2:8000"])
async def test_an_unknown_host_header_gets_400(fakes: Fakes, client: httpx.AsyncClient, host: str) -> None:
    add_user(fakes, "alice", "viewer")
    page = await client.get("/login", headers={"Host": host})
    post = await client.post("/login", data={"username": "alice"}, headers={"Host": host})
    assert page.status_code == 400
    assert post.status_code == 400
    assert page.headers["x-frame-options"] == "DENY"  # the security headers are on the refusal too
    assert fakes.sessions.sessions == {}
    assert (await client.get("/login", headers={"Host": "127.0.0.1:8000"})).status_code == 200
    assert (await client.get("/login")).status_code == 200


async def test_the_referrer_policy_keeps_the_origin_for_the_consoles_own_forms(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/login")
    # With `no-referrer` Chromium sends `Origin: null` even on same-origin form posts.
    assert response.headers["referrer-policy"] == "same-origin"


def test_behind_a_tls_proxy_the_public_urls_origin_is_the_consoles() -> None:
    # The app sees http://console.example.org (no trusted proxy headers); the browser is on https.
    own, public = "http://console.example.org/", "https://console.example.org/"
    assert foreign_origin("https://console.example.org", None, own, public) is None
    assert foreign_origin("https://evil.example", None, own, public) == "foreign_origin"
