"""One cross-service flow, run in memory and on the embedded servers: a consent withdrawn in
`biometric_consent` makes `generation_review` reject the next face swap (DS-14.2, PI-15).

The scenario is written once against a `Flow` (send an event; wait for one; wait until a service
has taken something in). `MemoryFlow` runs both services' engines on the in-memory store and bus in
milliseconds; `EmbeddedFlow` runs both services as real processes on the embedded broker and store.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from devtools.testing.embedded import TEST_SECRET, EmbeddedStack
from devtools.testing.events import cloud_event, to_bytes, unique
from devtools.testing.harness import ServiceHarness
from services.biometric_consent.config import ConsentSettings
from services.biometric_consent.domain.consent import IdentityFacts
from services.biometric_consent.domain.identity import facts_of
from services.biometric_consent.domain.state import UserIdentity, user_document
from services.biometric_consent.entrypoints.app import DEFINITION as CONSENT
from services.biometric_consent.entrypoints.app import build_handlers as consent_handlers
from services.generation_review.catalogue import Catalogues
from services.generation_review.config import DEMO_LIBRARY, ReviewSettings
from services.generation_review.domain.library import LibraryState
from services.generation_review.domain.projections import ConsentState, UserState
from services.generation_review.domain.rumours import RumourState
from services.generation_review.entrypoints.app import DEFINITION as REVIEW
from services.generation_review.entrypoints.app import build_handlers as review_handlers
from services.generation_review.entrypoints.app import seed_library
from services.generation_review.handlers import library_key, user_key
from shared.contracts import topics
from shared.contracts import types as T
from shared.messaging.engine import Engine, EngineConfig
from shared.messaging.memory import InMemoryBus, InMemoryPublisher
from shared.messaging.operations import Operations
from shared.storage.memory import InMemoryAggregateStore

PROVIDER = "provider-test"
ARTIFACT = "a" * 64


class Flow(Protocol):
    async def send(self, topic: str, event: dict[str, Any]) -> None: ...

    async def event(self, topic: str, type_: str, subject: str) -> dict[str, Any]: ...

    async def decision(self, request_id: str) -> dict[str, Any]: ...

    async def taken_in(self, service: str, key: str, check: Callable[[dict[str, Any]], bool]) -> None: ...


# --- the scenario, written once ---------------------------------------------------------------


async def scenario(flow: Flow) -> None:
    subject, grantee, consent_id = unique("subject"), unique("grantee"), unique("consent")
    for user in (subject, grantee):
        data = {"user_id": user, "method": "id_card", "age_group": "adult", "decided_at": _now()}
        await flow.send(topics.IDENTITY, cloud_event(T.IDENTITY_VERIFIED, data, subject=user))
        await flow.taken_in("consent", user_document(PROVIDER, user), lambda s: s.get("kind") == "user")
        await flow.taken_in("review", user_key(PROVIDER, user), lambda s: bool(s.get("identity")))

    await flow.send(topics.PLATFORM_CONSENT, grant(consent_id, subject, grantee))
    granted = await flow.event(topics.CONSENT, T.CONSENT_GRANTED, consent_id)
    assert granted["data"]["subject_id"] == subject
    await flow.taken_in("review", f"consent:{PROVIDER}/{consent_id}", lambda s: s.get("status") == "granted")
    first = await request(flow, grantee, subject)
    assert first["type"] == T.GENERATION_APPROVED

    withdrawal = {"consent_id": consent_id, "subject_id": subject, "reason": "changed my mind"}
    await flow.send(
        topics.PLATFORM_CONSENT, cloud_event(T.CONSENT_WITHDRAWAL_SUBMITTED, withdrawal, subject=consent_id)
    )
    await flow.event(topics.CONSENT, T.CONSENT_WITHDRAWN, consent_id)
    await flow.taken_in(
        "review", f"consent:{PROVIDER}/{consent_id}", lambda s: s.get("status") == "withdrawn"
    )
    second = await request(flow, grantee, subject)
    assert second["type"] == T.GENERATION_REJECTED
    assert [(r["code"], r["article"]) for r in second["data"]["reasons"]] == [
        ("consent_withdrawn", "DS-14.2")
    ]


async def request(flow: Flow, user: str, subject: str) -> dict[str, Any]:
    request_id = unique("req")
    data = {
        "request_id": request_id,
        "user_id": user,
        "service_type": "face_swap",
        "input": {"text": "swap my friend's face into the birthday video", "media": []},
        "biometric_subjects": [subject],
    }
    await flow.send(topics.PLATFORM_GENERATION, cloud_event(T.GENERATION_REQUESTED, data, subject=request_id))
    return await flow.decision(request_id)


def grant(consent_id: str, subject: str, grantee: str) -> dict[str, Any]:
    data = {
        "consent_id": consent_id,
        "subject_id": subject,
        "grantee_user_id": grantee,
        "biometric_types": ["face"],
        "purpose": "face swap into a birthday video",
        "service_types": ["face_swap"],
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
        "evidence": {"method": "in_app_confirmation", "notice_version": "n-1", "artifact_sha256": ARTIFACT},
    }
    return cloud_event(T.CONSENT_GRANT_SUBMITTED, data, subject=consent_id)


def _now() -> str:
    return datetime.now(UTC).isoformat()


# --- in memory --------------------------------------------------------------------------------


class MemoryIdentities:
    def __init__(self, store: InMemoryAggregateStore) -> None:
        self.store = store

    async def identities(self, provider_id: str, user_ids: Any) -> dict[str, IdentityFacts]:
        found = {}
        for u in user_ids:
            doc = self.store.docs.get(user_document(provider_id, u))
            if doc and doc["state"].get("kind") == "user":
                found[u] = facts_of(UserIdentity.model_validate(doc["state"]))
        return found


class MemoryReviewReads:
    """The review service's Directory and CatalogueSource over its in-memory store."""

    def __init__(self, store: InMemoryAggregateStore) -> None:
        self.store = store

    async def users(self, provider_id: str, user_ids: Any) -> dict[str, UserState]:
        docs = (self.store.docs.get(user_key(provider_id, u)) for u in user_ids)
        states = [
            UserState.model_validate(d["state"]) for d in docs if d and d["state"].get("kind") == "user"
        ]
        return {s.user_id: s for s in states}

    async def consents_granted_to(self, provider_id: str, user_ids: Any) -> dict[str, list[ConsentState]]:
        wanted, found = set(user_ids), {}
        for doc in self.store.docs.values():
            state = doc["state"]
            if state.get("kind") == "consent" and state.get("grantee_user_id") in wanted:
                consent = ConsentState.model_validate(state)
                found.setdefault(consent.grantee_user_id, []).append(consent)
        return found

    async def library_revision(self, provider_id: str) -> int:
        doc = self.store.docs.get(library_key(provider_id))
        return int(doc["version"]) if doc else 0

    async def library_state(self, provider_id: str) -> LibraryState | None:
        doc = self.store.docs.get(library_key(provider_id))
        return LibraryState.model_validate(doc["state"]) if doc and doc["state"] else None

    async def rumours_since(self, provider_id: str, since_ms: int) -> tuple[list[RumourState], int]:
        return [], since_ms


