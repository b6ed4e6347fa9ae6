"""CSRF: a synchronizer token per session, checked on every POST (403 when missing or forged)."""

from __future__ import annotations

import httpx
import pytest

from services.console.domain.claims import Take
from services.console.domain.csrf import new_token, tokens_match
from tests.unit.console.conftest import client_for, csrf_of, sign_in_as
from tests.unit.console.fakes import NOW, Fakes, granted_consent, pending_item, proposed_entry


def test_tokens_match_only_when_both_are_present_and_equal() -> None:
    token = new_token()
    assert tokens_match(token, token)
    assert not tokens_match(token, token[:-1] + ("A" if token[-1] != "A" else "B"))
    assert not tokens_match(token, "")
    assert not tokens_match(token, None)
    assert not tokens_match(None, token)
    assert not tokens_match("", "")


def test_tokens_are_unguessable() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 43 for t in tokens)  # 32 random bytes, base64url


@pytest.mark.parametrize("forged", [None, "", "forged-token", "STOLEN"])
async def test_a_withdrawal_without_the_sessions_token_is_refused(
    fakes: Fakes, client: httpx.AsyncClient, forged: str | None
) -> None:
    fakes.read_model.put(granted_consent("c-1"))
    real = sign_in_as(fakes, client, "olga", "operator")
    if forged == "STOLEN":
        async with client_for(fakes) as other:
            forged = sign_in_as(fakes, other, "mallory", "operator")  # a token, but of another session
    data = {"reason": "asked by phone", "request_id": "5f1a3c7e-0000-4000-8000-000000000001"}
    if forged is not None:
        data["csrf_token"] = forged

    response = await client.post("/consents/withdraw/c-1", data=data)

    assert response.status_code == 403
    assert "Request refused" in response.text
    assert fakes.commands.calls == []
    assert "csrf_rejected" in fakes.audit.actions()
    ok = await client.post("/consents/withdraw/c-1", data=data | {"csrf_token": real})
    assert ok.status_code == 303
    assert len(fakes.commands.calls) == 1


async def test_the_login_form_is_protected_too(fakes: Fakes, client: httpx.AsyncClient) -> None:
    await client.get("/login")  # an anonymous session with its own token
    response = await client.post(
        "/login", data={"username": "olga", "password": "whatever-it-is", "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert fakes.failures.failures == {}  # refused before any password check


async def test_a_post_without_any_session_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post("/logout", data={"csrf_token": "anything"})
    assert response.status_code == 403


async def test_every_form_on_every_page_carries_the_sessions_token(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.read_model.put(granted_consent("c-1"))
    fakes.library.put(proposed_entry("kw-1"))
    fakes.reviews.put(pending_item("item-1"))
    fakes.reviews.put(pending_item("item-2", request_id="r-2"))
    fakes.desk.all_takes.append(Take("item-2", 1, "ada", "admin", NOW.isoformat()))  # the decide form
    token = sign_in_as(fakes, client, "ada", "admin")
    pages = ["/dashboard", "/consents", "/consents/view/c-1", "/users", "/audit", "/account"]
    pages += ["/library", "/library/new", "/library/entry/kw-1", "/review", "/review/item/item-1"]
    pages += ["/review/item/item-2"]
    for path in pages:
        html = (await client.get(path)).text
        forms = html.count("<form")
        posts = html.count('method="post"')
        assert html.count(f'name="csrf_token" value="{token}"') == posts, path
        assert posts >= 1, path  # at least the sign-out form
        assert forms >= posts
        assert csrf_of(html) == token


NEW_FORMS = [
    (
        "/library/propose",
        {"entry_id": "kw-2", "kind": "keyword", "pattern": "p", "category": "c", "action": "block"},
    ),
    ("/library/approve/kw-1", {}),
    ("/library/disable/kw-1", {}),
    ("/review/take/item-1", {"expected_seq": "0"}),
    ("/review/decide/item-2", {"decision": "reject"}),
]


@pytest.mark.parametrize(("path", "form"), NEW_FORMS)
@pytest.mark.parametrize("forged", [None, "forged-token"])
async def test_library_and_review_forms_without_the_sessions_token_are_refused(
    fakes: Fakes, client: httpx.AsyncClient, path: str, form: dict[str, str], forged: str | None
) -> None:
    fakes.library.put(proposed_entry("kw-1"))
    fakes.reviews.put(pending_item("item-1"))
    fakes.reviews.put(pending_item("item-2", request_id="r-2"))
    fakes.desk.all_takes.append(Take("item-2", 1, "bob", "operator", NOW.isoformat()))
    real = sign_in_as(fakes, client, "bob", "operator")
    data = form | {"reason": "a reason", "request_id": "5f1a3c7e-0000-4000-8000-000000000001"}
    if forged is not None:
        data["csrf_token"] = forged

    response = await client.post(path, data=data)

    assert response.status_code == 403
    assert "Request refused" in response.text
    assert "csrf_rejected" in fakes.audit.actions()
    assert fakes.commands.library_calls == []
    assert fakes.commands.review_calls == []
    assert [t.item_id for t in fakes.desk.all_takes] == ["item-2"]
    ok = await client.post(path, data=data | {"csrf_token": real})
    assert ok.status_code == 303, ok.text[:500]
