"""Rumour cases in the console (DS-11, issue 14 correction 4): list, open a case, close one.

The real app over in-memory fakes, driven over HTTP: CSRF token and Origin checks on the new forms,
roles, required reasons, the case id the console assigns, at most one close per case.
"""

from __future__ import annotations

import re

import httpx
import pytest

from services.console.domain.rumour_commands import notice_id_for
from tests.unit.console.conftest import REQUEST_ID, client_for, sign_in_as
from tests.unit.console.fakes import Fakes
from tests.unit.console.rumour_fakes import (
    CLAIM,
    closed_case_state,
    closed_event,
    fold_rumour,
    open_case_state,
)

RID = "5f1a3c7e-0000-4000-8000-00000000000a"
OPEN_FORM = {
    "claim_text": "the dam upstream has burst, evacuate now",
    "refutation_text": "the dam is intact; the water authority confirms it",
    "severity": "high",
    "reason": "our outputs repeat a claim the water authority denied",
    "request_id": RID,
}
CLOSE_FORM = {"reason": "the claim no longer circulates", "request_id": RID}
POSTS = [("/rumours/open", OPEN_FORM), ("/rumours/close/notice-1", CLOSE_FORM)]


@pytest.mark.parametrize(("path", "form"), POSTS)
@pytest.mark.parametrize("forged", [None, "", "forged-token"])
async def test_ds11_the_new_forms_without_the_sessions_token_are_refused(
    fakes: Fakes, client: httpx.AsyncClient, path: str, form: dict[str, str], forged: str | None
) -> None:
    fakes.rumours.put(open_case_state("notice-1"))
    real = sign_in_as(fakes, client, "olga", "operator")
    data = form if forged is None else form | {"csrf_token": forged}

    response = await client.post(path, data=data)

    assert response.status_code == 403
    assert "Request refused" in response.text
    assert "csrf_rejected" in fakes.audit.actions()
    assert (fakes.rumour_commands.opened, fakes.rumour_commands.closed) == ([], [])
    ok = await client.post(path, data=form | {"csrf_token": real})
    assert ok.status_code == 303, ok.text[:300]
    assert len(fakes.rumour_commands.opened) + len(fakes.rumour_commands.closed) == 1


