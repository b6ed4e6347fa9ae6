"""The thin layer: inbound events in, CloudEvents out (keys, ids, articles), and the expiry sweep."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from devtools.testing.events import cloud_event, to_bytes
from services.biometric_consent.config import ConsentSettings
from services.biometric_consent.domain.consent import IdentityFacts
from services.biometric_consent.domain.history import export_proof, verify_proof
from services.biometric_consent.domain.identity import facts_of
from services.biometric_consent.domain.state import (
    ConsentState,
    UserIdentity,
    consent_document,
    user_document,
)
from services.biometric_consent.entrypoints.app import DEFINITION
from services.biometric_consent.expiry import ExpirySweep
from services.biometric_consent.handlers import ConsentHandlers
from services.biometric_consent.ports import DueConsent
from shared.contracts import types as T
from shared.contracts.registry import spec_for
from shared.messaging.codec import Inbound, RawRecord, decode
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryPublisher
from shared.messaging.operations import Operations
from shared.messaging.routing import Outcome, every
from shared.storage.memory import InMemoryAggregateStore
from tests.unit.biometric_consent.conftest import ADULTS, ARTIFACT

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PROVIDER = "provider-test"
HANDLED = frozenset(t for types in DEFINITION.consumes.values() for t in types)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Directory:
    def __init__(self, known: Mapping[str, IdentityFacts]) -> None:
        self.known = dict(known)
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    async def identities(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, IdentityFacts]:
        self.asked.append((provider_id, tuple(user_ids)))
        return {u: self.known[u] for u in user_ids if u in self.known}


def inbound(topic: str, type_: str, data: dict[str, Any], subject: str, **kw: Any) -> Inbound[Any]:
    record = RawRecord(
        topic, 0, 0, subject.encode(), to_bytes(cloud_event(type_, data, subject=subject, **kw))
    )
    decoded = decode(record, HANDLED)
    assert isinstance(decoded, Inbound), decoded
    return decoded


def grant_event(
    consent_id: str = "c-1", envelope: dict[str, Any] | None = None, **changes: Any
) -> Inbound[Any]:
    data = {
        "consent_id": consent_id,
        "subject_id": "alice",
        "grantee_user_id": "bob",
        "biometric_types": ["face"],
        "purpose": "demo",
        "expires_at": (NOW + timedelta(days=10)).isoformat(),
        "evidence": {"method": "in_app_confirmation", "notice_version": "v1", "artifact_sha256": ARTIFACT},
        **changes,
    }
    return inbound(
        "dsgov.platform.consent", "dsgov.consent.grant-submitted", data, consent_id, **(envelope or {})
    )


def withdrawal_event(topic: str, consent_id: str = "c-1", **data: Any) -> Inbound[Any]:
    body = {"consent_id": consent_id, "subject_id": "alice", **data}
    return inbound(topic, "dsgov.consent.withdrawal-submitted", body, consent_id)


def handlers(clock: Clock | None = None, known: Mapping[str, IdentityFacts] = ADULTS) -> ConsentHandlers:
    return ConsentHandlers(Directory(known), ConsentSettings().policy(), clock or Clock())


async def test_a_grant_becomes_a_granted_event_keyed_by_consent_id_with_causation() -> None:
    h = handlers()
    event = grant_event(envelope={"correlationid": "flow-9"})
    outcome = await h.on_grant(None, event)

    [out] = outcome.events
    assert out.type == "dsgov.consent.granted"
    assert out.subject == "c-1"
    assert out.providerid == PROVIDER
    assert out.causationid == event.id
    assert out.correlationid == "flow-9"
    assert out.data["actor"] == "subject"
    assert out.data["expires_at"].startswith("2026-12-02T12:00:00")
    assert spec_for("dsgov.consent", out.type) is not None
    # deterministic: the same inbound event gives the same outbound id
    assert (await handlers().on_grant(None, event)).events[0].id == out.id


async def test_a_rejection_carries_reason_codes_and_their_articles() -> None:
    h = handlers(known={"bob": ADULTS["bob"]})
    outcome = await h.on_grant(None, grant_event(guardian_user_id="nobody"))
    [out] = outcome.events
    assert out.type == "dsgov.consent.rejected"
    assert out.data["reasons"] == ["subject_unverified", "guardian_unverified"]
    assert [(d["code"], d["article"]) for d in out.data["reason_details"]] == [
        ("subject_unverified", "DS-14.2"),
        ("guardian_unverified", "PI-31"),
    ]
    assert out.data["actor"] == "system"


async def test_the_grant_reads_subject_grantee_and_guardian_from_the_projection() -> None:
    directory = Directory(ADULTS)
    h = ConsentHandlers(directory, ConsentSettings().policy(), Clock())
    await h.on_grant(None, grant_event(guardian_user_id="guardian"))
    assert directory.asked == [(PROVIDER, ("alice", "bob", "guardian"))]


async def test_console_withdrawals_are_told_apart_by_topic_not_by_payload() -> None:
    h = handlers()
    state = (await h.on_grant(None, grant_event())).state
    actor = {"username": "ops-li", "role": "operator"}
    console = await h.on_withdrawal(
        state, withdrawal_event("dsgov.console.commands", actor=actor, reason="phoned in")
    )
    assert console.events[0].data["actor"] == "console:ops-li"
    # the same payload on the platform topic is the subject's own withdrawal
    platform = await h.on_withdrawal(
        state, withdrawal_event("dsgov.platform.consent", actor=actor, reason="phoned in")
    )
    assert platform.events[0].data["actor"] == "subject"


async def test_a_refused_withdrawal_publishes_nothing_but_is_kept() -> None:
    h = handlers()
    state = (await h.on_grant(None, grant_event())).state
    outcome = await h.on_withdrawal(state, withdrawal_event("dsgov.platform.consent", subject_id="mallory"))
    assert outcome.events == ()
    assert outcome.state is not None
    assert outcome.state.history[-1].event == "withdrawal_refused"
    assert verify_proof(export_proof(outcome.state)) == []


def identity_event(user: str, type_: str, decided_at: datetime, age_group: str = "adult") -> Inbound[Any]:
    data = {
        "user_id": user,
        "method": "id_card",
        "age_group": age_group,
        "decided_at": decided_at.isoformat(),
    }
    return inbound("dsgov.identity", type_, data, user, source="dsgov/identity-verification")


async def test_the_identity_projection_keeps_the_newest_decision() -> None:
    h = handlers()
    verified = await h.on_identity(None, identity_event("u1", "dsgov.identity.verified", NOW))
    assert verified.events == ()
    assert verified.state is not None
    assert verified.state.identity_status == "verified"
    assert verified.state.age_group == "adult"

    rejected = await h.on_identity(
        verified.state, identity_event("u1", "dsgov.identity.rejected", NOW + timedelta(minutes=1))
    )
    assert rejected.state is not None
    assert rejected.state.identity_status == "rejected"
    assert rejected.state.age_group == "unknown"

    stale = await h.on_identity(rejected.state, identity_event("u1", "dsgov.identity.verified", NOW))
    assert stale.state is None


ROUTES = {(r.spec.topic, r.spec.type): r for r in DEFINITION.routes}


def key_of(event: Inbound[Any]) -> str:
    return ROUTES[(event.record.topic, event.type)].key(event)


def test_consent_and_identity_events_fold_into_separate_documents() -> None:
    same_id = "x-1"
    assert key_of(grant_event(same_id)) == consent_document(PROVIDER, same_id) == f"consent:{PROVIDER}/x-1"
    actor = {"username": "ops-li", "role": "operator"}
    for topic in ("dsgov.platform.consent", "dsgov.console.commands"):
        withdrawal = withdrawal_event(topic, same_id, actor=actor, reason="asked")
        assert key_of(withdrawal) == f"consent:{PROVIDER}/x-1"
    user_event = identity_event(same_id, "dsgov.identity.verified", NOW)
    assert key_of(user_event) == user_document(PROVIDER, same_id) == f"user:{PROVIDER}/x-1"


def test_the_withdrawal_is_routed_from_the_platform_and_the_console() -> None:
    assert set(ROUTES) == {
        ("dsgov.platform.consent", T.CONSENT_GRANT_SUBMITTED),
        ("dsgov.platform.consent", T.CONSENT_WITHDRAWAL_SUBMITTED),
        ("dsgov.console.commands", T.CONSENT_WITHDRAWAL_SUBMITTED),
        ("dsgov.identity", T.IDENTITY_VERIFIED),
        ("dsgov.identity", T.IDENTITY_REJECTED),
    }
    assert frozenset(t for _, t in ROUTES) == HANDLED


class StoreReader:
    """The expiry query over the in-memory store's documents (what MongoConsentReader asks Mongo)."""

    def __init__(self, store: InMemoryAggregateStore) -> None:
        self.store = store

    async def due_for_expiry(self, now_ms: int, limit: int) -> list[DueConsent]:
        due = sorted(
            (doc["state"]["expires_at_ms"], doc["_id"], doc["state"]["consent_id"])
            for doc in self.store.docs.values()
            if doc["state"].get("status") == "granted" and doc["state"]["expires_at_ms"] <= now_ms
        )
        return [DueConsent(agg_id, consent_id) for _, agg_id, consent_id in due[:limit]]

    async def consent_state(self, provider_id: str, consent_id: str) -> ConsentState | None:
        doc = self.store.docs.get(consent_document(provider_id, consent_id))
        return ConsentState.model_validate(doc["state"]) if doc else None


