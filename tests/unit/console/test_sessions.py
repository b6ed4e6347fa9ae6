"""Login, logout and the session cookie."""

from __future__ import annotations

import httpx

from services.console.web.security import session_digest
from tests.unit.console.conftest import PASSWORD, add_user, client_for, csrf_of, login, sign_in_as
from tests.unit.console.fakes import SECRET, Fakes, make_fakes


async def test_login_sets_a_new_strict_httponly_secure_host_cookie_and_logout_ends_the_session(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    add_user(fakes, "alice", "viewer")
    anonymous = (await client.get("/login")).headers["set-cookie"]

    response = await login(client, "alice")

    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-dsgov_console=")
    for attribute in ("HttpOnly", "Secure", "SameSite=strict", "Path=/", "Max-Age=28800"):
        assert attribute in cookie, attribute
    assert "Domain" not in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert token not in anonymous  # a new session id at login (no fixation)
    assert session_digest(SECRET, token) in fakes.sessions.sessions
    assert token not in str(fakes.sessions.sessions)  # stored only as a keyed digest
    assert [s.username for s in fakes.sessions.sessions.values()] == ["alice"]  # the anonymous one is gone
    dashboard = await client.get("/dashboard")
    assert dashboard.status_code == 200
    assert "alice · viewer" in dashboard.text

    out = await client.post("/logout", data={"csrf_token": csrf_of(dashboard.text)})

    assert out.status_code == 303
    assert out.headers["location"] == "/login"
    assert fakes.sessions.sessions == {}
    client.cookies.set("__Host-dsgov_console", token)  # even if the browser kept the cookie
    assert (await client.get("/dashboard")).status_code == 303
    assert fakes.audit.actions() == ["login_succeeded", "logout"]


async def test_a_wrong_password_a_wrong_user_and_a_disabled_user_all_fail_alike(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    add_user(fakes, "alice", "viewer")
    add_user(fakes, "dora", "viewer", active=False)
    for username, password in [("alice", "not the password"), ("nobody", PASSWORD), ("dora", PASSWORD)]:
        response = await login(client, username, password)
        assert response.status_code == 401, username
        assert "Wrong username or password." in response.text
        assert (await client.get("/dashboard")).status_code == 303
    assert fakes.audit.actions() == ["login_failed"] * 3


async def test_insecure_cookies_only_when_configured() -> None:
    fakes = make_fakes(secure_cookies=False)
    add_user(fakes, "alice", "viewer")
    async with client_for(fakes, "http://127.0.0.1") as client:
        response = await login(client, "alice")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("dsgov_console=")
    assert "Secure" not in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "strict-transport-security" not in response.headers


async def test_a_session_expires(fakes: Fakes, client: httpx.AsyncClient) -> None:
    sign_in_as(fakes, client, "alice", "viewer")
    assert (await client.get("/dashboard")).status_code == 200
    fakes.clock[0] = fakes.clock[0].replace(hour=fakes.clock[0].hour + 2)
    response = await client.get("/dashboard?x=1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/dashboard%3Fx%3D1"


async def test_after_login_only_same_site_paths_are_followed(fakes: Fakes, client: httpx.AsyncClient) -> None:
    add_user(fakes, "alice", "viewer")
    for target, expected in [
        ("/consents?status=granted", "/consents?status=granted"),
        ("https://evil.example/", "/dashboard"),
        ("//evil.example/", "/dashboard"),
        ("/\\evil.example", "/dashboard"),
    ]:
        token = csrf_of((await client.get("/login")).text)
        response = await client.post(
            "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": token, "next": target}
        )
        assert response.headers["location"] == expected, target
        client.cookies.clear()


async def test_changing_the_password_signs_out_other_sessions(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    add_user(fakes, "alice", "viewer")
    async with client_for(fakes) as other:
        assert (await login(other, "alice")).status_code == 303
        assert (await login(client, "alice")).status_code == 303
        token = csrf_of((await client.get("/account")).text)
        new = "an entirely new passphrase"
        response = await client.post(
            "/account/password",
            data={
                "csrf_token": token,
                "current_password": PASSWORD,
                "new_password": new,
                "confirm_password": new,
            },
        )
        assert response.status_code == 303
        assert (await other.get("/dashboard")).status_code == 303  # signed out
        assert (await client.get("/dashboard")).status_code == 200  # this one got a fresh session
    assert fakes.deps.passwords.verify(fakes.users.users["alice"].password_hash, new)
    assert "password_changed" in fakes.audit.actions()