@pytest.mark.parametrize(("path", "form"), POSTS)
@pytest.mark.parametrize(
    "headers", [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/"}]
)
async def test_ds11_the_new_forms_with_a_valid_token_from_a_foreign_origin_are_refused(
    fakes: Fakes, path: str, form: dict[str, str], headers: dict[str, str]
) -> None:
    fakes.rumours.put(open_case_state("notice-1"))
    async with client_for(fakes, origin=False) as client:  # only the foreign header
        token = sign_in_as(fakes, client, "olga", "operator")
        response = await client.post(path, data=form | {"csrf_token": token}, headers=headers)
    assert response.status_code == 403
    [refusal] = [e for e in fakes.audit.entries if e.action == "csrf_rejected"]
    assert refusal.details["why"] in ("foreign_origin", "foreign_referer")
    assert (fakes.rumour_commands.opened, fakes.rumour_commands.closed) == ([], [])


@pytest.mark.parametrize(("path", "form"), POSTS)
async def test_ds11_the_new_forms_without_origin_or_referer_are_refused(
    fakes: Fakes, path: str, form: dict[str, str]
) -> None:
    fakes.rumours.put(open_case_state("notice-1"))
    async with client_for(fakes, origin=False) as bare:
        token = sign_in_as(fakes, bare, "olga", "operator")
        response = await bare.post(path, data=form | {"csrf_token": token})
    assert response.status_code == 403
    assert (fakes.rumour_commands.opened, fakes.rumour_commands.closed) == ([], [])


@pytest.mark.parametrize(("path", "form"), POSTS)
async def test_ds11_a_viewer_may_neither_open_nor_close_a_case(
    fakes: Fakes, client: httpx.AsyncClient, path: str, form: dict[str, str]
) -> None:
    fakes.rumours.put(open_case_state("notice-1"))
    token = sign_in_as(fakes, client, "vic", "viewer")
    response = await client.post(path, data=form | {"csrf_token": token})
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert "access_denied" in fakes.audit.actions()
    assert (fakes.rumour_commands.opened, fakes.rumour_commands.closed) == ([], [])
    listing = await client.get("/rumours")
    case = await client.get("/rumours/case/notice-1")
    assert listing.status_code == case.status_code == 200
    assert 'id="open-case-link"' not in listing.text
    assert 'id="close-form"' not in case.text


async def test_ds11_an_operator_opens_a_case_under_the_id_the_console_assigns(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    token = sign_in_as(fakes, client, "olga", "operator")
    page = await client.get("/rumours/new")
    match = REQUEST_ID.search(page.text)
    assert match
    request_id = match.group(1)
    assert f'id="assigned-notice-id">console-{request_id}<' in page.text

    response = await client.post(
        "/rumours/open", data=OPEN_FORM | {"csrf_token": token, "request_id": request_id}
    )
    again = await client.post(
        "/rumours/open", data=OPEN_FORM | {"csrf_token": token, "request_id": request_id}
    )

    notice_id = notice_id_for(request_id)
    assert response.status_code == 303
    assert response.headers["location"] == f"/rumours/case/{notice_id}?notice=case_submitted"
    assert again.headers["location"] == f"/rumours/case/{notice_id}?notice=duplicate"
    [call] = fakes.rumour_commands.opened  # the same form again sends nothing
    assert call["notice_id"] == notice_id
    assert (call["actor"].username, call["actor"].role) == ("olga", "operator")
    assert call["form"].reason == OPEN_FORM["reason"]
    assert call["form"].severity == "high"
    waiting = await client.get(response.headers["location"])
    assert waiting.status_code == 200
    assert "sent, waiting for the service" in waiting.text
    assert 'http-equiv="refresh"' in waiting.text
    listing = await client.get("/rumours")
    assert 'id="waiting"' in listing.text
    assert notice_id in listing.text


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"reason": ""}, "A reason is required"),
        ({"refutation_text": ""}, "The refutation text is required"),
        ({"claim_text": ""}, "Give the claim"),
        ({"severity": "apocalyptic"}, "Choose a severity"),
        ({"claim_media": "not-a-hash"}, "must be a SHA-256"),
        ({"request_id": "not-a-uuid"}, "The form is incomplete"),
    ],
)
async def test_ds11_an_incomplete_case_is_not_sent_and_the_form_keeps_what_was_typed(
    fakes: Fakes, client: httpx.AsyncClient, change: dict[str, str], problem: str
) -> None:
    token = sign_in_as(fakes, client, "olga", "operator")
    response = await client.post("/rumours/open", data=OPEN_FORM | change | {"csrf_token": token})
    assert response.status_code == 400
    assert problem in response.text
    assert fakes.rumour_commands.opened == []
    if change.get("refutation_text") is None:
        assert "the dam is intact" in response.text


