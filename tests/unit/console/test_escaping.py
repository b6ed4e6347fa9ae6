"""User-supplied text is escaped on every page, and no script could run anyway (CSP)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

from services.console.ports import AuditEntry
from tests.unit.console.conftest import csrf_of, sign_in_as
from tests.unit.console.fakes import (
    HIT,
    NOW,
    Fakes,
    fold_library,
    granted_consent,
    library_event,
    pending_item,
    proposed_entry,
    snapshot,
)

SCRIPT = "<script>alert('xss')</script>"
ESCAPED = "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;"


async def test_a_script_in_a_purpose_id_or_reason_is_shown_as_text(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.read_model.put(
        granted_consent("c-1", purpose=SCRIPT, subject_id=f"s{SCRIPT}", evidence={"method": "signed_form"})
    )
    fakes.audit.withdrawals.append(
        {
            "target": "c-1",
            "at": NOW.isoformat(),
            "at_ms": int(NOW.timestamp() * 1000),
            "actor": {"username": "olga", "role": "operator"},
            "details": {"reason": SCRIPT},
            "sent": False,
        }
    )
    sign_in_as(fakes, client, "ada", "admin")

    pages = {
        "detail": (await client.get("/consents/view/c-1")).text,
        "list": (await client.get(f"/consents?subject=s{SCRIPT}")).text,
    }

    for name, html in pages.items():
        assert SCRIPT not in html, name
        assert "<script" not in html.lower(), name
        assert ESCAPED in html, name
    assert pages["detail"].count(ESCAPED) >= 3  # purpose, subject, the withdrawal reason (and the raw event)


async def test_the_audit_log_escapes_what_people_typed(fakes: Fakes, client: httpx.AsyncClient) -> None:
    await fakes.audit.record(
        AuditEntry("login_failed", None, NOW, client="1.2.3.4", target=SCRIPT, details={"x": SCRIPT})
    )
    sign_in_as(fakes, client, "ada", "admin")
    html = (await client.get("/audit")).text
    assert SCRIPT not in html
    assert html.count(ESCAPED) == 2


async def test_login_errors_and_the_next_parameter_are_escaped(client: httpx.AsyncClient) -> None:
    html = (await client.get('/login?next=/consents"><script>alert(1)</script>')).text
    assert "<script>alert(1)" not in html
    assert 'value="/consents&#34;&gt;&lt;script&gt;' in html


async def test_every_response_forbids_scripts_and_framing(fakes: Fakes, client: httpx.AsyncClient) -> None:
    for response in (await client.get("/login"), await client.get("/nowhere")):
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp  # falls back to default-src 'none': no script at all
        assert "'unsafe-inline'" not in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_flagged_text_and_library_fields_are_shown_as_text(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    hit = HIT | {"entry_id": f"kw{SCRIPT}", "why": SCRIPT, "category": "demo_negative"}
    fakes.reviews.put(
        pending_item(
            f"item{SCRIPT}",
            request_id=f"req{SCRIPT}",
            user_id=f"user{SCRIPT}",
            text=f"the checked text {SCRIPT}",
            hits=[hit],
        )
    )
    entry = proposed_entry(f"kw{SCRIPT}", pattern=SCRIPT, proposed_reason=SCRIPT)
    refusal = library_event(
        f"kw{SCRIPT}",
        change="approve",
        applied=False,
        entry=snapshot(f"kw{SCRIPT}", pattern=SCRIPT, proposed_reason=SCRIPT),
        reason=SCRIPT,
        refusal="four_eyes",
        refusal_detail=SCRIPT,
    )
    fakes.library.put(fold_library(entry, refusal))
    sign_in_as(fakes, client, "olga", "operator")
    pages = {
        "item": (await client.get(f"/review/item/{quote('item' + SCRIPT, safe='')}")).text,
        "queue": (await client.get("/review")).text,
        "entry": (await client.get(f"/library/entry/{quote('kw' + SCRIPT, safe='')}")).text,
        "library": (await client.get(f"/library?q={quote(SCRIPT)}")).text,
    }

    for name, html in pages.items():
        assert SCRIPT not in html, name
        assert "<script" not in html.lower(), name
        assert ESCAPED in html, name
    assert f"the checked text {ESCAPED}" in pages["item"]
    assert pages["item"].count(ESCAPED) >= 5  # id, request, user, text, hit entry and why
    assert pages["entry"].count(ESCAPED) >= 5  # id, pattern, reason, refusal detail, history reason


async def test_a_bad_proposal_is_shown_back_escaped(fakes: Fakes, client: httpx.AsyncClient) -> None:
    sign_in_as(fakes, client, "olga", "operator")
    token = csrf_of((await client.get("/library/new")).text)
    html = (
        await client.post(
            "/library/propose",
            data={"csrf_token": token, "pattern": SCRIPT, "reason": SCRIPT, "entry_id": SCRIPT, "kind": "x"},
        )
    ).text
    assert SCRIPT not in html
    assert html.count(ESCAPED) >= 2  # the pattern and the reason come back in the form, as text
