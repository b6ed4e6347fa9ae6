"""The hash-chained history and its proof: intact chains verify, any tampering is found."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from datetime import timedelta
from typing import Any

import pytest
import rfc8785

from services.biometric_consent.domain.consent import Policy, decide_grant, decide_withdrawal
from services.biometric_consent.domain.history import (
    GENESIS,
    append_entry,
    entry_hash,
    export_proof,
    rfc3339,
    verify_proof,
)
from tests.unit.biometric_consent.conftest import ADULTS, NOW, by_console, by_subject, cause, grant


def proof() -> dict[str, Any]:
    """Four entries: refused early withdrawal, refusal, grant, withdrawal."""
    state = decide_withdrawal(None, by_subject("mallory"), cause("w0")).state
    state = decide_grant(state, grant(), ADULTS, cause("g1", NOW + timedelta(minutes=1)), Policy()).state
    state = decide_withdrawal(state, by_console(), cause("w1", NOW + timedelta(minutes=2))).state
    assert state is not None
    # through JSON, as the CLI prints it and a verifier reads it
    exported: dict[str, Any] = json.loads(json.dumps(export_proof(state)))
    return exported


def test_entries_are_chained_by_the_hash_of_their_canonical_json() -> None:
    entries = proof()["entries"]
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert entries[0]["prev_hash"] == GENESIS
    for prev, entry in itertools.pairwise(entries):
        assert entry["prev_hash"] == prev["hash"]
    first = dict(entries[0])
    stored = first.pop("hash")
    assert stored == hashlib.sha256(rfc8785.dumps(first)).hexdigest()  # the documented recipe


def test_an_intact_proof_verifies() -> None:
    p = proof()
    assert verify_proof(p) == []
    assert p["entry_count"] == 4
    assert p["head_hash"] == p["entries"][-1]["hash"]
    assert p["status"] == "withdrawn"


def test_hashing_ignores_key_order_and_times_have_one_spelling() -> None:
    entry = proof()["entries"][2]
    shuffled = dict(reversed(list(entry.items())))
    assert entry_hash(shuffled) == entry["hash"]
    assert entry["at"] == "2026-11-22T12:01:00.000Z"
    assert rfc3339(NOW + timedelta(microseconds=1999)) == "2026-11-22T12:00:00.001Z"


def _changed_detail(p: dict[str, Any]) -> None:
    p["entries"][2]["details"]["submission"]["biometric_types"] = ["face", "voice"]


def _changed_actor(p: dict[str, Any]) -> None:
    p["entries"][3]["actor"] = "subject"


def _changed_and_rehashed(p: dict[str, Any]) -> None:
    entry = p["entries"][1]
    entry["reasons"] = []
    entry["hash"] = entry_hash(entry)  # a forger recomputes this entry's hash ...


def _removed_middle(p: dict[str, Any]) -> None:
    del p["entries"][1]
    p["entry_count"] = 3


def _removed_last(p: dict[str, Any]) -> None:
    p["entries"].pop()


def _removed_first(p: dict[str, Any]) -> None:
    del p["entries"][0]


def _reordered(p: dict[str, Any]) -> None:
    p["entries"][1], p["entries"][2] = p["entries"][2], p["entries"][1]


def _status_rewritten(p: dict[str, Any]) -> None:
    p["status"] = "granted"


def _spliced_from_another_consent(p: dict[str, Any]) -> None:
    p["consent_id"] = "another-consent"


def _entry_appended_without_chain(p: dict[str, Any]) -> None:
    fake = dict(p["entries"][-1], seq=5, prev_hash=GENESIS)
    fake["hash"] = entry_hash(fake)
    p["entries"].append(fake)
    p["entry_count"], p["head_hash"] = 5, fake["hash"]


def _float_smuggled_in(p: dict[str, Any]) -> None:
    p["entries"][0]["seq"] = float("nan")


TAMPERING = [
    (_changed_detail, "entry 3: hash does not match"),
    (_changed_actor, "entry 4: hash does not match"),
    (_changed_and_rehashed, "entry 3: prev_hash does not match"),
    (_removed_middle, "entry 2: seq is 3"),
    (_removed_last, "head_hash is not the hash of the last entry"),
    (_removed_first, "entry 1: prev_hash does not match"),
    (_reordered, "entry 2: seq is 3"),
    (_status_rewritten, "status 'granted' but the entries lead to 'withdrawn'"),
    (_spliced_from_another_consent, "belongs to another consent (consent_id)"),
    (_entry_appended_without_chain, "entry 5: prev_hash does not match"),
    (_float_smuggled_in, "entry 1: not canonicalizable"),
]


@pytest.mark.parametrize(("tamper", "expected"), TAMPERING, ids=[t.__name__ for t, _ in TAMPERING])
def test_tampering_is_found(tamper: Any, expected: str) -> None:
    p = proof()
    tamper(p)
    problems = verify_proof(p)
    assert any(expected in problem for problem in problems), problems


def test_removing_the_last_entry_and_fixing_the_summary_is_only_caught_by_an_anchored_head() -> None:
    # Documented limit: a chain cannot prove its own end. Compare head_hash with one kept elsewhere.
    p = proof()
    head = p["head_hash"]
    p["entries"].pop()
    p["entry_count"], p["head_hash"], p["status"] = 3, p["entries"][-1]["hash"], "granted"
    assert verify_proof(p) == []
    assert p["head_hash"] != head


def test_a_document_that_is_not_a_proof_is_reported() -> None:
    assert verify_proof({"format": "other"}) == ["format is 'other', expected 'dsgov.consent-proof/1'"]
    broken = copy.deepcopy(proof())
    broken["entries"] = "nope"
    assert verify_proof(broken) == ["entries is not a list of objects"]
    missing = proof()
    del missing["entries"][0]["prev_hash"]
    assert "entry 1: missing prev_hash" in verify_proof(missing)


def test_appending_refuses_unknown_entry_types() -> None:
    with pytest.raises(ValueError, match="unknown history event"):
        append_entry((), at=NOW, provider_id="p", consent_id="c", event="deleted", actor="system")