async def test_ds11_claim_media_alone_is_enough_to_open_a_case(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    token = sign_in_as(fakes, client, "olga", "operator")
    media = "AB" * 32 + "\n\n" + "cd" * 32
    form = OPEN_FORM | {"claim_text": "", "claim_media": media, "csrf_token": token}
    response = await client.post("/rumours/open", data=form)
    assert response.status_code == 303
    [call] = fakes.rumour_commands.opened
    assert call["form"].claim_media == ("ab" * 32, "cd" * 32)


async def test_ds11_the_list_shows_open_cases_first_and_who_closed_the_others(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.rumours.put(open_case_state("notice-1"))
    fakes.rumours.put(closed_case_state("notice-2", notices_sent=7))
    regulator = fold_rumour(
        open_case_state("notice-3"), closed_event("notice-3", by="regulator", notices_sent=0)
    )
    assert regulator is not None
    fakes.rumours.put(regulator)
    sign_in_as(fakes, client, "vic", "viewer")

    html = (await client.get("/rumours")).text

    rows = re.findall(r"<tr>\s*<td class=\"mono\"><a href=\"/rumours/case/([^\"]+)\">.*?</tr>", html, re.S)
    assert rows[0] == "notice-1"  # open first
    assert set(rows) == {"notice-1", "notice-2", "notice-3"}
    assert 'data-status="open"' in html
    assert "console (olga)" in html
    assert ">7<" in html
    assert "regulator" in html
    only_closed = (await client.get("/rumours?status=closed")).text
    assert "notice-1" not in only_closed
    assert "notice-2" in only_closed


async def test_ds11_an_operator_closes_an_open_case_once(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.rumours.put(open_case_state("notice-1"))
    token = sign_in_as(fakes, client, "olga", "operator")
    page = (await client.get("/rumours/case/notice-1")).text
    assert 'id="close-form"' in page
    assert CLAIM in page

    response = await client.post("/rumours/close/notice-1", data=CLOSE_FORM | {"csrf_token": token})

    assert response.status_code == 303
    assert response.headers["location"] == "/rumours/case/notice-1?notice=close_submitted"
    [call] = fakes.rumour_commands.closed
    assert (call["notice_id"], call["reason"], call["actor"].username) == (
        "notice-1",
        CLOSE_FORM["reason"],
        "olga",
    )
    # A second operator's close of the same case is refused, naming who closed it.
    other = sign_in_as(fakes, client, "bob", "operator")
    waiting = (await client.get("/rumours/case/notice-1")).text
    assert 'id="close-form"' not in waiting  # the close is on its way: no second form
    assert "sent, waiting for the service" in waiting
    second = "5f1a3c7e-0000-4000-8000-00000000000b"
    refused = await client.post(
        "/rumours/close/notice-1", data={"reason": "also", "request_id": second, "csrf_token": other}
    )
    assert refused.status_code == 409
    assert "already closed from the console by olga" in refused.text
    assert len(fakes.rumour_commands.closed) == 1


async def test_ds11_a_closed_case_shows_its_closure_and_cannot_be_closed_again(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.rumours.put(closed_case_state("notice-2", notices_sent=4))
    token = sign_in_as(fakes, client, "olga", "operator")
    page = (await client.get("/rumours/case/notice-2")).text
    assert 'id="close-form"' not in page
    assert 'id="notices-sent">4<' in page
    assert 'id="closed-by">olga<' in page
    response = await client.post("/rumours/close/notice-2", data=CLOSE_FORM | {"csrf_token": token})
    assert response.status_code == 409
    assert "closed already" in response.text
    assert fakes.rumour_commands.closed == []


async def test_ds11_closing_needs_a_reason_and_a_known_case(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.rumour_commands.audit.commands.clear()
    fakes.rumours.put(open_case_state("notice-1"))
    token = sign_in_as(fakes, client, "olga", "operator")
    blank = await client.post(
        "/rumours/close/notice-1", data={"reason": "  ", "request_id": RID, "csrf_token": token}
    )
    unknown = await client.post("/rumours/close/nope", data=CLOSE_FORM | {"csrf_token": token})
    assert blank.status_code == 400
    assert "A reason is required" in blank.text
    assert unknown.status_code == 404
    assert (await client.get("/rumours/case/nope")).status_code == 404
    assert fakes.rumour_commands.closed == []


async def test_ds11_the_claim_is_shown_escaped(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.rumours.put(open_case_state("notice-x", claim="<script>alert(1)</script> the dam burst"))
    sign_in_as(fakes, client, "vic", "viewer")
    for path in ("/rumours", "/rumours/case/notice-x"):
        html = (await client.get(path)).text
        assert "<script>alert(1)" not in html
        assert "&lt;script&gt;alert(1)" in html


async def test_every_form_on_the_rumour_pages_carries_the_sessions_token(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.rumours.put(open_case_state("notice-1"))
    token = sign_in_as(fakes, client, "ada", "admin")
    for path in ("/rumours", "/rumours/new", "/rumours/case/notice-1"):
        html = (await client.get(path)).text
        posts = html.count('method="post"')
        assert posts >= 1, path
        assert html.count(f'name="csrf_token" value="{token}"') == posts, path
    assert 'id="close-form"' in html  # the case page's close form is among them
