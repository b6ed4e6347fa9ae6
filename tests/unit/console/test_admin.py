"""First run, password resets and the audit page (issue 16)."""

from __future__ import annotations

import html
import re
import shlex
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from services.console.config import ConsoleSettings, create_admin_command, web_config
from services.console.ports import Actor, AuditEntry
from services.console.web.app import prepare_store
from tests.unit.console.conftest import PASSWORD, add_user, client_for, csrf_of, login, sign_in_as
from tests.unit.console.fakes import FIRST_RUN, NOW, Fakes, FakeSite, make_fakes

NEW_PASSWORD = "a brand new passphrase"


class Store:
    def __init__(self, mongo_uri: str, mongo_database: str | None = None) -> None:
        self.mongo_uri = mongo_uri
        self.mongo_database = mongo_database


def test_the_first_run_command_can_be_pasted_as_it_is() -> None:
    command = create_admin_command(Store("mongodb://127.0.0.1:27017/?directConnection=true"))
    words = shlex.split(command)
    assert words[0] == "DSGOV_MONGO_URI=mongodb://127.0.0.1:27017/?directConnection=true"
    assert words[1] == sys.executable  # the real interpreter (the virtualenv's), not `.venv/bin/...`
    assert Path(words[1]).is_absolute()
    assert Path(words[1]).exists()
    assert words[2:] == ["-m", "services.console", "create-user", "--username", "NAME", "--role", "admin"]
    masked = create_admin_command(Store("mongodb://root:s3cret@db:27017/", "console_db"), "/opt/py")
    assert "s3cret" not in masked
    assert shlex.split(masked)[:3] == [
        "DSGOV_MONGO_URI=mongodb://<user>:<password>@db:27017/",
        "DSGOV_MONGO_DATABASE=console_db",
        "/opt/py",
    ]


