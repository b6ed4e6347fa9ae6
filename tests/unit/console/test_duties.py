"""Separation of duties that holds (issue 16): four-eyes with tied accounts, second admins, block entries.

Each test replays a bypass that worked before: an admin creates (or re-enables, or promotes, or
resets the password of) a second account and approves their own proposal with it; an admin grants
operator or admin rights alone; one operator disables a `block` entry alone (DS-10.2).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

import httpx
import pytest

from services.console.domain.duties import needs_confirmation, sponsors, tie
from services.console.ports import User
from tests.unit.console.conftest import PASSWORD, add_user, client_for, csrf_of, sign_in_as
from tests.unit.console.fakes import Fakes, fold_library, library_event, proposed_entry, snapshot

RID = "5f1a3c7e-0000-4000-8000-0000000000{:02d}"
NEW_PASSWORD = "a long enough password"


def _user(name: str, **provenance: str) -> User:
    return User(name, "operator", "h", **provenance)  # type: ignore[arg-type]


def test_two_accounts_are_tied_when_either_created_enabled_promoted_or_set_the_password_of_the_other() -> (
    None
):
    ada = _user("ada", created_by="cli:root", password_set_by="ada")
    for field in ("created_by", "role_by", "enabled_by", "password_set_by"):
        sock = _user("sock", **{field: "ada"})
        assert sponsors(sock) == {"ada"}
        assert tie(sock, "sock", ada, "ada") is not None, field  # the approver was made by the proposer
        assert tie(ada, "ada", sock, "sock") is not None, field  # the proposer was made by the approver
    olga = _user("olga", created_by="cli:root", password_set_by="olga", role_by="cli:root")
    assert tie(olga, "olga", ada, "ada") is None
    assert tie(olga, "olga", None, "ada") is None  # a proposer without an account any more
    assert tie(ada, "ada", ada, "ada") == "it is the same account"
    assert sponsors(_user("eve", password_set_by="eve")) == frozenset()  # one's own password ties nothing


@pytest.mark.parametrize(
    ("new", "current", "needed"),
    [
        ("viewer", None, False),
        ("operator", None, True),
        ("admin", None, True),
        ("operator", "viewer", True),
        ("admin", "operator", True),
        ("operator", "admin", False),  # lowering takes rights away
        ("viewer", "operator", False),
        ("operator", "operator", False),
    ],
)
def test_granting_operator_or_admin_needs_a_second_admin(new: str, current: str | None, needed: bool) -> None:
    assert needs_confirmation(new, current) is needed


async def _post(
    client: httpx.AsyncClient, path: str, data: dict[str, str], page: str = "/users"
) -> httpx.Response:
    token = csrf_of((await client.get(page)).text)
    return await client.post(path, data=data | {"csrf_token": token})


async def test_an_operator_created_by_the_proposer_cannot_approve_the_proposal(fakes: Fakes) -> None:
    """The issue's bypass: ada creates `sock`, proposes an entry and approves it as `sock`."""
    add_user(fakes, "ben", "admin")
    async with client_for(fakes) as ada, client_for(fakes) as ben, client_for(fakes) as sock:
        sign_in_as(fakes, ada, "ada", "admin")
        created = await _post(
            ada, "/users", {"username": "sock", "role": "operator", "password": NEW_PASSWORD}
        )
        assert created.headers["location"] == "/users?notice=creation_requested"
        assert "sock" not in fakes.users.users  # nothing exists before a second admin confirms
        sign_in_as(fakes, ben, "ben", "admin")
        assert (await _post(ben, "/users/confirm/sock", {})).headers[
            "location"
        ] == "/users?notice=request_confirmed"
        assert fakes.users.users["sock"].created_by == "ada"
        assert fakes.users.users["sock"].confirmed_by == "ben"
        fakes.library.put(proposed_entry("kw-1", proposed_by="console:ada"))
        sign_in_as(fakes, sock, "sock", "operator")
        page = await sock.get("/library/entry/kw-1")
        assert 'id="approve-form"' not in page.text
        assert 'id="tied-proposer"' in page.text

        forged = await sock.post(
            "/library/approve/kw-1",
            data={"csrf_token": csrf_of(page.text), "reason": "looks fine", "request_id": RID.format(1)},
        )

    assert forged.status_code == 409
    assert "ada created, enabled, gave the role to or set the password of sock" in forged.text
    assert fakes.commands.library_calls == []
    assert "library_approval_refused" in fakes.audit.actions()


async def test_the_proposer_cannot_approve_with_an_account_they_created_either(fakes: Fakes) -> None:
    """The other way round: ada proposes as `sock` (she knows its password) and approves as herself."""
    add_user(fakes, "ada", "admin")
    add_user(fakes, "sock", "operator")
    fakes.users.users["sock"] = replace(fakes.users.users["sock"], created_by="ada", password_set_by="ada")
    fakes.library.put(proposed_entry("kw-1", proposed_by="console:sock"))
    async with client_for(fakes) as ada:
        sign_in_as(fakes, ada, "ada", "admin")
        page = await ada.get("/library/entry/kw-1")
        response = await ada.post(
            "/library/approve/kw-1",
            data={"csrf_token": csrf_of(page.text), "reason": "fine", "request_id": RID.format(2)},
        )
    assert response.status_code == 409
    assert fakes.commands.library_calls == []


