"""User-supplied text is escaped on every page, and no script could run anyway (CSP)."""

from __future__ import annotations

import httpx

from services.console.ports import AuditEntry
from tests.unit.console.conftest import sign_in_as
from tests.unit.console.fakes import NOW, Fakes, granted_consent

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