async def test_the_login_page_shows_the_first_run_command_until_a_user_exists(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    page = (await client.get("/login")).text
    shown = re.search(r'<pre id="first-run-command">(.*?)</pre>', page, re.S)
    assert shown
    assert html.unescape(shown.group(1)) == FIRST_RUN
    add_user(fakes, "ada", "admin")
    assert "first-run-command" not in (await client.get("/login")).text


async def test_a_failed_login_keeps_the_username(fakes: Fakes, client: httpx.AsyncClient) -> None:
    add_user(fakes, "alice", "viewer")
    failed = await login(client, "Alice", "not the password")
    assert failed.status_code == 401
    assert 'name="username" autocomplete="username" required value="alice"' in failed.text
    assert re.search(r'name="password"[^>]*autofocus', failed.text)  # straight to the password
    odd = await login(client, "<b>x</b>", "not the password")
    assert 'required value=""' in odd.text  # not a username: not echoed


def test_the_web_config_follows_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGOV_CONSOLE_SESSION_SECRET", "s" * 32)
    monkeypatch.setenv("DSGOV_HTTP_PORT", "8123")
    config = web_config(ConsoleSettings(), Store("mongodb://127.0.0.1:1/"))
    assert config.public_url == "http://127.0.0.1:8123/"
    assert config.allowed_hosts == ("127.0.0.1", "localhost")
    assert config.first_run_command.startswith("DSGOV_MONGO_URI=mongodb://127.0.0.1:1/ ")
    monkeypatch.setenv("DSGOV_CONSOLE_PUBLIC_URL", "https://console.example.org")
    monkeypatch.setenv("DSGOV_CONSOLE_ALLOWED_HOSTS", "console.internal, *.example.net")
    config = web_config(ConsoleSettings(), Store("mongodb://127.0.0.1:1/"))
    assert config.public_url == "https://console.example.org/"
    assert config.allowed_hosts == ("console.internal", "*.example.net", "console.example.org")


async def test_the_console_records_its_url_for_the_command_line() -> None:
    fakes = make_fakes()
    await prepare_store(fakes.deps)
    assert isinstance(fakes.deps.site, FakeSite)
    assert fakes.deps.site.url == "https://testserver/"


async def test_an_admin_resets_a_password_and_the_users_sessions_end(fakes: Fakes) -> None:
    add_user(fakes, "olga", "operator")
    async with client_for(fakes) as olga, client_for(fakes) as ada:
        assert (await login(olga, "olga")).status_code == 303
        sign_in_as(fakes, ada, "ada", "admin")
        token = csrf_of((await ada.get("/users")).text)
        short = await ada.post("/users/password/olga", data={"csrf_token": token, "password": "short"})
        assert short.status_code == 400
        own = await ada.post("/users/password/ada", data={"csrf_token": token, "password": NEW_PASSWORD})
        assert own.status_code == 409  # one's own password: under Account, with the current one

        done = await ada.post("/users/password/olga", data={"csrf_token": token, "password": NEW_PASSWORD})

        assert done.headers["location"] == "/users?notice=password_reset"
        assert (await olga.get("/dashboard")).status_code == 303  # signed out everywhere
        assert (await login(olga, "olga", PASSWORD)).status_code == 401
        olga.cookies.clear()
        assert (await login(olga, "olga", NEW_PASSWORD)).status_code == 303
    assert fakes.users.users["olga"].password_set_by == "ada"
    [reset] = [e for e in fakes.audit.entries if e.action == "password_reset"]
    assert (reset.actor, reset.target) == (Actor("ada", "admin"), "olga")
    assert NEW_PASSWORD not in repr(fakes.audit.entries)


async def test_changing_ones_own_password_unties_the_account(fakes: Fakes, client: httpx.AsyncClient) -> None:
    add_user(fakes, "olga", "operator")
    await login(client, "olga")
    token = csrf_of((await client.get("/account")).text)
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    assert (await client.post("/account/password", data=data | {"csrf_token": token})).status_code == 303
    assert fakes.users.users["olga"].password_set_by == "olga"


def _entry(action: str, actor: str | None, minutes: int, **details: object) -> AuditEntry:
    who = Actor(actor, "admin") if actor else None
    return AuditEntry(action, who, NOW + timedelta(minutes=minutes), None, None, details)


async def test_the_audit_page_filters_by_actor_action_and_time_and_shows_empty_values_as_a_dash(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.audit.entries += [
        _entry("login_failed", None, -120),
        _entry("user_created", "ada", -90, role="viewer"),
        _entry("review_taken", "olga", -60, seq=1, took_over_from=None),
        _entry("user_created", "ben", -30, role="operator", requested_by="ada"),
    ]
    sign_in_as(fakes, client, "ada", "admin")

    def rows(page: str) -> list[str]:
        body = page.split('<table id="audit">')[1].split("</table>")[0]
        return re.findall(r"<code>([a-z_]+)</code>", body)

    everything = (await client.get("/audit")).text
    table = everything.split('<table id="audit">')[1].split("</table>")[0]
    assert "None" not in table
    assert "took_over_from:</span> —" in table
    assert rows(everything) == ["user_created", "review_taken", "user_created", "login_failed"]
    assert rows((await client.get("/audit?actor=ada")).text) == ["user_created"]
    assert rows((await client.get("/audit?action=user_created")).text) == ["user_created", "user_created"]
    since = (NOW - timedelta(minutes=100)).strftime("%Y-%m-%dT%H:%M")
    until = (NOW - timedelta(minutes=45)).strftime("%Y-%m-%dT%H:%M")
    window = await client.get(f"/audit?since={since}&until={until}")
    assert rows(window.text) == ["review_taken", "user_created"]
    whole_day = await client.get(f"/audit?until={NOW.date().isoformat()}&action=login_failed")
    assert rows(whole_day.text) == ["login_failed"]  # a date as `until` includes that whole day
    bad = await client.get("/audit?since=yesterday")
    assert bad.status_code == 400
    assert "not a date" in bad.text
    nothing = await client.get("/audit?actor=nobody")
    assert "Nothing matches these filters." in nothing.text
