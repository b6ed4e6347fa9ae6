"""The complaints inbox pages (DS-12, GA-15, PI-50; appeals DS-10.3, GA-14.2): roles, CSRF, the resolve form.

Viewers read the inbox and the tickets but get no form and a 403 for a forged one; operators and
admins resolve with a reason; every POST needs the session's CSRF token.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from services.console.domain.complaints_view import SanctionStep, UserSanctionsView
from tests.unit.console.conftest import csrf_of, sign_in_as
from tests.unit.console.fakes import NOW, Fakes, pending_item
from tests.unit.console.fakes_complaints import PROVIDER, received_ticket


def _resolve_form(html: str, **fields: str) -> dict[str, str]:
    match = re.search(r'id="resolve-form".*?name="request_id" value="([^"]*)"', html, re.S)
    assert match, "no resolve form"
    return {"csrf_token": csrf_of(html), "request_id": match.group(1)} | fields


async def _resolve(client: httpx.AsyncClient, complaint_id: str, **fields: str) -> httpx.Response:
    page = (await client.get(f"/complaints/ticket/{complaint_id}")).text
    return await client.post(f"/complaints/resolve/{complaint_id}", data=_resolve_form(page, **fields))


def _rows(html: str) -> list[str]:
    return re.findall(r'<tr class="ticket" data-id="([^"]+)"', html)


async def test_the_inbox_lists_overdue_tickets_first_then_by_due_date_and_filters_by_kind(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.complaints.put(received_ticket("due-later", received_at=NOW, due_days=9))
    fakes.complaints.put(received_ticket("due-soon", received_at=NOW, due_days=2))
    fakes.complaints.put(received_ticket("overdue", received_at=NOW, due_days=20, overdue=True))
    fakes.complaints.put(
        received_ticket("an-appeal", kind="appeal", target=("sanction", "s"), received_at=NOW)
    )
    done = received_ticket("done", received_at=NOW)
    fakes.complaints.put(
        done | {"status": "resolved", "inbox_key": done["inbox_key"].replace("|open|", "|resolved|")}
    )
    sign_in_as(fakes, client, "vic", "viewer")

    inbox = (await client.get("/complaints")).text
    reports = (await client.get("/complaints?kind=report")).text
    resolved = (await client.get("/complaints?status=resolved")).text

    assert _rows(inbox) == ["overdue", "due-soon", "due-later", "an-appeal"]
    assert 'data-id="overdue"' in inbox
    assert re.search(r'data-id="overdue".*?badge rejected overdue">overdue<', inbox, re.S)
    assert "an-appeal" not in reports
    assert _rows(reports)[0] == "overdue"
    assert _rows(resolved) == ["done"]
    assert (await client.get("/complaints?kind=bogus")).status_code == 400
    assert (await client.get("/complaints?status=bogus")).status_code == 400
    assert 'href="/complaints"' in (await client.get("/dashboard")).text  # nav and dashboard link


async def test_a_viewer_reads_a_ticket_but_gets_no_form_and_a_forged_one_is_refused(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.complaints.put(received_ticket("cmp-1", received_at=NOW))
    csrf = sign_in_as(fakes, client, "vic", "viewer")

    page = await client.get("/complaints/ticket/cmp-1")
    forged = await client.post(
        "/complaints/resolve/cmp-1",
        data={
            "csrf_token": csrf,
            "outcome": "upheld",
            "reason": "x",
            "request_id": "5f1a3c7e-0000-4000-8000-00000000000a",
        },
    )

    assert page.status_code == 200
    assert 'id="resolve-form"' not in page.text
    assert "your role reads only" in page.text
    assert forged.status_code == 403
    assert "access_denied" in fakes.audit.actions()
    assert fakes.complaints.resolutions == []


async def test_a_resolution_without_the_sessions_csrf_token_is_refused_and_audited(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.complaints.put(received_ticket("cmp-1", received_at=NOW))
    sign_in_as(fakes, client, "olga", "operator")
    page = (await client.get("/complaints/ticket/cmp-1")).text
    form = _resolve_form(page, outcome="upheld", reason="illegal content")

    missing = await client.post(
        "/complaints/resolve/cmp-1", data={k: v for k, v in form.items() if k != "csrf_token"}
    )
    wrong = await client.post("/complaints/resolve/cmp-1", data=form | {"csrf_token": "not-the-token"})

    assert (missing.status_code, wrong.status_code) == (403, 403)
    assert fakes.audit.actions().count("csrf_rejected") == 2
    assert fakes.complaints.resolutions == []


async def test_an_operator_resolves_a_report_with_a_takedown_and_the_ticket_shows_it_was_sent(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.complaints.put(received_ticket("cmp/1", target=("content", "content-9"), received_at=NOW))
    sign_in_as(fakes, client, "olga", "operator")

    no_reason = await _resolve(client, "cmp%2F1", outcome="upheld", reason="  ", takedown="on")
    lift = await _resolve(client, "cmp%2F1", outcome="upheld", reason="r", lift_sanction="on")
    done = await _resolve(client, "cmp%2F1", outcome="upheld", reason="illegal content", takedown="on")

    assert no_reason.status_code == 400
    assert "A reason is required" in no_reason.text
    assert lift.status_code == 400
    assert done.status_code == 303
    assert done.headers["location"] == "/complaints/ticket/cmp%2F1?notice=resolution_submitted"
    [call] = fakes.complaints.resolutions
    assert call["complaint_id"] == "cmp/1"
    assert (call["resolution"].outcome, call["resolution"].reason) == ("upheld", "illegal content")
    assert [(a.type, a.content_id) for a in call["resolution"].actions] == [("takedown", "content-9")]
    assert (call["actor"].username, call["actor"].role) == ("olga", "operator")
    page = (await client.get(done.headers["location"])).text
    assert 'id="status">resolution sent<' in page
    assert 'id="resolve-form"' not in page
    assert '<meta http-equiv="refresh"' in page


async def test_a_second_resolution_of_the_same_ticket_is_refused(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.complaints.put(received_ticket("cmp-1", received_at=NOW))
    sign_in_as(fakes, client, "olga", "operator")
    first_page = (await client.get("/complaints/ticket/cmp-1")).text
    second_page = (
        await client.get("/complaints/ticket/cmp-1")
    ).text  # another tab, before the first was sent

    first = await client.post(
        "/complaints/resolve/cmp-1", data=_resolve_form(first_page, outcome="rejected", reason="no")
    )
    rival = await client.post(
        "/complaints/resolve/cmp-1", data=_resolve_form(second_page, outcome="upheld", reason="y")
    )

    assert first.status_code == 303
    assert rival.status_code == 409
    assert "already sent by olga" in rival.text
    assert len(fakes.complaints.resolutions) == 1


async def test_an_appeal_shows_the_appellants_sanctions_and_offers_the_lift(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    appeal = received_ticket(
        "cmp-a", kind="appeal", target=("sanction", "s-1"), complainant="u-7", received_at=NOW
    )
    fakes.complaints.put(appeal)
    step = SanctionStep(event_id="e1", type="sanctioned", at=NOW.isoformat(), level="restricted", strikes=3)
    view = UserSanctionsView(provider_id=PROVIDER, user_id="u-7", level="restricted", steps=(step,))
    fakes.complaints.sanction_views["u-7"] = view.model_dump()
    sign_in_as(fakes, client, "ada", "admin")

    page = (await client.get("/complaints/ticket/cmp-a")).text
    lifted = await _resolve(
        client, "cmp-a", outcome="upheld", reason="false positive", lift_sanction="on", level_after="warning"
    )

    assert 'id="sanction-level">restricted<' in page
    assert re.search(r'<table id="sanctions">.*?sanctioned.*?restricted.*?3 strikes', page, re.S)
    assert 'id="lift"' in page
    assert 'id="takedown"' not in page
    assert lifted.status_code == 303
    [call] = fakes.complaints.resolutions
    assert [(a.type, a.user_id, a.level_after) for a in call["resolution"].actions] == [
        ("lift_sanction", "u-7", "warning")
    ]


async def test_a_complaint_about_a_generation_shows_the_review_decisions_the_console_knows(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    ticket = received_ticket("cmp-g", kind="complaint", target=("generation", "req-42"), received_at=NOW)
    fakes.complaints.put(ticket)
    fakes.complaints.items.append(pending_item("item-42", request_id="req-42"))
    fakes.clock[0] = NOW + timedelta(days=30)  # past the deadline, not flagged yet
    sign_in_as(fakes, client, "vic", "viewer")

    page = (await client.get("/complaints/ticket/cmp-g")).text

    assert re.search(r'<table id="review-items">.*?href="/review/item/item-42"', page, re.S)
    assert 'id="overdue">past due<' in page
    assert (await client.get("/complaints/ticket/nope")).status_code == 404