@pytest.mark.parametrize("how", ["re-enabled", "demoted", "password reset"])
async def test_an_account_re_enabled_given_its_role_or_its_password_by_the_proposer_cannot_approve(
    fakes: Fakes, how: str
) -> None:
    add_user(fakes, "olga", "admin" if how == "demoted" else "operator", active=how != "re-enabled")
    add_user(fakes, "ben", "admin")
    fakes.library.put(proposed_entry("kw-1", proposed_by="console:ada"))
    async with client_for(fakes) as ada, client_for(fakes) as olga:
        sign_in_as(fakes, olga, "olga", "operator")
        page = await olga.get("/library/entry/kw-1")
        assert 'id="approve-form"' in page.text or how == "re-enabled"  # independent so far
        sign_in_as(fakes, ada, "ada", "admin")
        if how == "re-enabled":
            done = await _post(ada, "/users/status/olga", {"active": "true"})
        elif how == "demoted":
            done = await _post(ada, "/users/role/olga", {"role": "operator"})  # lowering: applies at once
        else:
            done = await _post(ada, "/users/password/olga", {"password": NEW_PASSWORD})
        assert done.status_code == 303, done.text[:300]
        sign_in_as(fakes, olga, "olga", "operator")
        page = await olga.get("/library/entry/kw-1")
        assert 'id="approve-form"' not in page.text
        response = await olga.post(
            "/library/approve/kw-1",
            data={"csrf_token": csrf_of(page.text), "reason": "fine", "request_id": RID.format(3)},
        )
    assert response.status_code == 409
    assert fakes.commands.library_calls == []


async def test_an_independent_operator_still_approves(fakes: Fakes, client: httpx.AsyncClient) -> None:
    add_user(fakes, "ada", "admin")
    fakes.users.users["olga"] = replace(
        add_user(fakes, "olga", "operator"), created_by="cli:root", password_set_by="olga"
    )
    fakes.library.put(proposed_entry("kw-1", proposed_by="console:ada"))
    sign_in_as(fakes, client, "olga", "operator")
    page = await client.get("/library/entry/kw-1")
    response = await client.post(
        "/library/approve/kw-1",
        data={"csrf_token": csrf_of(page.text), "reason": "ok", "request_id": RID.format(4)},
    )
    assert response.status_code == 303
    assert [c["change"] for c in fakes.commands.library_calls] == ["approve"]


async def test_promoting_needs_a_second_admin_who_is_not_tied_to_the_requester(fakes: Fakes) -> None:
    add_user(fakes, "vic", "viewer")
    add_user(fakes, "ben", "admin")
    add_user(fakes, "carl", "admin")
    fakes.users.users["carl"] = replace(fakes.users.users["carl"], created_by="ada")  # ada's own second admin
    async with client_for(fakes) as ada, client_for(fakes) as other:
        sign_in_as(fakes, ada, "ada", "admin")
        asked = await _post(ada, "/users/role/vic", {"role": "admin"})
        assert asked.headers["location"] == "/users?notice=role_change_requested"
        assert fakes.users.users["vic"].role == "viewer"
        again = await _post(ada, "/users/role/vic", {"role": "operator"})
        assert again.status_code == 409  # one open request per user
        alone = await _post(ada, "/users/confirm/vic", {})
        assert alone.status_code == 409
        sign_in_as(fakes, other, "carl", "admin")
        tied = await _post(other, "/users/confirm/vic", {})
        assert tied.status_code == 409
        assert "separation of duties" in tied.text
        assert fakes.users.users["vic"].role == "viewer"
        sign_in_as(fakes, other, "ben", "admin")
        users_page = (await other.get("/users")).text
        assert 'action="/users/confirm/vic"' in users_page
        confirmed = await _post(other, "/users/confirm/vic", {})
    assert confirmed.headers["location"] == "/users?notice=request_confirmed"
    vic = fakes.users.users["vic"]
    assert (vic.role, vic.role_by, vic.confirmed_by) == ("admin", "ada", "ben")
    actions = fakes.audit.actions()
    assert actions.count("user_grant_confirmation_refused") == 2
    assert [a for a in actions if a in ("user_role_change_requested", "user_role_changed")] == [
        "user_role_change_requested",
        "user_role_changed",
    ]
    assert fakes.pending.actions == {}


