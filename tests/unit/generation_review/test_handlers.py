"""The thin layer: aggregate mapping, events out (ids, keys, articles), strikes from own decisions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from devtools.testing.events import cloud_event, to_bytes
from services.generation_review.catalogue import Catalogues
from services.generation_review.config import ReviewSettings
from services.generation_review.entrypoints.app import DEFINITION, build_handlers
from services.generation_review.handlers import SOURCE, ReviewHandlers
from services.generation_review.keys import aggregate_id
from shared.messaging.codec import Inbound, RawRecord, decode

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HANDLED = frozenset(t for types in DEFINITION.consumes.values() for t in types)


class Directory:
    def __init__(self, users: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.known = dict(users or {})

    async def users(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, Mapping[str, Any]]:
        return {u: self.known[u] for u in user_ids if u in self.known}

    async def consents_granted_to(
        self, provider_id: str, user_ids: Collection[str]
    ) -> Mapping[str, list[Mapping[str, Any]]]:
        return {}


class EmptySource:
    async def library_revision(self, provider_id: str) -> int:
        return 0

    async def library_state(self, provider_id: str) -> Mapping[str, Any] | None:
        return None

    async def rumours_since(self, provider_id: str, since_ms: int) -> tuple[list[Mapping[str, Any]], int]:
        return [], since_ms


def inbound(topic: str, type_: str, data: dict[str, Any], subject: str, **kw: Any) -> Inbound[Any]:
    record = RawRecord(
        topic, 0, 0, subject.encode(), to_bytes(cloud_event(type_, data, subject=subject, **kw))
    )
    decoded = decode(record, HANDLED)
    assert isinstance(decoded, Inbound), decoded
    return decoded


def handlers(users: Mapping[str, Mapping[str, Any]] | None = None) -> ReviewHandlers:
    settings = ReviewSettings(severe_categories=("terrorism",))
    return build_handlers(
        settings, Directory(users), Catalogues(EmptySource(), settings.policy().rumours), lambda: NOW
    )


VERIFIED = {
    "alice": {"kind": "user", "user_id": "alice", "identity": {"status": "verified", "decided_ms": 1}}
}


def rejected_decision(strike: bool = True, source: str = SOURCE, category: str = "fraud") -> Inbound[Any]:
    data = {
        "request_id": "r-1",
        "user_id": "alice",
        "decision_id": "d-1",
        "strike": strike,
        "violation_category": category,
        "decided_at": NOW.isoformat(),
        "reasons": [{"code": "prohibited_content", "article": "DS-10.2"}],
    }
    return inbound("dsgov.review", "dsgov.generation.rejected", data, "r-1", source=source)


def test_events_fold_into_the_right_documents() -> None:
    request = inbound(
        "dsgov.platform.generation",
        "dsgov.generation.requested",
        {"request_id": "r-1", "user_id": "alice", "service_type": "other", "input": {}},
        "r-1",
    )
    library = inbound(
        "dsgov.console.commands",
        "dsgov.library.change-submitted",
        {"change": "disable", "entry_id": "e-1", "reason": "x", "actor": {"username": "a", "role": "admin"}},
        "e-1",
    )
    identity = inbound(
        "dsgov.identity", "dsgov.identity.verified", {"user_id": "alice", "method": "mobile"}, "alice"
    )
    assert aggregate_id(request) == "request:provider-test/r-1"
    assert aggregate_id(library) == "library:provider-test"
    assert aggregate_id(identity) == "user:provider-test/alice"
    assert (
        aggregate_id(rejected_decision()) == "user:provider-test/alice"
    )  # subject is the request, fold is the user


async def test_an_approved_request_yields_one_keyed_event_with_stable_ids() -> None:
    event = inbound(
        "dsgov.platform.generation",
        "dsgov.generation.requested",
        {"request_id": "r-1", "user_id": "alice", "service_type": "voice_synthesis", "input": {"text": "hi"}},
        "r-1",
    )
    first = await handlers(VERIFIED).on_requested(None, event)
    second = await handlers(VERIFIED).on_requested(None, event)
    [out] = first.events
    assert (out.type, out.subject, out.source, out.causationid) == (
        "dsgov.generation.approved",
        "r-1",
        SOURCE,
        event.id,
    )
    assert out.data["label_required"] is True
    assert out.data["library_version"] == 0
    assert out.id == second.events[0].id  # a reprocessed event yields identical ids
    assert out.data["decision_id"] == second.events[0].data["decision_id"]


async def test_an_unverified_request_cites_ds_9() -> None:
    event = inbound(
        "dsgov.platform.generation",
        "dsgov.generation.requested",
        {"request_id": "r-1", "user_id": "bob", "service_type": "other", "input": {}},
        "r-1",
    )
    [out] = (await handlers(VERIFIED).on_requested(None, event)).events
    assert out.data["reasons"][0]["code"] == "identity_unverified"
    assert out.data["reasons"][0]["article"] == "DS-9"


async def test_a_strike_from_an_own_decision_publishes_the_sanction_keyed_by_user() -> None:
    outcome = await handlers().on_own_decision(None, rejected_decision())
    [sanction] = outcome.events
    assert (sanction.type, sanction.subject) == ("dsgov.user.sanctioned", "alice")
    assert (sanction.data["level"], sanction.data["strikes"], sanction.data["decision_id"]) == (
        "warning",
        1,
        "d-1",
    )
    assert outcome.state is not None
    again = await handlers().on_own_decision(outcome.state, rejected_decision())
    assert again.state is None  # the same decision never counts twice
    assert not again.events


async def test_only_own_strike_decisions_count() -> None:
    assert not (await handlers().on_own_decision(None, rejected_decision(strike=False))).events
    assert not (await handlers().on_own_decision(None, rejected_decision(source="platform/evil"))).events
    severe = await handlers().on_own_decision(None, rejected_decision(category="terrorism"))
    assert severe.events[0].data["level"] == "closed"


async def test_a_library_command_is_answered_with_library_updated() -> None:
    propose = inbound(
        "dsgov.console.commands",
        "dsgov.library.change-submitted",
        {
            "change": "propose",
            "entry_id": "e-1",
            "reason": "criterion",
            "entry": {"kind": "keyword", "pattern": "x-term", "category": "fraud"},
            "actor": {"username": "alice", "role": "operator"},
        },
        "e-1",
    )
    outcome = await handlers().on_library_change(None, propose)
    [event] = outcome.events
    assert (event.type, event.subject, event.causationid) == ("dsgov.library.updated", "e-1", propose.id)
    assert event.data["entry"]["status"] == "proposed"
    assert event.data["actor"] == "console:alice"
    assert "history" not in event.data["entry"]
    assert outcome.state is not None
    assert outcome.state["provider_id"] == "provider-test"
