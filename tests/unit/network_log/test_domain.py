"""Pure parts of network_log: retention (CS-1), Merkle proofs, entries, checkpoints, settings."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.network_log.config import NetworkLogSettings
from services.network_log.domain.checkpoint import Checkpoint, Signer, checkpoint_valid
from services.network_log.domain.merkle import Tree, consistent, included, leaf_hash
from services.network_log.domain.records import WITHHELD_REASON, entry_id, entry_of
from services.network_log.domain.retention import MIN_RETENTION, check_retention, expired, first_kept_segment

HOUR_MS = 3_600_000
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SEED = base64.b64encode(bytes(range(32))).decode()


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def test_the_floor_is_184_days_because_six_calendar_months_can_be_184_days() -> None:
    assert timedelta(days=184) == MIN_RETENTION
    with pytest.raises(ValueError, match="CS-1"):
        check_retention(timedelta(days=183))
    assert check_retention(timedelta(days=184)) == timedelta(days=184)


def test_settings_refuse_to_start_below_184_days() -> None:
    with pytest.raises(ValidationError, match="184-day floor"):
        NetworkLogSettings(encryption_key="k" * 32, signing_key=SEED, retention_days=183)
    assert (
        NetworkLogSettings(encryption_key="k" * 32, signing_key=SEED, retention_days=200).retention_days
        == 200
    )


def test_settings_refuse_a_signing_key_that_is_not_a_32_byte_seed() -> None:
    with pytest.raises(ValidationError, match="32 bytes"):
        NetworkLogSettings(encryption_key="k" * 32, signing_key=base64.b64encode(b"short").decode())


@pytest.mark.parametrize(
    ("age", "period", "gone"),
    [
        (timedelta(days=183), timedelta(days=184), False),
        (timedelta(days=183, hours=23), timedelta(days=184), False),
        (timedelta(days=185), timedelta(days=184), True),
        (timedelta(days=190), timedelta(days=200), False),
        (timedelta(days=201), timedelta(days=200), True),
    ],
)
def test_a_record_expires_only_when_its_whole_segment_is_older_than_the_period(
    age: timedelta, period: timedelta, gone: bool
) -> None:
    assert expired(_ms(NOW - age), NOW, period, HOUR_MS) is gone


def test_no_record_younger_than_the_period_is_ever_in_an_expired_segment() -> None:
    first = first_kept_segment(NOW, MIN_RETENTION, HOUR_MS)
    youngest_gone_end_ms = first * HOUR_MS  # the end of the last expired segment
    assert youngest_gone_end_ms <= _ms(NOW - MIN_RETENTION)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 9, 100])
def test_every_leaf_is_proven_and_a_changed_leaf_is_not(size: int) -> None:
    leaves = [leaf_hash(f"entry-{i}".encode()) for i in range(size)]
    tree = Tree(leaves)
    root = tree.root()
    for i, leaf in enumerate(leaves):
        proof = tree.inclusion(i)
        assert included(leaf, root, proof, index=i, size=size)
        assert not included(leaf_hash(b"forged"), root, proof, index=i, size=size)
    assert not included(leaves[0], root, tree.inclusion(0), index=0, size=size + 1)


def test_an_rfc_6962_root_matches_the_hand_computed_one() -> None:
    import hashlib

    a, b, c = (leaf_hash(x) for x in (b"a", b"b", b"c"))
    ab = hashlib.sha256(b"\x01" + a + b).digest()
    assert Tree([a, b, c]).root() == hashlib.sha256(b"\x01" + ab + c).digest()


def test_a_later_tree_is_proven_to_extend_an_earlier_one_and_a_rewritten_one_is_not() -> None:
    leaves = [leaf_hash(str(i).encode()) for i in range(13)]
    tree = Tree(leaves)
    proof = tree.consistency(5)
    assert consistent(tree.root(5), tree.root(), proof, prior_size=5, size=13)
    rewritten = Tree([leaf_hash(b"x"), *leaves[1:]])
    assert not consistent(rewritten.root(5), tree.root(), proof, prior_size=5, size=13)


def test_identity_submissions_keep_the_envelope_but_never_the_payload() -> None:
    event = {
        "id": "e1",
        "type": "dsgov.identity.submitted",
        "subject": "u1",
        "providerid": "p",
        "data": {"user_id": "u1", "id_card_number": "11010519491231002X"},
    }
    entry = entry_of(
        topic="dsgov.platform.identity", partition=0, offset=3, received_at_ms=1, event=event, salt=b"s"
    )
    assert entry.event is None
    assert entry.withheld == WITHHELD_REASON
    assert entry.user_id == "u1"
    assert b"11010519491231002X" not in entry.canonical()


def test_the_delivery_id_depends_on_the_event_id_so_reused_offsets_do_not_collide() -> None:
    assert entry_id("t", 0, 5, "a") == entry_id("t", 0, 5, "a")
    assert entry_id("t", 0, 5, "a") != entry_id("t", 0, 5, "b")


def test_a_checkpoint_verifies_under_its_key_only_and_not_after_a_change() -> None:
    signer = Signer("k1", bytes(range(32)))
    cp = signer.checkpoint(Checkpoint(log="l", size=3, root="00" * 32, signed_at_ms=1, key_id=""))
    keys = {"k1": signer.public_key}
    assert checkpoint_valid(keys, cp)
    assert not checkpoint_valid(keys, cp.model_copy(update={"size": 4}))
    assert not checkpoint_valid({"k1": Signer("k1", bytes(32)).public_key}, cp)
    assert not checkpoint_valid({}, cp)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, "x"], "c": {"z": '换行\n\t"q" \\ \u0001 \u007f é'}},
        {"f": 1.5, "g": 1e-7, "h": 10000000000000000.0, "i": -0.0, "n": 3},
        {"\ue000": 1, "\U0001f600": 2, "a": 3},
        {"big": 2**60, "ok": 2**53 - 1},
        [],
        {"emoji": "😀", "zh": "张三"},
    ],
)
def test_the_fast_canonical_form_is_rfc_8785(value: object) -> None:
    import rfc8785

    from services.network_log.domain.canonical import MAX_SAFE_INT, canonical

    expected = value
    if isinstance(value, dict) and "big" in value:
        expected = {**value, "big": str(2**60)}  # JCS cannot carry it exactly: kept as text
        assert value["ok"] == MAX_SAFE_INT
    assert canonical(value) == rfc8785.dumps(expected)


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        (b'{"a":"x","n":12,"t":"2026-12-06T13:28:08.123456+00:00"}', True),
        (b'{"a":1.5}', False),
        (b'{"a": [1, -2.5e-3 ]}', False),
        (b'{"a":2E+5}', False),
        (b'{"a":12345678901234567}', False),
        ('{"😀":1}'.encode(), False),
        ('{"k":"张三"}'.encode(), True),
        (b'{"\\ud83d\\ude00":1}', False),
    ],
)
def test_parse_json_is_never_wrong_about_a_value_the_fast_path_cannot_write(text: bytes, plain: bool) -> None:
    import json

    import rfc8785

    from services.network_log.domain.canonical import canonical, parse_json

    value, simple = parse_json(text)
    assert value == json.loads(text)
    assert simple is plain
    if simple:
        assert canonical(value, known_simple=True) == rfc8785.dumps(value)