async def granted_store(h: ConsentHandlers, days: list[int]) -> tuple[Operations, InMemoryPublisher]:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    operations = Operations(store, publisher)
    for i, d in enumerate(days):
        event = grant_event(f"c-{i}", expires_at=(NOW + timedelta(days=d)).isoformat())
        outcome = await h.on_grant(None, event)

        def seed(_: ConsentState | None, outcome: Outcome[ConsentState] = outcome) -> Outcome[ConsentState]:
            return outcome

        assert await operations.apply(consent_document(PROVIDER, f"c-{i}"), event.id, ConsentState, seed)
    return operations, publisher


async def test_the_sweep_expires_due_consents_once_through_operations() -> None:
    clock = Clock()
    h = handlers(clock)
    operations, publisher = await granted_store(h, [1, 2, 30])
    assert isinstance(operations.store, InMemoryAggregateStore)
    reader = StoreReader(operations.store)
    sweep = ExpirySweep(reader, h, operations, clock, batch=1)

    assert await sweep() == 0  # nothing due yet
    clock.now = NOW + timedelta(days=3)
    assert await sweep() == 2  # two rounds of batch=1
    expired = publisher.of_type(T.CONSENT_EXPIRED)
    assert [m.key for m in expired] == ["c-0", "c-1"]
    first = json_of(expired[0].value)
    assert first["data"]["actor"] == "system"
    assert first["data"]["occurred_at"].startswith("2026-11-23T12:00:00")
    state = await reader.consent_state(PROVIDER, "c-0")
    assert state is not None
    assert state.status == "expired"
    assert first["causationid"] == state.grant_event_id
    assert verify_proof(export_proof(state)) == []
    assert await sweep() == 0  # nothing left to expire
    # A second replica sweeping the same store publishes no second expiry (one operation id).
    again = ExpirySweep(reader, h, operations, clock)
    assert await again() == 0
    assert len(publisher.of_type(T.CONSENT_EXPIRED)) == 2


