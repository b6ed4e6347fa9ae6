"""PI-31 (issue 14 correction 1): an age an ID card established is kept until a later ID card proves
otherwise; a mobile or national-network-id re-verification, or a failed ID-card check, never clears it."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

from devtools.testing.events import cloud_event
from services.identity_verification.adapters.authority_simulator import SimulatedIdentityAuthority
from services.identity_verification.domain.decision import Policy
from services.identity_verification.domain.record import VerificationRecord, anniversary
from services.identity_verification.handlers import IdentityHandlers
from shared.contracts import topics
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.identity import IdentitySubmitted
from shared.messaging.codec import Inbound, RawRecord
from shared.standards.identifiers import id_card_check_character

NOW = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)  # 12:00 in Beijing


def id_number(birth: date) -> str:
    body = f"110105{birth:%Y%m%d}002"
    return body + id_card_check_character(body)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def handlers(clock: Clock) -> IdentityHandlers:
    return IdentityHandlers(SimulatedIdentityAuthority(), b"k" * 32, Policy(), clock)


def submission(clock: Clock, **data: Any) -> Inbound[IdentitySubmitted]:
    payload = {"user_id": "kid", **data}
    if data["method"] == "mobile":
        payload |= {"mobile": "13800138000", "mobile_otp_verified_at": clock.now.isoformat()}
    raw = cloud_event(T.IDENTITY_SUBMITTED, payload, subject="kid")
    return Inbound(
        RawRecord(topics.PLATFORM_IDENTITY, 0, 0, b"kid", b""),
        CloudEvent.model_validate(raw),
        IdentitySubmitted.model_validate(payload),
    )


async def decide(h: IdentityHandlers, state: VerificationRecord | None, clock: Clock, **data: Any) -> Any:
    outcome = await h.on_submitted(state, submission(clock, **data))
    [event] = outcome.events
    assert isinstance(event, CloudEvent)
    return outcome.state, event.data


CHILD = date(2016, 5, 1)  # ten years old on NOW


async def test_an_under_14_established_by_id_card_survives_mobile_and_network_id_reverification() -> None:
    clock = Clock()
    h = handlers(clock)
    state, data = await decide(
        h, None, clock, method="id_card", full_name="小明", id_card_number=id_number(CHILD)
    )
    assert data["age_group"] == "under_14"
    state, data = await decide(h, state, clock, method="mobile")
    assert (data["age_group"], data["reasons"]) == ("under_14", [])
    state, data = await decide(h, state, clock, method="national_network_id", network_id_token="tok-ok")
    assert data["age_group"] == "under_14"
    assert state.age_group == "under_14"


async def test_a_failed_id_card_check_proves_nothing_and_keeps_the_established_age() -> None:
    clock = Clock()
    h = handlers(clock)
    state, _ = await decide(
        h, None, clock, method="id_card", full_name="小明", id_card_number=id_number(CHILD)
    )
    adult = id_number(date(1990, 1, 1))
    state, data = await decide(h, state, clock, method="id_card", full_name="MISMATCH", id_card_number=adult)
    assert data["reasons"] == ["id_card_name_mismatch"]
    assert data["age_group"] == "under_14"


async def test_a_later_verified_id_card_proves_otherwise() -> None:
    clock = Clock()
    h = handlers(clock)
    state, _ = await decide(
        h, None, clock, method="id_card", full_name="小明", id_card_number=id_number(CHILD)
    )
    adult = id_number(date(1990, 1, 1))
    state, data = await decide(h, state, clock, method="id_card", full_name="王五", id_card_number=adult)
    assert data["age_group"] == "adult"
    state, data = await decide(h, state, clock, method="mobile")
    assert data["age_group"] == "adult"


async def test_a_minor_grows_up_on_the_birthday_without_the_birth_date_being_kept() -> None:
    clock = Clock()
    h = handlers(clock)
    state, _ = await decide(
        h, None, clock, method="id_card", full_name="小明", id_card_number=id_number(CHILD)
    )
    assert state.established_age is not None
    assert "birth" not in state.model_dump_json()
    clock.now = datetime.combine(anniversary(CHILD, 14), datetime.min.time(), UTC) - timedelta(hours=9)
    _, data = await decide(h, state, clock, method="mobile")
    assert data["age_group"] == "under_14"  # the day before, in Beijing
    clock.now += timedelta(days=1)
    _, data = await decide(h, state, clock, method="mobile")
    assert data["age_group"] == "14_to_17"


async def test_without_an_id_card_a_mobile_verification_knows_no_age() -> None:
    clock = Clock()
    _, data = await decide(handlers(clock), None, clock, method="mobile")
    assert data["age_group"] == "unknown"


def test_29_february_birthdays_are_reached_on_1_march_in_common_years() -> None:
    assert anniversary(date(2012, 2, 29), 14) == date(2026, 3, 1)
    assert anniversary(date(2012, 2, 29), 16) == date(2028, 2, 29)


async def test_the_established_age_is_stored_and_read_back_through_the_engine() -> None:
    # The store keeps what BSON can encode: the band boundaries must survive a write and a reload.
    from services.identity_verification.entrypoints.app import DEFINITION
    from shared.messaging.engine import Engine, EngineConfig
    from shared.messaging.memory import InMemoryPublisher
    from shared.storage.memory import InMemoryAggregateStore

    clock = Clock()
    store, publisher = InMemoryAggregateStore(), InMemoryPublisher()
    config = EngineConfig(
        "identity", "dsgov/identity", frozenset({"provider-test"}), deadletter_secret="k" * 32
    )
    engine = Engine(config, [r.bind(handlers(clock)) for r in DEFINITION.routes], store, publisher)
    payload = {"user_id": "kid", "method": "id_card", "full_name": "小明", "id_card_number": id_number(CHILD)}
    raw = cloud_event(T.IDENTITY_SUBMITTED, payload, subject="kid")
    record = RawRecord(topics.PLATFORM_IDENTITY, 0, 0, b"kid", json.dumps(raw).encode())
    report = await engine.process([record])
    assert (report.processed, report.dead_letters) == (1, 0)
    stored = (await store.load("provider-test/kid")).typed(VerificationRecord)
    assert stored is not None
    assert stored.established_age is not None
    assert stored.established_age.turns_14 == anniversary(CHILD, 14)
