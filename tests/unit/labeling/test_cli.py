"""`dsgov-label`: embed, inspect, verify (exit status on tampering), burn, propagate, keygen; settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.labeling import cli
from services.labeling.aigc import files, integrity, sm2
from services.labeling.config import LabelingSettings
from tests.unit.labeling import samples
from tests.unit.labeling.samples import PLATFORM, PLATFORM_KEY, PRODUCER, PRODUCER_KEY, sha256

PUBLIC = integrity.public_key_text(PRODUCER_KEY.public_key())


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cli.SIGNING_KEY_ENV, integrity.private_key_text(PRODUCER_KEY))
    monkeypatch.setenv(cli.PROVIDER_CODE_ENV, PRODUCER)
    monkeypatch.setenv(cli.PROPAGATOR_KEY_ENV, integrity.private_key_text(PLATFORM_KEY))


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = cli.main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip() else {}


def test_embed_inspect_verify_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = tmp_path / "in.jpg", tmp_path / "out.jpg"
    src.write_bytes(samples.jpeg())
    assert run(capsys, "embed", str(src), "-o", str(dst), "--produce-id", "cli-1")[0] == 0
    code, shown = run(capsys, "inspect", str(dst))
    assert code == 0
    assert shown["format"] == "jpeg"
    assert shown["content_sha256"] == sha256(src.read_bytes())
    assert len(shown["labels"]) == 1  # type: ignore[arg-type]
    code, report = run(capsys, "verify", str(dst), "--public-key", PUBLIC)
    assert (code, report["ok"], report["findings"]) == (0, True, [])


def test_verify_fails_with_reasons_for_tampered_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src, dst = tmp_path / "a.txt", tmp_path / "b.txt"
    src.write_bytes(samples.TEXT)
    run(capsys, "embed", str(src), "-o", str(dst), "--produce-id", "cli-2")
    dst.write_bytes(dst.read_bytes().replace(b"Second", b"Third"))
    code, report = run(capsys, "verify", str(dst), "--public-key", PUBLIC)
    assert code == 1
    assert report["ok"] is False
    assert [f["code"] for f in report["findings"]] == ["content_changed"]  # type: ignore[union-attr,index]
    assert report["findings"][0]["article"] == "DS-18"  # type: ignore[index]
    unlabeled = tmp_path / "none.wav"
    unlabeled.write_bytes(samples.wav())
    code, report = run(capsys, "verify", str(unlabeled), "--public-key", PUBLIC)
    assert code == 1
    assert report["findings"][0]["code"] == "label_missing"  # type: ignore[index]


def test_embed_a_service_issued_label_from_a_content_labeled_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = samples.png()
    from services.labeling.aigc import issue

    label = issue.produce(
        producer_code=PRODUCER, produce_id="svc-1", content_sha256=sha256(data), key=PRODUCER_KEY
    )
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps({"type": "dsgov.content.labeled", "data": {"implicit_label": label.to_object()}})
    )
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    src.write_bytes(data)
    assert run(capsys, "embed", str(src), "-o", str(dst), "--label", str(event))[0] == 0
    assert files.find_labels(dst.read_bytes())[0].text == label.to_json()
    other = tmp_path / "other.png"
    other.write_bytes(samples.png(50, 50))
    assert (
        cli.main(["embed", str(other), "-o", str(dst), "--label", str(event)]) == 2
    )  # issued for other content
    assert "issued for content" in capsys.readouterr().err


def test_burn_then_embed_then_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, burned, final = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    src.write_bytes(samples.png(400, 300))
    code, shown = run(capsys, "burn", str(src), "-o", str(burned))
    assert code == 0
    assert shown["ratio"] >= 0.05  # type: ignore[operator]
    run(capsys, "embed", str(burned), "-o", str(final), "--produce-id", "b-1")
    assert run(capsys, "verify", str(final), "--public-key", PUBLIC)[0] == 0


def test_propagate_and_keygen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src, dst = tmp_path / "a.wav", tmp_path / "b.wav"
    src.write_bytes(samples.wav())
    code, shown = run(
        capsys,
        "propagate",
        str(src),
        "-o",
        str(dst),
        "--propagator",
        PLATFORM,
        "--propagate-id",
        "p-1",
        "--declared",
    )
    assert (code, shown["outcome"], shown["label_value"]) == (0, "possible", "2")
    public = integrity.public_key_text(PLATFORM_KEY.public_key())
    assert run(capsys, "verify", str(dst), "--public-key", PUBLIC, "--propagator-public-key", public)[0] == 0
    code, pair = run(capsys, "keygen", "--algorithm", "ed25519")
    assert code == 0
    key = integrity.load_private_key(str(pair["private_key"]))
    assert integrity.public_key_text(key.public_key()) == pair["public_key"]
    code, pair = run(capsys, "keygen")  # SM2 by default (TC260-PG-202511A)
    assert (code, pair["algorithm"], pair["algorithm_id"]) == (0, "sm2", "1.2.156.10197.1.501")
    sm2_key = sm2.load_private_key(str(pair["private_key"]))
    assert sm2_key.public_key().hex() == pair["public_key"]


def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "a.png"
    src.write_bytes(samples.png())
    assert cli.main(["inspect", str(tmp_path / "missing")]) == 2
    assert cli.main(["embed", str(src), "-o", str(src), "--produce-id", "x", "--producer", "BAD"]) == 2
    monkeypatch.delenv(cli.SIGNING_KEY_ENV)
    assert cli.main(["embed", str(src), "-o", str(src), "--produce-id", "x"]) == 2
    assert "DSGOV_LABELING_SIGNING_KEY is not set" in capsys.readouterr().err


def test_settings_validate_the_code_and_the_key_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DSGOV_LABELING_PROVIDER_CODE", PRODUCER)
    monkeypatch.setenv("DSGOV_LABELING_SIGNING_KEY", integrity.private_key_text(PRODUCER_KEY))
    settings = LabelingSettings()
    assert integrity.key_id(settings.private_key().public_key()) == integrity.key_id(
        PRODUCER_KEY.public_key()
    )
    assert settings.lb9_retention_days == 184
    monkeypatch.setenv("DSGOV_LABELING_PROVIDER_CODE", "001191440300708461136A1XGW3")  # USCC check fails
    with pytest.raises(ValidationError, match="check"):
        LabelingSettings()
    monkeypatch.setenv("DSGOV_LABELING_PROVIDER_CODE", PRODUCER)
    monkeypatch.setenv("DSGOV_LABELING_SIGNING_KEY", "short")
    with pytest.raises(ValidationError, match="not an SM2 or Ed25519 private key"):
        LabelingSettings()
    monkeypatch.setenv("DSGOV_LABELING_SIGNING_KEY", samples.PRODUCER_SM2.text())  # SM2 (PG-202511A)
    assert LabelingSettings().private_key() == samples.PRODUCER_SM2
    monkeypatch.setenv("DSGOV_LABELING_SIGNING_KEY", "sm2:" + "f" * 64)  # >= n: out of range
    with pytest.raises(ValidationError, match="out of range"):
        LabelingSettings()
    monkeypatch.delenv("DSGOV_LABELING_SIGNING_KEY")
    with pytest.raises(ValidationError):
        LabelingSettings()  # no default
    monkeypatch.setenv("DSGOV_LABELING_SIGNING_KEY", integrity.private_key_text(PRODUCER_KEY))
    monkeypatch.setenv("DSGOV_LABELING_LB9_RETENTION_DAYS", "90")
    with pytest.raises(ValidationError):
        LabelingSettings()  # LB-9: at least six months