async def test_a_request_is_withdrawn_or_refused_and_then_nothing_changes(fakes: Fakes) -> None:
    add_user(fakes, "ben", "admin")
    async with client_for(fakes) as ada, client_for(fakes) as ben:
        sign_in_as(fakes, ada, "ada", "admin")
        await _post(ada, "/users", {"username": "newop", "role": "operator", "password": NEW_PASSWORD})
        sign_in_as(fakes, ben, "ben", "admin")
        dashboard = (await ben.get("/dashboard")).text
        assert 'id="pending-alerts"' in dashboard
        assert 'create <span class="mono">newop</span> as operator' in dashboard
        refused = await _post(ben, "/users/cancel/newop", {})
        assert refused.headers["location"] == "/users?notice=request_cancelled"
        assert (await _post(ben, "/users/confirm/newop", {})).status_code == 404
    assert "newop" not in fakes.users.users
    assert "user_grant_cancelled" in fakes.audit.actions()


def _active_entry(entry_id: str, action: str) -> dict[str, object]:
    state = proposed_entry(entry_id, action=action)
    approved = snapshot(
        entry_id, action=action, status="active", approved_by="console:bob", updated_version=2
    )
    return fold_library(state, library_event(entry_id, version=2, change="approve", entry=approved))


async def test_disabling_an_active_block_entry_waits_for_a_second_person(fakes: Fakes) -> None:
    fakes.library.put(_active_entry("kw-block", "block"))
    add_user(fakes, "olga", "operator")
    add_user(fakes, "sock", "operator")
    fakes.users.users["sock"] = replace(fakes.users.users["sock"], created_by="olga")
    add_user(fakes, "bob", "operator")
    async with client_for(fakes) as olga, client_for(fakes) as other:
        sign_in_as(fakes, olga, "olga", "operator")
        page = (await olga.get("/library/entry/kw-block")).text
        rid = re.search(r'id="disable-form".*?name="request_id" value="([^"]+)"', page, re.S)
        assert rid
        asked = await olga.post(
            "/library/disable/kw-block",
            data={"csrf_token": csrf_of(page), "reason": "over-blocks", "request_id": rid.group(1)},
        )
        assert asked.headers["location"] == "/library/entry/kw-block?notice=disable_requested"
        assert fakes.commands.library_calls == []  # nothing sent: the entry keeps blocking
        assert "library_disable_requested" in fakes.audit.actions()
        own = await _post(olga, "/library/disable-confirm/kw-block", {}, "/library/entry/kw-block")
        assert own.status_code == 409
        sign_in_as(fakes, other, "sock", "operator")
        tied = await _post(other, "/library/disable-confirm/kw-block", {}, "/library/entry/kw-block")
        assert tied.status_code == 409
        assert fakes.commands.library_calls == []
        sign_in_as(fakes, other, "bob", "operator")
        dashboard = (await other.get("/dashboard")).text
        assert 'id="pending-alerts"' in dashboard
        assert "kw-block" in dashboard
        assert 'id="confirm-disable-form"' in (await other.get("/library/entry/kw-block")).text
        confirmed = await _post(other, "/library/disable-confirm/kw-block", {}, "/library/entry/kw-block")
        assert confirmed.status_code == 303
        twice = await _post(other, "/library/disable-confirm/kw-block", {}, "/library/entry/kw-block")
        assert twice.status_code == 404
    [call] = fakes.commands.library_calls
    assert call["change"] == "disable"
    assert call["actor"].username == "bob"
    assert call["request_id"] == str(uuid.UUID(rid.group(1)))  # the requester's form: sent at most once
    assert call["reason"] == "over-blocks [asked by olga, confirmed by bob]"
    assert "library_disable_confirmed" in fakes.audit.actions()


async def test_disabling_a_review_entry_needs_no_second_person(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.library.put(_active_entry("kw-review", "review"))
    sign_in_as(fakes, client, "olga", "operator")
    page = (await client.get("/library/entry/kw-review")).text
    rid = re.search(r'id="disable-form".*?name="request_id" value="([^"]+)"', page, re.S)
    assert rid
    response = await client.post(
        "/library/disable/kw-review",
        data={"csrf_token": csrf_of(page), "reason": "too broad", "request_id": rid.group(1)},
    )
    assert response.headers["location"] == "/library/entry/kw-review?notice=change_submitted"
    assert [c["change"] for c in fakes.commands.library_calls] == ["disable"]
    assert fakes.pending.actions == {}


async def test_a_viewer_is_still_created_at_once_with_its_provenance(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    sign_in_as(fakes, client, "ada", "admin")
    done = await _post(client, "/users", {"username": "reader", "role": "viewer", "password": NEW_PASSWORD})
    assert done.headers["location"] == "/users?notice=user_created"
    reader = fakes.users.users["reader"]
    assert (reader.created_by, reader.role_by, reader.password_set_by) == ("ada", "ada", "ada")
    assert fakes.deps.passwords.verify(reader.password_hash, NEW_PASSWORD)
    assert not fakes.deps.passwords.verify(reader.password_hash, PASSWORD)
