"""The human review queue (DS-10.1): the queue, the item page, take, take over, decide."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx

from services.console.domain.claims import Take
from tests.unit.console.conftest import client_for, csrf_of, sign_in_as
from tests.unit.console.fakes import NOW, Fakes, pending_item, proposed_entry, resolved_item


def _form(html: str, form: str, field: str) -> dict[str, str]:
    match = re.search(rf'id="{form}".*?name="{field}" value="([^"]*)"', html, re.S)
    assert match, f"no {form}"
    return {"csrf_token": csrf_of(html), field: match.group(1)}


async def _take(client: httpx.AsyncClient, item_id: str = "item-1") -> httpx.Response:
    page = (await client.get(f"/review/item/{item_id}")).text
    return await client.post(f"/review/take/{item_id}", data=_form(page, "take-form", "expected_seq"))


async def _decide(
    client: httpx.AsyncClient, decision: str, reason: str, item_id: str = "item-1"
) -> httpx.Response:
    page = (await client.get(f"/review/item/{item_id}")).text
    form = _form(page, "decide-form", "request_id") | {"decision": decision, "reason": reason}
    return await client.post(f"/review/decide/{item_id}", data=form)


async def test_the_queue_lists_pending_items_first_oldest_first(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.reviews.put(
        pending_item("new", request_id="r-new", queued_at=(NOW + timedelta(hours=1)).isoformat())
    )
    fakes.reviews.put(
        pending_item("old", request_id="r-old", queued_at=(NOW - timedelta(hours=1)).isoformat())
    )
    fakes.reviews.put(resolved_item("done", request_id="r-done"))
    fakes.desk.all_takes.append(Take("old", 1, "olga", "operator", NOW.isoformat()))
    sign_in_as(fakes, client, "vic", "viewer")

    pending = (await client.get("/review")).text
    everything = (await client.get("/review?status=all")).text

    assert pending.index("r-old") < pending.index("r-new")
    assert "r-done" not in pending
    assert everything.index("r-new") < everything.index("r-done")
    assert re.search(r"r-old</td>.*?olga <span", pending, re.S)  # who holds it
    assert (await client.get("/review?status=bogus")).status_code == 400


async def test_the_item_shows_why_it_was_flagged(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.reviews.put(pending_item("item-1"))
    sign_in_as(fakes, client, "vic", "viewer")
    page = (await client.get("/review/item/item-1")).text
    hits = re.search(r'<table id="hits">(.*?)</table>', page, re.S)
    assert hits
    for shown in (
        "demo-kw-review",
        "keyword",
        "demo_negative",
        "review",
        "negative information a person must",
    ):
        assert shown in hits.group(1)
    assert 'href="/library/entry/demo-kw-review"' in hits.group(1)
    assert '<pre class="checked" id="checked-text">please write about demo-review-term</pre>' in page
    assert 'id="status">pending<' in page
    assert 'id="take-form"' not in page  # a viewer reads but cannot act
    assert 'id="decide-form"' not in page


async def test_a_reviewer_takes_the_item_and_decides_it(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.reviews.put(pending_item("item-1"))
    sign_in_as(fakes, client, "olga", "operator")
    assert 'id="decide-form"' not in (await client.get("/review/item/item-1")).text  # take it first

    taken = await _take(client)
    missing = await _decide(client, "approve", "   ")
    decided = await _decide(client, "approve", "harmless in context")

    assert taken.headers["location"] == "/review/item/item-1?notice=taken"
    assert missing.status_code == 400
    assert decided.status_code == 303
    assert decided.headers["location"] == "/review/item/item-1?notice=decision_submitted"
    [call] = fakes.commands.review_calls
    assert (call["item_id"], call["decision"], call["reason"]) == ("item-1", "approve", "harmless in context")
    assert (call["actor"].username, call["actor"].role) == ("olga", "operator")
    page = (await client.get(decided.headers["location"])).text
    assert 'id="status">decision sent<' in page
    assert '<meta http-equiv="refresh" content="3; url=/review/item/item-1">' in page
    assert 'id="decide-form"' not in page

    fakes.reviews.put(resolved_item("item-1"))
    resolved = (await client.get("/review/item/item-1")).text
    assert 'id="status">resolved<' in resolved
    assert 'id="outcome">dsgov.generation.approved<' in resolved
    assert "olga (operator)" in resolved
    assert "http-equiv" not in resolved


async def test_a_second_reviewer_sees_who_holds_it_and_must_take_it_over(fakes: Fakes) -> None:
    fakes.reviews.put(pending_item("item-1"))
    async with client_for(fakes) as olga, client_for(fakes) as bob:
        sign_in_as(fakes, olga, "olga", "operator")
        sign_in_as(fakes, bob, "bob", "operator")
        await _take(olga)

        page = (await bob.get("/review/item/item-1")).text
        assert "Taken by <strong>olga</strong> (operator)" in page
        assert "Take over from olga" in page
        assert 'id="decide-form"' not in page
        csrf = csrf_of(page)
        refused = await bob.post(
            "/review/decide/item-1",
            data={"csrf_token": csrf, "decision": "reject", "reason": "no", "request_id": str(uuid.uuid4())},
        )
        assert refused.status_code == 409
        assert "olga holds this item" in refused.text
        assert fakes.commands.review_calls == []

        assert (await _take(bob)).status_code == 303  # explicit take-over
        over = (await bob.get("/review/item/item-1")).text
        assert "taken over from olga" in over
        assert (await _decide(bob, "reject", "clearly negative")).status_code == 303
        olga_page = (await olga.get("/review/item/item-1")).text
        assert "Taken by <strong>bob</strong>" in olga_page
        assert [c["actor"].username for c in fakes.commands.review_calls] == ["bob"]


async def test_a_take_based_on_a_stale_page_or_lost_to_a_rival_is_refused(fakes: Fakes) -> None:
    fakes.reviews.put(pending_item("item-1"))
    async with client_for(fakes) as olga, client_for(fakes) as bob:
        sign_in_as(fakes, olga, "olga", "operator")
        sign_in_as(fakes, bob, "bob", "operator")
        stale = _form((await bob.get("/review/item/item-1")).text, "take-form", "expected_seq")
        await _take(olga)
        refused = await bob.post("/review/take/item-1", data=stale)
        assert refused.status_code == 409
        assert "now held by olga (operator)" in refused.text

        fakes.reviews.put(pending_item("item-2", request_id="r-2"))
        fakes.desk.rival = Take("", 0, "carl", "admin", NOW.isoformat())  # carl wins the race
        lost = await _take(bob, "item-2")
        assert lost.status_code == 409
        assert "carl (admin) took this item just before you" in lost.text


async def test_one_decision_per_item_from_the_console(fakes: Fakes, client: httpx.AsyncClient) -> None:
    fakes.reviews.put(pending_item("item-1"))
    sign_in_as(fakes, client, "olga", "operator")
    await _take(client)
    page = (await client.get("/review/item/item-1")).text
    form = _form(page, "decide-form", "request_id")
    first = await client.post("/review/decide/item-1", data=form | {"decision": "approve", "reason": "ok"})
    again = await client.post("/review/decide/item-1", data=form | {"decision": "approve", "reason": "ok"})
    other = await client.post(
        "/review/decide/item-1",
        data=form | {"decision": "reject", "reason": "changed my mind", "request_id": str(uuid.uuid4())},
    )
    assert first.headers["location"].endswith("notice=decision_submitted")
    assert again.headers["location"].endswith("notice=decision_duplicate")
    assert other.status_code == 409
    assert "already sent by olga" in other.text
    assert len(fakes.commands.review_calls) == 1


async def test_a_resolved_item_offers_nothing_and_explains_a_refused_approval(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    # The reviewer approved, but the gates failed on the re-check.
    fakes.reviews.put(resolved_item("item-1", outcome_type="dsgov.generation.rejected"))
    csrf = sign_in_as(fakes, client, "olga", "operator")
    page = (await client.get("/review/item/item-1")).text
    assert 'id="take-form"' not in page
    assert 'id="decide-form"' not in page
    assert "checked identity, sanctions and consents again and refused" in page
    late = await client.post("/review/take/item-1", data={"csrf_token": csrf, "expected_seq": "0"})
    assert late.status_code == 409
    assert "already resolved" in late.text
    assert (await client.get("/review/item/unknown")).status_code == 404


async def test_the_dashboard_counts_the_queue_and_the_library(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    fakes.reviews.put(pending_item("item-1"))
    fakes.reviews.put(pending_item("item-2", request_id="r-2"))
    fakes.library.put(proposed_entry("kw-1"))
    sign_in_as(fakes, client, "vic", "viewer")
    html = (await client.get("/dashboard")).text

    def count(which: str) -> int:
        match = re.search(rf'id="count-{which}">\s*<div class="n">(\d+)</div>', html)
        assert match, which
        return int(match.group(1))

    assert count("review-pending") == 2
    assert count("library-proposed") == 1
    assert count("library-active") == 0
    assert count("library-version") == 1
    assert count("decisions-generation_approved") == 0
