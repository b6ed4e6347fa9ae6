"""The thin layer: inbound events in, CloudEvents out (keys, ids, articles), and the expiry worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from devtools.testing.events import cloud_event, to_bytes
from services.biometric_consent.config import ConsentSettings
from services.biometric_consent.domain.consent import IdentityFacts
from services.biometric_consent.domain.history import export_proof, verify_proof
from services.biometric_consent.entrypoints.app import DEFINITION, routes
from services.biometric_consent.expiry import ExpiryWorker
from services.biometric_consent.handlers import ConsentHandlers
from services.biometric_consent.keys import aggregate_id, consent_key, user_key
from services.biometric_consent.ports import DueConsent
from shared.contracts.registry import spec_for
from shared.messaging.codec import Inbound, RawRecord, decode
from shared.messaging.engine import Outcome
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
    assert outcome.state["history"][-1]["event"] == "withdrawal_refused"
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
    assert verified.state["identity_status"] == "verified"
    assert verified.state["age_group"] == "adult"

    rejected = await h.on_identity(
        verified.state, identity_event("u1", "dsgov.identity.rejected", NOW + timedelta(minutes=1))
    )
    assert rejected.state is not None
    assert rejected.state["identity_status"] == "rejected"
    assert rejected.state["age_group"] == "unknown"

    stale = await h.on_identity(rejected.state, identity_event("u1", "dsgov.identity.verified", NOW))
    assert stale.state is None


def test_consent_and_identity_events_fold_into_separate_documents() -> None:
    same_id = "x-1"
    assert aggregate_id(grant_event(same_id)) == consent_key(PROVIDER, same_id) == f"consent:{PROVIDER}/x-1"
    user_event = identity_event(same_id, "dsgov.identity.verified", NOW)
    assert aggregate_id(user_event) == user_key(PROVIDER, same_id) == f"user:{PROVIDER}/x-1"


def test_every_consumed_type_has_a_route() -> None:
    assert set(routes(handlers())) == HANDLED


class FakeEngine:
    """Engine.execute's contract over an in-memory dict: skip applied operations, else decide+save."""

    def __init__(self, states: dict[str, dict[str, Any]]) -> None:
        self.states = states
        self.applied: set[tuple[str, str]] = set()
        self.published: list[Any] = []

    async def execute(
        self, aggregate_id: str, operation_id: str, decide: Callable[[dict[str, Any] | None], Outcome]
    ) -> bool:
        if (aggregate_id, operation_id) in self.applied:
            return False
        outcome = decide(self.states.get(aggregate_id))
        if outcome.state is not None:
            self.states[aggregate_id] = outcome.state
        self.published += outcome.events
        self.applied.add((aggregate_id, operation_id))
        return True


class Reader:
    def __init__(self, engine: FakeEngine) -> None:
        self.engine = engine

    async def due_for_expiry(self, now_ms: int, limit: int) -> list[DueConsent]:
        due = [
            DueConsent(k, s["consent_id"])
            for k, s in self.engine.states.items()
            if s.get("status") == "granted" and s["expires_at_ms"] <= now_ms
        ]
        return due[:limit]

    async def consent_state(self, provider_id: str, consent_id: str) -> dict[str, Any] | None:
        return self.engine.states.get(consent_key(provider_id, consent_id))


async def test_the_worker_expires_due_consents_once_and_reads_the_engine_lazily() -> None:
    clock = Clock()
    h = handlers(clock)
    states: dict[str, dict[str, Any]] = {}
    for i, days in enumerate([1, 2, 30]):
        event = grant_event(f"c-{i}", expires_at=(NOW + timedelta(days=days)).isoformat())
        outcome = await h.on_grant(None, event)
        assert outcome.state is not None
        states[consent_key(PROVIDER, f"c-{i}")] = outcome.state
    engine = FakeEngine(states)
    current: list[FakeEngine | None] = [None]
    worker = ExpiryWorker(Reader(engine), h, lambda: current[0], clock, batch=1)  # type: ignore[arg-type,return-value]

    assert await worker.sweep() == 0  # no engine yet: nothing happens
    current[0] = engine
    clock.now = NOW + timedelta(days=3)
    assert await worker.sweep() == 2  # two rounds of batch=1
    assert [e.subject for e in engine.published] == ["c-0", "c-1"]
    first = engine.published[0]
    assert first.type == "dsgov.consent.expired"
    assert first.data["actor"] == "system"
    assert first.data["occurred_at"].startswith("2026-11-23T12:00:00")
    assert first.causationid == states[consent_key(PROVIDER, "c-0")]["grant_event_id"]
    assert await worker.sweep() == 0  # nothing left to expire


async def test_the_worker_loop_stops_when_told() -> None:
    engine = FakeEngine({})
    worker = ExpiryWorker(Reader(engine), handlers(), lambda: engine, Clock(), interval_s=0.01)  # type: ignore[arg-type,return-value]
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, timeout=1)
