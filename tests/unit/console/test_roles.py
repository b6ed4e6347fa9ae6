"""Role matrix: every route by every role.

viewer: read (the complaints inbox too); operator: + withdraw, library changes (DS-10.2), review take
and decide (DS-10.1), rumour cases opened and closed (DS-11), resolve complaints (DS-12, GA-15);
admin: + users and audit.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute

from services.console.domain.claims import Take
from services.console.domain.roles import ROLES, Permission, allows
from services.console.ports import PendingAction
from services.console.web.app import create_app
from tests.unit.console.conftest import PASSWORD, add_user, client_for, csrf_of, sign_in_as
from tests.unit.console.fakes import NOW, granted_consent, make_fakes, pending_item, proposed_entry
from tests.unit.console.fakes_complaints import received_ticket
from tests.unit.console.rumour_fakes import open_case_state

RID = "5f1a3c7e-0000-4000-8000-000000000001"

# (method, route path) -> (a concrete path, form data that succeeds for a permitted role)
SAMPLES: dict[tuple[str, str], tuple[str, dict[str, str]]] = {
    ("GET", "/login"): ("/login", {}),
    ("POST", "/login"): ("/login", {"username": "USER", "password": PASSWORD}),
    ("POST", "/logout"): ("/logout", {}),
    ("GET", "/account"): ("/account", {}),
    ("POST", "/account/password"): (
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
    ),
    ("GET", "/"): ("/", {}),
    ("GET", "/dashboard"): ("/dashboard", {}),
    ("GET", "/consents"): ("/consents?status=granted", {}),
    ("GET", "/consents/view/{consent_id:path}"): ("/consents/view/c%2F1", {}),
    ("GET", "/consents/proof/{consent_id:path}"): ("/consents/proof/c%2F1", {}),
    ("POST", "/consents/withdraw/{consent_id:path}"): (
        "/consents/withdraw/c%2F1",
        {"reason": "the subject asked by phone", "request_id": "5f1a3c7e-0000-4000-8000-000000000001"},
    ),
    ("GET", "/users"): ("/users", {}),
    ("POST", "/users"): (
        "/users",
        {"username": "newbie", "role": "viewer", "password": "a long enough password"},
    ),
    ("POST", "/users/role/{username}"): ("/users/role/target", {"role": "operator"}),
    ("POST", "/users/status/{username}"): ("/users/status/target", {"active": "false"}),
    ("POST", "/users/password/{username}"): (
        "/users/password/target",
        {"password": "a long enough password"},
    ),
    ("POST", "/users/confirm/{username}"): ("/users/confirm/pending-op", {}),
    ("POST", "/users/cancel/{username}"): ("/users/cancel/pending-op", {}),
    ("GET", "/audit"): ("/audit?actor=ada&action=login_failed&since=2026-11-01&until=2026-11-30", {}),
    ("GET", "/library"): ("/library?status=proposed&q=kw", {}),
    ("GET", "/library/new"): ("/library/new", {}),
    ("POST", "/library/propose"): (
        "/library/propose",
        {
            "entry_id": "kw-new",
            "kind": "keyword",
            "pattern": "fraud bait",
            "category": "fraud",
            "action": "block",
            "reason": "criterion 4.2",
            "request_id": RID,
        },
    ),
    ("GET", "/library/entry/{entry_id:path}"): ("/library/entry/kw%2F1", {}),
    ("POST", "/library/approve/{entry_id:path}"): (
        "/library/approve/kw%2F1",
        {"reason": "meets criterion 4.2", "request_id": RID},
    ),
    ("POST", "/library/disable/{entry_id:path}"): (
        "/library/disable/kw%2F1",
        {"reason": "over-blocks", "request_id": RID},
    ),
    ("POST", "/library/disable-confirm/{entry_id:path}"): ("/library/disable-confirm/kw%2F1", {}),
    ("POST", "/library/disable-cancel/{entry_id:path}"): ("/library/disable-cancel/kw%2F1", {}),
    ("GET", "/review"): ("/review?status=all", {}),
    ("GET", "/review/item/{item_id:path}"): ("/review/item/item%2F1", {}),
    ("POST", "/review/take/{item_id:path}"): ("/review/take/item%2F1", {"expected_seq": "0"}),
    ("POST", "/review/decide/{item_id:path}"): (
        "/review/decide/item%2F2",
        {"decision": "approve", "reason": "harmless in context", "request_id": RID},
    ),
    ("GET", "/rumours"): ("/rumours?status=open", {}),
    ("GET", "/rumours/new"): ("/rumours/new", {}),
    ("POST", "/rumours/open"): (
        "/rumours/open",
        {
            "claim_text": "the dam has burst",
            "refutation_text": "the dam is intact",
            "severity": "high",
            "reason": "seen in our outputs",
            "request_id": RID,
        },
    ),
    ("GET", "/rumours/case/{notice_id:path}"): ("/rumours/case/n%2F1", {}),
    ("POST", "/rumours/close/{notice_id:path}"): (
        "/rumours/close/n%2F1",
        {"reason": "the claim no longer circulates", "request_id": RID},
    ),
    ("GET", "/complaints"): ("/complaints?status=open&kind=report", {}),
    ("GET", "/complaints/ticket/{complaint_id:path}"): ("/complaints/ticket/cmp%2F1", {}),
    ("POST", "/complaints/resolve/{complaint_id:path}"): (
        "/complaints/resolve/cmp%2F1",
        {
            "outcome": "upheld",
            "reason": "the content breaks DS-12 rules",
            "takedown": "on",
            "request_id": RID,
        },
    ),
}
EXPECTED: dict[tuple[str, str], Permission | None] = {
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("POST", "/logout"): Permission.READ,
    ("GET", "/account"): Permission.READ,
    ("POST", "/account/password"): Permission.READ,
    ("GET", "/"): Permission.READ,
    ("GET", "/dashboard"): Permission.READ,
    ("GET", "/consents"): Permission.READ,
    ("GET", "/consents/view/{consent_id:path}"): Permission.READ,
    ("GET", "/consents/proof/{consent_id:path}"): Permission.READ,
    ("POST", "/consents/withdraw/{consent_id:path}"): Permission.WITHDRAW,
    ("GET", "/users"): Permission.ADMINISTER,
    ("POST", "/users"): Permission.ADMINISTER,
    ("POST", "/users/role/{username}"): Permission.ADMINISTER,
    ("POST", "/users/status/{username}"): Permission.ADMINISTER,
    ("POST", "/users/password/{username}"): Permission.ADMINISTER,
    ("POST", "/users/confirm/{username}"): Permission.ADMINISTER,
    ("POST", "/users/cancel/{username}"): Permission.ADMINISTER,
    ("GET", "/audit"): Permission.ADMINISTER,
    ("GET", "/library"): Permission.READ,
    ("GET", "/library/new"): Permission.CURATE,
    ("POST", "/library/propose"): Permission.CURATE,
    ("GET", "/library/entry/{entry_id:path}"): Permission.READ,
    ("POST", "/library/approve/{entry_id:path}"): Permission.CURATE,
    ("POST", "/library/disable/{entry_id:path}"): Permission.CURATE,
    ("POST", "/library/disable-confirm/{entry_id:path}"): Permission.CURATE,
    ("POST", "/library/disable-cancel/{entry_id:path}"): Permission.CURATE,
    ("GET", "/review"): Permission.READ,
    ("GET", "/review/item/{item_id:path}"): Permission.READ,
    ("POST", "/review/take/{item_id:path}"): Permission.REVIEW,
    ("POST", "/review/decide/{item_id:path}"): Permission.REVIEW,
    ("GET", "/rumours"): Permission.READ,
    ("GET", "/rumours/new"): Permission.RUMOUR,
    ("POST", "/rumours/open"): Permission.RUMOUR,
    ("GET", "/rumours/case/{notice_id:path}"): Permission.READ,
    ("POST", "/rumours/close/{notice_id:path}"): Permission.RUMOUR,
    ("GET", "/complaints"): Permission.READ,
    ("GET", "/complaints/ticket/{complaint_id:path}"): Permission.READ,
    ("POST", "/complaints/resolve/{complaint_id:path}"): Permission.RESOLVE,
}
WHO = ("anonymous", *ROLES)


@pytest.mark.parametrize(
    ("role", "permission", "allowed"),
    [
        ("viewer", Permission.READ, True),
        ("viewer", Permission.WITHDRAW, False),
        ("viewer", Permission.ADMINISTER, False),
        ("operator", Permission.READ, True),
        ("viewer", Permission.CURATE, False),
        ("viewer", Permission.REVIEW, False),
        ("operator", Permission.WITHDRAW, True),
        ("operator", Permission.CURATE, True),
        ("operator", Permission.REVIEW, True),
        ("viewer", Permission.RUMOUR, False),
        ("operator", Permission.RUMOUR, True),
        ("admin", Permission.RUMOUR, True),
        ("operator", Permission.ADMINISTER, False),
        ("admin", Permission.READ, True),
        ("admin", Permission.WITHDRAW, True),
        ("admin", Permission.CURATE, True),
        ("admin", Permission.REVIEW, True),
        ("viewer", Permission.RESOLVE, False),
        ("operator", Permission.RESOLVE, True),
        ("admin", Permission.RESOLVE, True),
        ("admin", Permission.ADMINISTER, True),
        ("root", Permission.READ, False),
        ("", Permission.READ, False),
    ],
)
def test_allows(role: str, permission: Permission, allowed: bool) -> None:
    assert allows(role, permission) is allowed


def test_every_route_of_the_app_declares_its_permission_and_is_in_the_matrix() -> None:
    app = create_app(make_fakes().deps)
    declared = app.state.route_permissions
    routes = {(m, r.path) for r in app.routes if isinstance(r, APIRoute) for m in r.methods or ()}
    assert routes == set(declared)  # nothing was added around the guarded registration
    assert declared == EXPECTED
    assert set(SAMPLES) == set(EXPECTED)


async def _request(role: str, method: str, route: str) -> tuple[Any, Any]:
    fakes = make_fakes()
    fakes.read_model.put(granted_consent("c/1"))  # an id with a slash: URLs must still work
    fakes.library.put(proposed_entry("kw/1"))  # proposed by console:alice, whom no test signs in as
    fakes.reviews.put(pending_item("item/1"))
    fakes.reviews.put(pending_item("item/2", request_id="req-2"))
    fakes.rumours.put(open_case_state("n/1"))
    fakes.desk.all_takes.append(Take("item/2", 1, f"{role}-user", role, NOW.isoformat()))  # held by them
    fakes.complaints.put(received_ticket("cmp/1", received_at=NOW))  # a report about content
    add_user(fakes, "target", "viewer")
    add_user(fakes, "second-admin", "admin")
    # Requests waiting for a second person, by people no test signs in as.
    grant = {
        "change": "create",
        "role": "operator",
        "password_hash": fakes.users.users["target"].password_hash,
    }
    fakes.pending.actions["user:pending-op"] = PendingAction(
        "user:pending-op", "user_grant", "pending-op", "second-admin", "admin", 1, grant
    )
    fakes.pending.actions["library_disable:kw/1"] = PendingAction(
        "library_disable:kw/1",
        "library_disable",
        "kw/1",
        "alice",
        "operator",
        1,
        {"reason": "r", "request_id": RID},
    )
    path, form = SAMPLES[(method, route)]
    async with client_for(fakes) as client:
        if role == "anonymous":
            token = csrf_of((await client.get("/login")).text) if route == "/login" else ""
            add_user(fakes, "someone", "viewer")
            form = {k: ("someone" if v == "USER" else v) for k, v in form.items()}
        else:
            token = sign_in_as(fakes, client, f"{role}-user", role)
            form = {k: (f"{role}-user" if v == "USER" else v) for k, v in form.items()}
        if method == "GET":
            response = await client.get(path)
        else:
            response = await client.post(path, data={**form, "csrf_token": token})
    return response, fakes


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize(("method", "route"), list(SAMPLES))
async def test_route_by_role(who: str, method: str, route: str) -> None:
    permission = EXPECTED[(method, route)]
    response, fakes = await _request(who, method, route)

    if permission is None or (who != "anonymous" and allows(who, permission)):
        assert response.status_code in (200, 303), (who, route, response.status_code, response.text[:300])
        if response.status_code == 303:
            assert "/login" not in response.headers["location"] or route == "/logout"
        assert "Not allowed" not in response.text
    elif who == "anonymous":
        if method == "GET":
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")
        else:
            assert response.status_code == 403  # no session, so no valid CSRF token
        assert "access_denied" not in fakes.audit.actions()
    else:
        assert response.status_code == 403
        assert "Not allowed" in response.text
        assert "access_denied" in fakes.audit.actions()

    acts = who in ("operator", "admin")
    withdrew = bool(fakes.commands.calls)
    assert withdrew == (route.startswith("/consents/withdraw") and acts)
    changed_library = bool(fakes.commands.library_calls)
    sends = route.startswith("/library/") and method == "POST" and "disable-cancel" not in route
    assert changed_library == (sends and acts)
    disable_requests = {k for k in fakes.pending.actions if k.startswith("library_disable:")}
    assert disable_requests == (
        set() if route.startswith("/library/disable-") and acts else {"library_disable:kw/1"}
    )
    decided = bool(fakes.commands.review_calls)
    assert decided == (route.startswith("/review/decide") and acts)
    opened, closed = bool(fakes.rumour_commands.opened), bool(fakes.rumour_commands.closed)
    assert opened == (route == "/rumours/open" and acts)  # DS-11
    assert closed == (route.startswith("/rumours/close") and acts)
    resolved = bool(fakes.complaints.resolutions)
    assert resolved == (route.startswith("/complaints/resolve") and acts)
    took = any(t.item_id == "item/1" for t in fakes.desk.all_takes)
    assert took == (route.startswith("/review/take") and acts)
    target = fakes.users.users["target"]
    users_changed = "newbie" in fakes.users.users or target.role != "viewer" or not target.active
    users_changed |= target.password_set_by != "" or "pending-op" in fakes.users.users
    users_changed |= {k for k in fakes.pending.actions if k.startswith("user:")} != {"user:pending-op"}
    assert users_changed == (route.startswith("/users") and method == "POST" and who == "admin")


async def test_a_role_change_applies_to_the_very_next_request() -> None:
    fakes = make_fakes()
    async with client_for(fakes) as client:
        sign_in_as(fakes, client, "olga", "operator")
        fakes.read_model.put(granted_consent("c-1"))
        assert 'id="withdraw-form"' in (await client.get("/consents/view/c-1")).text
        user = fakes.users.users["olga"]
        await fakes.users.replace(
            type(user)(user.username, "viewer", user.password_hash, True, version=user.version)
        )
        page = await client.get("/consents/view/c-1")
        assert page.status_code == 200
        assert 'id="withdraw-form"' not in page.text
        await fakes.users.replace(
            type(user)(user.username, "viewer", user.password_hash, False, version=user.version + 1)
        )
        assert (await client.get("/consents/view/c-1")).status_code == 303  # disabled: back to login