async def test_the_expiry_worker_ticks_and_stops_when_told() -> None:
    clock = Clock()
    h = handlers(clock)
    operations, publisher = await granted_store(h, [1])
    assert isinstance(operations.store, InMemoryAggregateStore)
    clock.now = NOW + timedelta(days=3)
    sweep = ExpirySweep(StoreReader(operations.store), h, operations, clock)
    expired = asyncio.Event()

    async def tick() -> None:
        if await sweep():
            expired.set()

    worker = every("consent-expiry", 0.01, tick)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.wait_for(expired.wait(), timeout=2)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
    assert [m.key for m in publisher.of_type(T.CONSENT_EXPIRED)] == ["c-0"]


def json_of(value: str) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(value)
    return parsed


MOBILE_ONLY = {**ADULTS, "alice": IdentityFacts("alice", verified=True, age_group="unknown")}


async def test_pi31_a_subject_of_unknown_age_is_rejected_without_a_guardian_or_declaration() -> None:
    outcome = await handlers(known=MOBILE_ONLY).on_grant(None, grant_event())
    [out] = outcome.events
    assert out.type == T.CONSENT_REJECTED
    assert [(d["code"], d["article"]) for d in out.data["reason_details"]] == [
        ("guardian_missing_age_unknown", "PI-31")
    ]