class MemoryFlow:
    """Both services' engines on one in-memory bus; every send runs them until nothing is left."""

    def __init__(self) -> None:
        self.bus = InMemoryBus()
        self.stores = {"consent": InMemoryAggregateStore(), "review": InMemoryAggregateStore()}
        self.engines: list[tuple[Engine, tuple[str, ...]]] = []
        self.offsets: dict[tuple[int, str], int] = {}

    async def start(self) -> MemoryFlow:
        consent = consent_handlers(ConsentSettings(), MemoryIdentities(self.stores["consent"]))
        reads = MemoryReviewReads(self.stores["review"])
        settings = ReviewSettings()
        review_publisher = InMemoryPublisher(self.bus)
        await seed_library(
            Operations(self.stores["review"], review_publisher), PROVIDER, DEMO_LIBRARY, datetime.now(UTC)
        )
        catalogues = Catalogues(reads, settings.policy().rumours)
        review = review_handlers(settings, reads, catalogues)
        for definition, handlers, store in (
            (CONSENT, consent, self.stores["consent"]),
            (REVIEW, review, self.stores["review"]),
        ):
            config = EngineConfig(
                definition.name, definition.source, frozenset({PROVIDER}), deadletter_secret=TEST_SECRET
            )
            routes = [r.bind(handlers) for r in definition.routes]
            engine = Engine(config, routes, store, InMemoryPublisher(self.bus))
            self.engines.append((engine, tuple(definition.consumes)))
        return self

    async def send(self, topic: str, event: dict[str, Any]) -> None:
        self.bus.append(topic, event["subject"].encode(), to_bytes(event))
        await self._run_until_quiet()

    async def _run_until_quiet(self) -> None:
        busy = True
        while busy:
            busy = False
            for i, (engine, consumed) in enumerate(self.engines):
                for topic in consumed:
                    since = self.offsets.get((i, topic), 0)
                    records = self.bus.read(topic, since)
                    if records:
                        busy = True
                        self.offsets[(i, topic)] = since + len(records)
                        await engine.process(records)

    async def event(self, topic: str, type_: str, subject: str) -> dict[str, Any]:
        found = [e for e in self._events(topic, subject) if e["type"] == type_]
        assert found, f"no {type_} for {subject} on {topic}"
        return found[0]

    async def decision(self, request_id: str) -> dict[str, Any]:
        [decided] = self._events(topics.REVIEW, request_id)
        return decided

    def _events(self, topic: str, subject: str) -> list[dict[str, Any]]:
        events = [json.loads(r.value) for r in self.bus.read(topic)]
        return [e for e in events if e["subject"] == subject]

    async def taken_in(self, service: str, key: str, check: Callable[[dict[str, Any]], bool]) -> None:
        doc = self.stores[service].docs.get(key)
        assert doc is not None, f"{service} has no {key}"
        assert check(doc["state"]), f"{service} has not taken in {key}"


