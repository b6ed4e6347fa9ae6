"""The thin layer: aggregate mapping, events out (ids, keys, articles), strikes from own decisions."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from devtools.testing.events import cloud_event, to_bytes
from services.generation_review.catalogue import Catalogues
from services.generation_review.config import DEMO_LIBRARY, ReviewSettings
from services.generation_review.domain.library import LibraryState, seed
from services.generation_review.domain.projections import ConsentState, Identity, UserState
from services.generation_review.domain.rumours import RumourState
from services.generation_review.entrypoints.app import (
    DEFINITION,
    build_handlers,
    library_readiness,
    load_seed,
    seed_library,
)
from services.generation_review.handlers import ReviewHandlers
from services.generation_review.outbound import SOURCE
from shared.messaging.codec import Inbound, RawRecord, decode
from shared.messaging.memory import InMemoryPublisher
from shared.messaging.operations import Operations
from shared.storage.memory import InMemoryAggregateStore

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PROVIDER = "provider-test"
HANDLED = frozenset(t for types in DEFINITION.consumes.values() for t in types)


class Directory:
    def __init__(self, users: Mapping[str, UserState] | None = None) -> None:
        self.known = dict(users or {})

    async def users(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, UserState]:
        return {u: self.known[u] for u in user_ids if u in self.known}

    async def consents_granted_to(
        self, provider_id: str, user_ids: Collection[str]
    ) -> Mapping[str, list[ConsentState]]:
        return {}


TERM = {"entry_id": "kw-1", "kind": "keyword", "pattern": "x-term", "category": "fraud", "action": "block"}
LIBRARY = seed(None, PROVIDER, [TERM], "system:test", NOW)[-1].state


class Source:
    """A catalogue source with one approved entry for `PROVIDER` (None: no library at all)."""

    def __init__(self, library: LibraryState | None = LIBRARY) -> None:
        self.library = library

    async def library_revision(self, provider_id: str) -> int:
        return 1 if self.library and provider_id == PROVIDER else 0

    async def library_state(self, provider_id: str) -> LibraryState | None:
        return self.library if provider_id == PROVIDER else None

    async def rumours_since(self, provider_id: str, since_ms: int) -> tuple[list[RumourState], int]:
        return [], since_ms


def inbound(topic: str, type_: str, data: dict[str, Any], subject: str, **kw: Any) -> Inbound[Any]:
    record = RawRecord(
        topic, 0, 0, subject.encode(), to_bytes(cloud_event(type_, data, subject=subject, **kw))
    )
    decoded = decode(record, HANDLED)
    assert isinstance(decoded, Inbound), decoded
    return decoded


def key_of(event: Inbound[Any]) -> str:
    """The aggregate the declared routes fold `event` into."""
    [route] = [
        r for r in DEFINITION.routes if (r.spec.topic, r.spec.type) == (event.record.topic, event.type)
    ]
    return route.key(event)


def handlers(
    users: Mapping[str, UserState] | None = None, library: LibraryState | None = LIBRARY
) -> ReviewHandlers:
    settings = ReviewSettings(severe_categories=("terrorism",))
    return build_handlers(
        settings, Directory(users), Catalogues(Source(library), settings.policy().rumours), lambda: NOW
    )


VERIFIED = {
    "alice": UserState(
        provider_id=PROVIDER,
        user_id="alice",
        identity=Identity(status="verified", decided_ms=1, event_id="e-0"),
    )
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
    assert key_of(request) == "request:provider-test/r-1"
    assert key_of(library) == "library:provider-test"
    assert key_of(identity) == "user:provider-test/alice"
    assert (
        key_of(rejected_decision()) == "user:provider-test/alice"
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
    assert out.data["library_version"] == 1  # the one-entry library
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
    assert outcome.state.provider_id == "provider-test"


# --- tenant safety: never fail open without a library (issue 10 item 6; DS-10.2, GA-14.1) -----------


def requested(request_id: str = "r-1", text: str = "hi") -> Inbound[Any]:
    data = {
        "request_id": request_id,
        "user_id": "alice",
        "service_type": "text_dialogue",
        "input": {"text": text},
    }
    return inbound("dsgov.platform.generation", "dsgov.generation.requested", data, request_id)


async def test_a_provider_without_an_approved_library_holds_requests_for_review_library_empty() -> None:
    outcome = await handlers(VERIFIED, library=None).on_requested(None, requested())
    [queued] = outcome.events
    assert queued.type == "dsgov.review.queued"
    assert [(r["code"], r["article"]) for r in queued.data["reasons"]] == [("library_empty", "DS-10.2")]
    assert queued.data["library_version"] == 0
    assert outcome.state is not None
    assert outcome.state.status == "in_review"
    assert outcome.state.decisions[-1].reasons == ("library_empty",)


async def test_a_library_of_only_proposed_or_disabled_entries_is_empty_too() -> None:
    disabled = LIBRARY.model_copy(
        update={
            "entries": {k: e.model_copy(update={"status": "disabled"}) for k, e in LIBRARY.entries.items()}
        }
    )
    outcome = await handlers(VERIFIED, library=disabled).on_requested(None, requested())
    assert [e.type for e in outcome.events] == ["dsgov.review.queued"]


async def test_outputs_are_held_too_and_blocking_checks_still_block_without_a_library() -> None:
    approved = (await handlers(VERIFIED).on_requested(None, requested())).state
    assert approved is not None
    assert approved.status == "approved"
    done = inbound(
        "dsgov.platform.generation",
        "dsgov.generation.completed",
        {"request_id": "r-1", "content_id": "c-1", "output": {"text": "out"}},
        "r-1",
    )
    held = await handlers(VERIFIED, library=None).on_completed(approved, done)
    [queued] = held.events
    assert (queued.type, queued.data["stage"], queued.data["reasons"][0]["code"]) == (
        "dsgov.review.queued",
        "output",
        "library_empty",
    )
    assert held.state is not None
    assert held.state.outputs == {"c-1": "in_review"}
    unverified = await handlers({}, library=None).on_requested(None, requested())
    assert [e.type for e in unverified.events] == ["dsgov.generation.rejected"]  # gates come first


async def test_a_reviewer_rejecting_a_held_item_strikes_without_inventing_a_category() -> None:
    held = (await handlers(VERIFIED, library=None).on_requested(None, requested())).state
    assert held is not None
    [item_id] = held.items
    command = inbound(
        "dsgov.console.commands",
        "dsgov.review.decision-submitted",
        {
            "item_id": item_id,
            "request_id": "r-1",
            "decision": "reject",
            "reason": "not allowed",
            "actor": {"username": "rita", "role": "operator"},
        },
        "r-1",
    )
    final, resolved = (await handlers(VERIFIED, library=None).on_review_decision(held, command)).events
    assert (final.type, final.data["strike"]) == ("dsgov.generation.rejected", True)
    assert final.data.get("violation_category") is None  # the strike counts as `unspecified`
    assert resolved.type == "dsgov.review.resolved"


async def test_readiness_names_each_served_provider_without_an_approved_library() -> None:
    catalogues = Catalogues(Source(), ReviewSettings().policy().rumours)
    assert await library_readiness(catalogues, [PROVIDER])() is None
    reason = await library_readiness(catalogues, ["provider-other", PROVIDER])()
    assert reason is not None
    assert reason.startswith("provider provider-other has no approved feature library")


async def test_the_demo_library_is_seeded_once_per_provider_through_the_shared_save_step() -> None:
    publisher = InMemoryPublisher()
    operations = Operations(InMemoryAggregateStore(), publisher)
    _, entries = load_seed(DEMO_LIBRARY)
    assert await seed_library(operations, "p-1", DEMO_LIBRARY, NOW) == len(entries)
    assert await seed_library(operations, "p-2", DEMO_LIBRARY, NOW) == len(entries)
    assert await seed_library(operations, "p-1", DEMO_LIBRARY, NOW) == 0  # applied once
    updates = publisher.of_type("dsgov.library.updated")
    assert len(updates) == 2 * len(entries)
    assert len({m.id for m in updates}) == len(updates)  # ids stay unique per tenant
    stored = (await operations.store.load("library:p-2")).typed(LibraryState)
    assert stored is not None
    assert (stored.provider_id, stored.version) == ("p-2", len(entries))


# --- issue 14 corrections 3, 5 and 6 through the contract ------------------------------------------


async def test_ds_10_1_ds_15_1_decision_events_and_records_carry_the_model_the_platform_names() -> None:
    data = {
        "request_id": "r-1",
        "user_id": "alice",
        "service_type": "text_dialogue",
        "input": {"text": "hi"},
        "model": {"id": "qwen-vl", "version": "2.5.1"},
    }
    event = inbound("dsgov.platform.generation", "dsgov.generation.requested", data, "r-1")
    outcome = await handlers(VERIFIED).on_requested(None, event)
    [out] = outcome.events
    assert out.data["model"] == {"id": "qwen-vl", "version": "2.5.1"}
    assert outcome.state is not None
    assert outcome.state.decisions[-1].model is not None
    assert outcome.state.decisions[-1].model.version == "2.5.1"
    done = inbound(
        "dsgov.platform.generation",
        "dsgov.generation.completed",
        {"request_id": "r-1", "content_id": "c-1", "output": {"text": "out"}},
        "r-1",
    )
    [output] = (await handlers(VERIFIED).on_completed(outcome.state, done)).events
    assert output.data["model"] == {"id": "qwen-vl", "version": "2.5.1"}  # the request's model


async def test_ds_14_2_input_media_marked_as_depicting_a_person_needs_subjects() -> None:
    media = [{"media_id": "m", "kind": "image", "sha256": "ab" * 32, "depicts_person": True}]
    data = {
        "request_id": "r-1",
        "user_id": "alice",
        "service_type": "image_editing",
        "input": {"media": media},
    }
    event = inbound("dsgov.platform.generation", "dsgov.generation.requested", data, "r-1")
    [out] = (await handlers(VERIFIED).on_requested(None, event)).events
    assert [(r["code"], r["article"]) for r in out.data["reasons"]] == [
        ("biometric_subject_undeclared", "DS-14.2")
    ]


async def test_ga_10_the_identity_age_group_is_projected_and_minors_are_refused_digital_humans() -> None:
    identity = inbound(
        "dsgov.identity",
        "dsgov.identity.verified",
        {"user_id": "alice", "method": "id_card", "age_group": "14_to_17", "decided_at": NOW.isoformat()},
        "alice",
    )
    user = (await handlers().on_identity(None, identity)).state
    assert user is not None
    assert user.identity is not None
    assert user.identity.age_group == "14_to_17"
    data = {"request_id": "r-1", "user_id": "alice", "service_type": "digital_human", "input": {"text": "hi"}}
    event = inbound("dsgov.platform.generation", "dsgov.generation.requested", data, "r-1")
    [out] = (await handlers({"alice": user}).on_requested(None, event)).events
    assert [(r["code"], r["article"]) for r in out.data["reasons"]] == [("minor_restricted", "GA-10")]
    [ok] = (await handlers({"alice": user}).on_requested(None, requested())).events
    assert ok.type == "dsgov.generation.approved"  # text_dialogue is not restricted by default


def test_ga_10_and_ds_14_2_lists_come_from_the_settings() -> None:
    settings = ReviewSettings(
        minor_restricted=("digital_human", "text_dialogue"),
        subjects_required_for=("voice_synthesis",),
        minor_restricted_unknown_age=True,
    )
    gates = settings.policy().gates
    assert gates.minor_restricted == {"digital_human", "text_dialogue"}
    assert gates.subjects_required == {"voice_synthesis"}
    assert gates.unknown_age_restricted is True
    assert settings.policy().rule_set_version != ReviewSettings().policy().rule_set_version
    defaults = ReviewSettings().policy().gates
    assert defaults.minor_restricted == {"digital_human"}
    assert defaults.subjects_required == {
        "face_swap",
        "face_manipulation",
        "pose_manipulation",
        "voice_cloning",
        "voice_conversion",
    }
