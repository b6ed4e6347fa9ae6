"""Withdrawal on the subject's behalf: the form, the checks, and the command it becomes."""

from __future__ import annotations

import json

import httpx
import pytest

from services.console.adapters.commands import command_message
from services.console.domain.commands import withdrawal_command, withdrawal_command_id
from shared.contracts import topics
from shared.contracts.registry import spec_for
from tests.unit.console.conftest import REQUEST_ID, csrf_of, sign_in_as
from tests.unit.console.fakes import NOW, Fakes, consent_event, fold, granted_consent


async def _form(client: httpx.AsyncClient, consent_id: str = "c-1") -> dict[str, str]:
    html = (await client.get(f"/consents/view/{consent_id}")).text
    match = REQUEST_ID.search(html)
    assert match, "no withdrawal form"
    return {"csrf_token": csrf_of(html), "request_id": match.group(1)}


async def test_an_operator_withdraws_with_a_reason(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.read_model.put(granted_consent("c-1"))
    sign_in_as(fakes, client, "olga", "operator")

    response = await client.post(
        "/consents/withdraw/c-1", data=await _form(client) | {"reason": "  by phone  "}
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/consents/view/c-1?notice=withdrawal_submitted"
    [call] = fakes.commands.calls
    assert call["reason"] == "by phone"
    assert (call["actor"].username, call["actor"].role) == ("olga", "operator")
    page = await client.get(response.headers["location"])
    assert "Withdrawal submitted." in page.text


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"reason": "   "}, 400, "A reason is required"),
        ({"reason": "x" * 2001}, 400, "at most 2000"),
        ({"reason": "ok", "request_id": "not-a-uuid"}, 400, "form is incomplete"),
    ],
)
async def test_a_bad_form_sends_nothing(
    fakes: Fakes, client: httpx.AsyncClient, change: dict[str, str], status: int, message: str
) -> None:
    fakes.read_model.put(granted_consent("c-1"))
    sign_in_as(fakes, client, "olga", "operator")
    response = await client.post("/consents/withdraw/c-1", data=await _form(client) | change)
    assert response.status_code == status
    assert message in response.text
    assert fakes.commands.calls == []


async def test_only_a_granted_consent_can_be_withdrawn(fakes: Fakes, client: httpx.AsyncClient) -> None:
    state = fold(granted_consent("c-1"), consent_event("dsgov.consent.expired", "c-1"))
    assert state is not None
    fakes.read_model.put(state)
    csrf = sign_in_as(fakes, client, "olga", "operator")
    page = await client.get("/consents/view/c-1")
    assert 'id="withdraw-form"' not in page.text
    response = await client.post(
        "/consents/withdraw/c-1",
        data={"csrf_token": csrf, "reason": "x", "request_id": "5f1a3c7e-0000-4000-8000-000000000001"},
    )
    assert response.status_code == 409
    assert fakes.commands.calls == []
    unknown = await client.post(
        "/consents/withdraw/nope",
        data={"csrf_token": csrf, "reason": "x", "request_id": "5f1a3c7e-0000-4000-8000-000000000001"},
    )
    assert unknown.status_code == 404


def test_the_command_matches_the_contract_and_continues_the_consents_flow() -> None:
    consent = granted_consent("c-1")
    event = withdrawal_command(
        consent, reason="by phone", username="olga", role="operator", request_id="r-1", now=NOW
    )

    assert event.type == "dsgov.consent.withdrawal-submitted"
    assert event.subject == "c-1"
    assert event.source == "dsgov/console"
    assert event.providerid == "provider-test"
    assert event.id == withdrawal_command_id("r-1") != withdrawal_command_id("r-2")
    assert event.correlationid == "corr-c-1"
    assert event.causationid == consent["last_event_id"]
    spec = spec_for(topics.CONSOLE_COMMANDS, event.type)
    assert spec is not None
    data = spec.model.model_validate(event.data)
    assert data.model_dump(mode="json") == {
        "consent_id": "c-1",
        "subject_id": "subject-1",
        "reason": "by phone",
        "actor": {"username": "olga", "role": "operator"},
    }
    message = command_message(event)
    assert (message.topic, message.key, message.id) == ("dsgov.console.commands", "c-1", event.id)
    assert json.loads(message.value)["data"]["actor"] == {"username": "olga", "role": "operator"}


def test_only_console_commands_become_command_messages() -> None:
    from shared.contracts.envelope import CloudEvent

    event = CloudEvent.model_validate(consent_event("dsgov.consent.granted", "c-1"))
    with pytest.raises(ValueError, match="not a command"):
        command_message(event)


async def test_the_detail_page_refreshes_itself_only_while_a_recent_withdrawal_is_unconfirmed(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.read_model.put(granted_consent("c-1"))
    sign_in_as(fakes, client, "vic", "viewer")
    refresh = '<meta http-equiv="refresh" content="3; url=/consents/view/c-1">'
    assert refresh not in (await client.get("/consents/view/c-1")).text
    at_ms = int(NOW.timestamp() * 1000)
    fakes.audit.withdrawals.append(
        {
            "target": "c-1",
            "at": NOW.isoformat(),
            "at_ms": at_ms,
            "actor": {"username": "olga", "role": "operator"},
            "details": {"reason": "by phone"},
            "sent": True,
        }
    )
    assert refresh in (await client.get("/consents/view/c-1?notice=withdrawal_submitted")).text
    fakes.clock[0] = NOW.replace(minute=NOW.minute + 3)
    assert refresh not in (await client.get("/consents/view/c-1")).text