async def test_pi31_the_platforms_adult_declaration_on_the_grant_event_lets_the_subject_consent() -> None:
    declaration = {"method": "id_document_check", "artifact_sha256": "ef" * 32}
    outcome = await handlers(known=MOBILE_ONLY).on_grant(
        None, grant_event(subject_adult_declaration=declaration)
    )
    [out] = outcome.events
    assert out.type == T.CONSENT_GRANTED
    assert out.data["actor"] == "subject"
    assert outcome.state is not None
    assert outcome.state.grant is not None
    assert outcome.state.grant.subject_adult_declaration is not None
    assert outcome.state.grant.subject_adult_declaration.method == "id_document_check"


def test_pi31_the_unknown_age_policy_is_conservative_by_default_and_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    default = ConsentSettings().policy()
    assert default.unknown_age == "guardian_unless_declared_adult"
    assert default.adult_declaration_methods == {"id_document_check", "signed_form"}
    monkeypatch.setenv("DSGOV_CONSENT_UNKNOWN_AGE_POLICY", "guardian_required")
    monkeypatch.setenv("DSGOV_CONSENT_ADULT_DECLARATION_METHODS", " id_document_check , notarised_form ")
    configured = ConsentSettings().policy()
    assert configured.unknown_age == "guardian_required"
    assert configured.adult_declaration_methods == {"id_document_check", "notarised_form"}
    monkeypatch.setenv("DSGOV_CONSENT_UNKNOWN_AGE_POLICY", "subject_alone")
    with pytest.raises(ValidationError):  # never fail open on a mistyped policy
        ConsentSettings()


class StoreDirectory:
    """The identity projection read from the in-memory store's `user:` documents."""

    def __init__(self, store: InMemoryAggregateStore) -> None:
        self.store = store

    async def identities(self, provider_id: str, user_ids: Collection[str]) -> Mapping[str, IdentityFacts]:
        docs = (self.store.docs.get(user_document(provider_id, u)) for u in user_ids)
        return {f.user_id: f for f in (facts_of(UserIdentity.model_validate(d["state"])) for d in docs if d)}


def raw(event: Inbound[Any], offset: int) -> RawRecord:
    r = event.record
    return RawRecord(r.topic, 0, offset, r.key, r.value)


async def test_the_engine_folds_identity_and_consent_events_into_their_own_typed_documents() -> None:
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    h = ConsentHandlers(StoreDirectory(store), ConsentSettings().policy(), Clock())
    config = EngineConfig(
        service="biometric_consent", source="dsgov/biometric-consent", provider_ids=frozenset({PROVIDER})
    )
    engine = Engine(config, [r.bind(h) for r in DEFINITION.routes], store, publisher)
    identities = [identity_event(u, T.IDENTITY_VERIFIED, NOW) for u in ("alice", "bob")]
    await engine.process([raw(e, i) for i, e in enumerate(identities)])
    # a user and a consent may share an id string: their documents stay apart
    await engine.process([raw(grant_event("alice"), 10)])
    actor = {"username": "ops-li", "role": "operator"}
    await engine.process(
        [raw(withdrawal_event("dsgov.console.commands", "alice", actor=actor, reason="phoned"), 11)]
    )

    assert set(store.docs) == {
        user_document(PROVIDER, "alice"),
        user_document(PROVIDER, "bob"),
        consent_document(PROVIDER, "alice"),
    }
    user = UserIdentity.model_validate(store.docs[user_document(PROVIDER, "alice")]["state"])
    assert (user.identity_status, user.age_group) == ("verified", "adult")
    consent = ConsentState.model_validate(store.docs[consent_document(PROVIDER, "alice")]["state"])
    assert consent.status == "withdrawn"
    assert [e.event for e in consent.history] == ["granted", "withdrawn"]
    assert verify_proof(export_proof(consent)) == []
    assert [m.type for m in publisher.sent] == [T.CONSENT_GRANTED, T.CONSENT_WITHDRAWN]
    assert json_of(publisher.sent[1].value)["data"]["actor"] == "console:ops-li"