# --- on the embedded servers ------------------------------------------------------------------


class EmbeddedFlow:
    """Both services as real processes in one topic namespace on the embedded broker and store."""

    def __init__(self, stack: EmbeddedStack, tmp: Path, producer: AIOKafkaProducer) -> None:
        self.review = ServiceHarness(
            stack,
            tmp,
            "services.generation_review",
            database="review",
            env={"DSGOV_REVIEW_DEMO_LIBRARY": "true", "DSGOV_REVIEW_REFRESH_INTERVAL_S": "0.2"},
        )
        self.consent = ServiceHarness(
            stack, tmp, "services.biometric_consent", database="consent", prefix=self.review.prefix
        )
        self.producer = producer
        self.recorder = self.review.recorder(topics.CONSENT, topics.REVIEW)
        self.mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.mongo_uri, tz_aware=True)

    async def start(self) -> EmbeddedFlow:
        await self.review.provision()
        await self.recorder.start()
        self.review.service.start()
        self.consent.service.start()
        return self

    async def stop(self) -> None:
        self.consent.service.stop()
        self.review.service.stop()
        await self.recorder.stop()
        await self.mongo.close()

    async def send(self, topic: str, event: dict[str, Any]) -> None:
        await self.producer.send_and_wait(
            self.review.topic(topic), to_bytes(event), key=event["subject"].encode()
        )

    async def event(self, topic: str, type_: str, subject: str) -> dict[str, Any]:
        [seen, *_] = await self.recorder.wait_for(
            lambda r: r.topic == topic and r.key == subject and r.json()["type"] == type_
        )
        return dict(seen.json())

    async def decision(self, request_id: str) -> dict[str, Any]:
        [seen, *_] = await self.recorder.wait_for(lambda r: r.topic == topics.REVIEW and r.key == request_id)
        return dict(seen.json())

    async def taken_in(self, service: str, key: str, check: Callable[[dict[str, Any]], bool]) -> None:
        harness = self.review if service == "review" else self.consent
        collection = self.mongo[harness.database][
            REVIEW.collection if service == "review" else CONSENT.collection
        ]
        await _poll(lambda: collection.find_one({"_id": key}), lambda doc: bool(doc and check(doc["state"])))


async def _poll(get: Callable[[], Awaitable[Any]], ok: Callable[[Any], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not ok(await get()):
        assert time.monotonic() < deadline, "not taken in within the deadline"
        await asyncio.sleep(0.05)


# --- the two runs -----------------------------------------------------------------------------


async def test_in_memory_a_withdrawn_consent_rejects_the_next_face_swap() -> None:
    started = time.perf_counter()
    await scenario(await MemoryFlow().start())
    assert time.perf_counter() - started < 5  # no servers, no waiting: the engine's twin


@pytest_asyncio.fixture(loop_scope="session")
async def embedded(
    stack: EmbeddedStack, tmp_path: Path, producer: AIOKafkaProducer
) -> AsyncIterator[EmbeddedFlow]:
    flow = await EmbeddedFlow(stack, tmp_path, producer).start()
    yield flow
    await flow.stop()


@pytest.mark.integration
async def test_on_the_embedded_servers_a_withdrawn_consent_rejects_the_next_face_swap(
    embedded: EmbeddedFlow,
) -> None:
    await scenario(embedded)
