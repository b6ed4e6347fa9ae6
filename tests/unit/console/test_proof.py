"""The consent history chain: SHA-256 over RFC 8785 canonical JSON, prev_hash/hash per entry."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import httpx
import pytest
import rfc8785

from services.console.domain.proof import FORMAT, GENESIS, build_proof, chain_entry, link_hash, verify_proof
from services.console.entrypoints.cli import main as cli_main
from tests.unit.console.conftest import sign_in_as
from tests.unit.console.fakes import NOW, Fakes, consent_event, fold


def _state() -> dict[str, Any]:
    granted = consent_event("dsgov.consent.granted", "c-1", unknown_extra={"kept": True})
    withdrawn = consent_event(
        "dsgov.consent.withdrawn", "c-1", actor="console:olga", reasons=["subject_request"]
    )
    state = fold(fold(None, granted), withdrawn)
    assert state is not None
    return state


def _proof() -> dict[str, Any]:
    return build_proof(_state(), exported_at=NOW, exported_by={"username": "olga", "role": "operator"})


def test_each_hash_is_sha256_of_the_jcs_of_seq_prev_hash_and_the_event_as_received() -> None:
    state = _state()
    first, second = state["history"]
    event = json.loads(first["event_json"])
    expected = hashlib.sha256(rfc8785.dumps({"seq": 1, "prev_hash": GENESIS, "event": event})).hexdigest()
    assert first["hash"] == expected
    assert first["prev_hash"] == GENESIS
    assert second["prev_hash"] == first["hash"]
    assert state["head_hash"] == second["hash"]
    assert event["data"]["unknown_extra"] == {"kept": True}  # as received, unknown fields included


def test_the_hash_does_not_depend_on_key_order_or_whitespace() -> None:
    event = consent_event("dsgov.consent.granted", "c-1")
    reordered = json.dumps(dict(reversed(list(event.items()))), indent=3)
    assert chain_entry([], json.dumps(event))["hash"] == chain_entry([], reordered)["hash"]
    changed = copy.deepcopy(event)
    changed["data"]["biometric_types"] = ["voice"]
    assert chain_entry([], json.dumps(event))["hash"] != chain_entry([], json.dumps(changed))["hash"]


def test_an_exported_proof_verifies() -> None:
    proof = _proof()
    result = verify_proof(json.loads(json.dumps(proof)))
    assert result.ok, result.problems
    assert result.entries == 2
    assert result.head_hash == proof["head_hash"]
    assert proof["format"] == FORMAT
    assert proof["exported_by"] == {"username": "olga", "role": "operator"}


def _tampered(how: str) -> dict[str, Any]:
    proof = _proof()
    entries = proof["entries"]
    if how == "event":
        entries[0]["event"]["data"]["subject_id"] = "someone-else"
    elif how == "type":
        entries[1]["event"]["type"] = "dsgov.consent.granted"
    elif how == "drop-first":
        del entries[0]
        entries[0]["seq"] = 1
    elif how == "drop-last":
        del entries[-1]
    elif how == "reorder":
        entries.reverse()
    elif how == "rehash-one":  # recomputing one hash does not help: the next link breaks
        entries[0]["event"]["data"]["reasons"] = ["forged"]
        entries[0]["hash"] = link_hash(1, GENESIS, entries[0]["event"])
    elif how == "head":
        proof["head_hash"] = "f" * 64
    elif how == "other-consent":
        proof["consent_id"] = "c-2"
    return proof


@pytest.mark.parametrize(
    "how", ["event", "type", "drop-first", "drop-last", "reorder", "rehash-one", "head", "other-consent"]
)
def test_any_change_to_an_exported_proof_is_detected(how: str) -> None:
    result = verify_proof(_tampered(how))
    assert not result.ok
    assert result.problems


def test_a_proof_with_integers_beyond_the_jcs_domain_is_reported_not_crashed() -> None:
    proof = _proof()
    proof["entries"][0]["event"]["data"]["huge"] = 2**60
    result = verify_proof(proof)
    assert not result.ok
    assert any("safe integer" in p or "exceeds" in p for p in result.problems), result.problems


async def test_the_proof_download_is_an_attachment_that_verifies_and_is_audited(
    fakes: Fakes, client: httpx.AsyncClient
) -> None:
    state = _state()
    fakes.read_model.put(state)
    sign_in_as(fakes, client, "vic", "viewer")

    response = await client.get("/consents/proof/c-1")

    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="consent-proof-c-1.json"'
    assert response.headers["content-type"].startswith("application/json")
    proof = response.json()
    assert verify_proof(proof).ok
    assert proof["head_hash"] == state["head_hash"]
    assert proof["exported_by"] == {"username": "vic", "role": "viewer"}
    [entry] = [e for e in fakes.audit.entries if e.action == "proof_exported"]
    assert entry.target == "c-1"
    assert entry.details == {"head_hash": state["head_hash"]}


def test_the_verify_proof_command(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_proof()))
    bad.write_text(json.dumps(_tampered("event")))
    assert cli_main(["verify-proof", str(good)]) == 0
    assert "OK: 2 entries" in capsys.readouterr().out
    assert cli_main(["verify-proof", str(bad)]) == 1
    assert "entry 1: hash does not match its content" in capsys.readouterr().out
