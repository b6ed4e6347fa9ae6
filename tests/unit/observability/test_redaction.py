"""Nothing sensitive reaches a log line (rule 6)."""

from __future__ import annotations

import json
import logging

import pytest

from shared.observability import REDACTED, configure_logging, get_logger, redact


def test_sensitive_keys_are_masked_at_any_depth() -> None:
    out = redact(
        {"data": {"id_card_number": "11010519491231002X", "user_id": "u1"}, "list": [{"full_name": "张三"}]}
    )
    assert out == {"data": {"id_card_number": REDACTED, "user_id": "u1"}, "list": [{"full_name": REDACTED}]}


def test_identifier_shapes_are_scrubbed_from_free_text() -> None:
    text = "lookup failed for 11010519491231002X / 13800138000 / 91440300708461136T"
    scrubbed = redact(text)
    for secret in ("11010519491231002X", "13800138000", "91440300708461136T"):
        assert secret not in scrubbed


def test_log_lines_are_json_with_bound_ids_and_no_identifiers(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True, service="unit")
    get_logger("t").info("checked", full_name="张三", detail="id 11010519491231002X bad", user_id="u1")
    logging.getLogger("stdlib").warning("raw %s", "13800138000")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["full_name"] == REDACTED
    assert "11010519491231002X" not in lines[0]["detail"]
    assert lines[0]["user_id"] == "u1"
    assert lines[0]["service"] == "unit"
    assert "13800138000" not in lines[1]["event"]


def test_exception_logs_never_carry_local_variables(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(level="INFO", json=True, service="unit")

    def fail(prompt: str) -> None:
        secret_prompt = prompt  # a local that must not be rendered
        raise ValueError(f"failed on a prompt of {len(secret_prompt)} characters")

    try:
        fail("the whole user prompt, 张三 wrote this")
    except ValueError:
        get_logger("t").exception("processing_failed")
    line = capsys.readouterr().out.strip().splitlines()[-1]
    record = json.loads(line)
    assert "ValueError" in json.dumps(record["exception"])
    assert "the whole user prompt" not in line
    assert "张三" not in line
