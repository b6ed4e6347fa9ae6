"""Feature-library pages (DS-10.2): browse, search, propose, approve (four-eyes), disable, refusals shown."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest

from services.console.domain.commands import library_change_command_id
from services.console.domain.library_form import Proposal, check_proposal
from tests.unit.console.conftest import csrf_of, sign_in_as
from tests.unit.console.fakes import NOW, Fakes, fold_library, library_event, proposed_entry, snapshot

PROPOSAL = {
    "entry_id": "kw-fraud-1",
    "kind": "keyword",
    "pattern": "guaranteed returns",
    "category": "fraud",
    "action": "review",
    "max_distance": "",
    "reason": "criterion 4.2: investment fraud bait",
}


def _form_ids(html: str, form: str) -> dict[str, str]:
    match = re.search(rf'id="{form}".*?name="request_id" value="([^"]+)"', html, re.S)
    assert match, f"no {form}"
    return {"csrf_token": csrf_of(html), "request_id": match.group(1)}


async def test_an_operator_proposes_an_entry(fakes: Fakes, client: httpx.AsyncClient) -> None:
    sign_in_as(fakes, client, "alice", "operator")
    form = _form_ids((await client.get("/library/new")).text, "propose-form")

    response = await client.post("/library/propose", data=form | PROPOSAL)

    assert response.status_code == 303
    assert response.headers["location"] == "/library/entry/kw-fraud-1?notice=change_submitted"
    [call] = fakes.commands.library_calls
    assert call["change"] == "propose"
    assert call["entry_id"] == "kw-fraud-1"
    assert call["entry"] == {
        "kind": "keyword",
        "pattern": "guaranteed returns",
        "category": "fraud",
        "action": "review",
    }
    assert call["reason"] == "criterion 4.2: investment fraud bait"
    assert (call["actor"].username, call["actor"].role) == ("alice", "operator")
    assert call["request_id"] == str(uuid.UUID(form["request_id"]))


async def test_the_entry_page_waits_for_the_review_service_after_a_change_was_sent(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    sign_in_as(fakes, client, "alice", "operator")
    command_id = library_change_command_id("r-1")
    fakes.audit.commands.append(
        {
            "action": "library_change_submitted",
            "target": "kw-1",
            "at": NOW.isoformat(),
            "at_ms": int(NOW.timestamp() * 1000),
            "actor": {"username": "alice", "role": "operator"},
            "details": {"change": "propose", "reason": "criterion 4.2", "command_id": command_id},
            "sent": True,
        }
    )
    refresh = '<meta http-equiv="refresh" content="3; url=/library/entry/kw-1">'

    waiting = await client.get("/library/entry/kw-1?notice=change_submitted")

    assert waiting.status_code == 200  # known from the console's own record before the service answers
    assert refresh in waiting.text
    assert "sent, waiting for the review service" in waiting.text
    assert "Change sent." in waiting.text
    fakes.library.put(
        fold_library(None, library_event("kw-1", entry=snapshot("kw-1"), causationid=command_id))
    )
    answered = (await client.get("/library/entry/kw-1")).text
    assert refresh not in answered
    assert 'class="badge active">answered' in answered
    assert 'id="status">proposed<' in answered


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "checksum"}, "Choose a kind"),
        ({"pattern": ""}, "The pattern is required"),
        ({"kind": "sha256", "pattern": "abc"}, "64 hexadecimal digits"),
        ({"kind": "phash", "pattern": "de000000000000ff", "max_distance": "16"}, "from 0 to 15"),
        ({"category": "Fraud!"}, "lowercase identifier"),
        ({"action": "delete"}, "Choose an action"),
        ({"reason": "   "}, "criterion applied"),
        ({"entry_id": "a b"}, "The entry id"),
        ({"request_id": "not-a-uuid"}, "form is incomplete"),
    ],
)
async def test_a_bad_proposal_sends_nothing_and_says_why(
    fakes: Fakes, client: httpx.AsyncClient, change: dict[str, str], message: str
) -> None:
    sign_in_as(fakes, client, "alice", "operator")
    form = _form_ids((await client.get("/library/new")).text, "propose-form")
    response = await client.post("/library/propose", data=form | PROPOSAL | change)
    assert response.status_code == 400
    assert message in response.text
    assert fakes.commands.library_calls == []
    assert 'value="guaranteed returns"' in response.text or "pattern" in change  # the form keeps its values


async def test_an_empty_entry_id_is_made_from_the_form_so_a_resubmission_proposes_the_same_entry(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    sign_in_as(fakes, client, "alice", "operator")
    form = _form_ids((await client.get("/library/new")).text, "propose-form")
    first = await client.post("/library/propose", data=form | PROPOSAL | {"entry_id": ""})
    again = await client.post("/library/propose", data=form | PROPOSAL | {"entry_id": ""})
    entry_id = f"entry-{uuid.UUID(form['request_id']).hex[:12]}"
    assert first.headers["location"] == f"/library/entry/{entry_id}?notice=change_submitted"
    assert again.headers["location"] == f"/library/entry/{entry_id}?notice=change_duplicate"
    assert len(fakes.commands.library_calls) == 1


async def test_an_existing_id_cannot_be_proposed_again(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.library.put(proposed_entry("kw-fraud-1"))
    sign_in_as(fakes, client, "alice", "operator")
    form = _form_ids((await client.get("/library/new")).text, "propose-form")
    response = await client.post("/library/propose", data=form | PROPOSAL)
    assert response.status_code == 400
    assert "exists already" in response.text
    assert fakes.commands.library_calls == []


async def test_the_proposer_is_not_offered_the_approval_and_a_forged_one_is_refused(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.library.put(proposed_entry("kw-1"))  # proposed by console:alice
    sign_in_as(fakes, client, "alice", "operator")
    page = (await client.get("/library/entry/kw-1")).text
    assert 'id="approve-form"' not in page
    assert 'id="own-proposal"' in page
    assert 'id="disable-form"' in page  # disabling needs no second person
    form = _form_ids(page, "disable-form")

    forged = await client.post("/library/approve/kw-1", data=form | {"reason": "my own"})

    assert forged.status_code == 409
    assert "four-eyes" in forged.text
    assert fakes.commands.library_calls == []


async def test_a_second_operator_approves_with_a_reason(fakes: Fakes, client: httpx.AsyncClient) -> None:
    state = proposed_entry("kw-1")
    fakes.library.put(state)
    sign_in_as(fakes, client, "bob", "operator")
    page = (await client.get("/library/entry/kw-1")).text
    form = _form_ids(page, "approve-form")
    assert form["request_id"] != _form_ids(page, "disable-form")["request_id"]

    missing = await client.post("/library/approve/kw-1", data=form | {"reason": " "})
    response = await client.post("/library/approve/kw-1", data=form | {"reason": "meets 4.2"})

    assert missing.status_code == 400
    assert "A reason is required" in missing.text
    assert response.status_code == 303
    [call] = fakes.commands.library_calls
    assert (call["change"], call["entry_id"], call["reason"], call["entry"]) == (
        "approve",
        "kw-1",
        "meets 4.2",
        None,
    )
    assert call["current"] == state  # the command continues the entry's flow
    assert call["actor"].username == "bob"


async def test_only_a_proposed_entry_is_approved_and_a_disabled_one_is_not_disabled_again(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    active = fold_library(
        proposed_entry("kw-1"),
        library_event(
            "kw-1", version=2, change="approve", entry=snapshot("kw-1", status="active", updated_version=2)
        ),
    )
    disabled = proposed_entry("kw-2", status="disabled")
    fakes.library.put(active)
    fakes.library.put(disabled)
    csrf = sign_in_as(fakes, client, "bob", "operator")
    form = {"csrf_token": csrf, "request_id": str(uuid.uuid4()), "reason": "why not"}
    assert 'id="approve-form"' not in (await client.get("/library/entry/kw-1")).text
    assert (await client.post("/library/approve/kw-1", data=form)).status_code == 409
    assert 'id="disable-form"' not in (await client.get("/library/entry/kw-2")).text
    assert (await client.post("/library/disable/kw-2", data=form)).status_code == 409
    assert (await client.post("/library/disable/nope", data=form)).status_code == 404
    assert fakes.commands.library_calls == []
    assert (await client.post("/library/disable/kw-1", data=form)).status_code == 303
    assert [c["change"] for c in fakes.commands.library_calls] == ["disable"]


async def test_a_refused_change_is_shown_clearly(fakes: Fakes, client: httpx.AsyncClient) -> None:
    refused = library_event(
        "kw-1",
        version=1,
        change="approve",
        applied=False,
        entry=snapshot("kw-1"),
        actor="console:alice",
        reason="approving my own",
        refusal="four_eyes",
        refusal_detail="the proposer may not approve their own entry",
        time=NOW + timedelta(minutes=1),
    )
    fakes.library.put(fold_library(proposed_entry("kw-1"), refused))
    sign_in_as(fakes, client, "vic", "viewer")

    page = (await client.get("/library/entry/kw-1")).text
    listing = (await client.get("/library")).text

    banner = re.search(r'<div class="error refusal" role="alert" id="refusal">(.*?)</div>', page, re.S)
    assert banner
    assert "refused" in banner.group(1)
    assert "four_eyes" in banner.group(1)
    assert "the proposer may not approve their own entry" in banner.group(1)
    assert '<tr class="refused">' in page
    assert "last change refused" in listing


async def test_an_id_that_never_made_it_into_the_library(fakes: Fakes, client: httpx.AsyncClient) -> None:
    raw = library_event(
        "re-1", applied=False, refusal="entry_invalid", refusal_detail="not an RE2 regular expression"
    )
    fakes.library.put(fold_library(None, raw))
    sign_in_as(fakes, client, "bob", "operator")
    page = (await client.get("/library/entry/re-1")).text
    assert 'id="status">refused<' in page
    assert "not in the library" in page
    assert "entry_invalid" in page
    assert 'id="disable-form"' not in page


async def test_search_filters_and_refuses_unknown_choices(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.library.put(proposed_entry("kw-1", pattern="Guaranteed Returns"))
    fakes.library.put(proposed_entry("kw-2", pattern="other", category="terrorism", action="block"))
    sign_in_as(fakes, client, "vic", "viewer")

    by_text = (await client.get("/library?q=guaranteed+RETURNS")).text
    by_category = (await client.get("/library?category=terrorism&action=block")).text
    unknown = await client.get("/library?kind=checksum")

    assert "kw-1" in by_text
    assert "kw-2" not in by_text
    assert "kw-2" in by_category
    assert "kw-1" not in by_category
    assert unknown.status_code == 400
    assert "Unknown kind" in unknown.text


async def test_a_viewer_sees_the_library_but_no_action(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.library.put(proposed_entry("kw-1"))
    sign_in_as(fakes, client, "vic", "viewer")
    listing = (await client.get("/library")).text
    page = (await client.get("/library/entry/kw-1")).text
    assert "kw-1" in listing
    assert 'id="propose-link"' not in listing
    assert 'id="approve-form"' not in page
    assert 'id="disable-form"' not in page
    assert (await client.get("/library/new")).status_code == 403


def test_proposal_checks_accept_every_kind() -> None:
    base = PROPOSAL | {"entry_id": "e-1"}
    for kind, pattern, distance, expected in [
        ("keyword", "words", "", None),
        ("regex", r"democode\d{4}", "", None),
        ("sha256", "AB" * 32, "", None),
        ("phash", "de000000000000ff", "", 8),
        ("phash", "de000000000000ff", "3", 3),
    ]:
        checked = check_proposal(**base | {"kind": kind, "pattern": pattern, "max_distance": distance})
        assert isinstance(checked, Proposal), (kind, checked)
        assert checked.entry.get("max_distance") == expected
        assert checked.entry["kind"] == kind
    problems = check_proposal(**base | {"kind": "x", "category": "", "action": "", "reason": ""})
    assert isinstance(problems, list)
    assert len(problems) == 4  # every problem at once
