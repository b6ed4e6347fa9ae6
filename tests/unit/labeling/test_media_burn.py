"""Explicit labels for audio (GB-E3) and video (GB-E4): burned with ffmpeg, then measured.

The measurements are checked against independent figures: the decoded video frames (plate
present for >= 2 s from the first frame, white text >= 5 % of the shorter side), the decoded
audio (the `.- ..` rhythm at the start and the end), and the unburned originals, where the same
measurements must find nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.labeling import cli
from services.labeling.aigc import files, issue, media_burn
from tests.unit.labeling import media, samples
from tests.unit.labeling.samples import PRODUCER, PRODUCER_SM2


def video(seconds: int = 3, size: str = "320x240") -> bytes:
    return media.ffmpeg(
        *(
            "-f",
            "lavfi",
            "-i",
            f"testsrc=size={size}:rate=10",
            "-f",
            "lavfi",
            "-i",
            f"sine=duration={seconds}",
        ),
        *("-t", str(seconds), "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-shortest"),
        suffix=".mp4",
    )


def test_the_rhythm_is_morse_ai_and_the_detector_reads_it_back() -> None:
    tone = media_burn.rhythm(16000)
    assert media_burn.detect_rhythm(tone, 16000) == ".- .."
    assert len(tone) / 16000 == pytest.approx(11 * media_burn.UNIT_S, abs=0.01)  # 1+1+3+3+1+1+1 units
    assert media_burn.detect_rhythm(np.zeros(16000, np.float32), 16000) == ""


@pytest.mark.parametrize(
    "maker",
    [
        media.mp3,
        media.flac,
        media.m4a,
        media.ogg,
        lambda: media.ogg("libopus"),
        lambda: samples.wav(8000, 8000),
    ],
)
def test_audio_burn_puts_the_prompt_at_start_and_end(maker: object, tmp_path: Path) -> None:
    original = maker()  # type: ignore[operator]
    fmt = files.format_of(original)
    burned, report = media_burn.burn_audio(original)
    assert files.format_of(burned) == fmt
    assert report.ok
    assert (report.start_pattern, report.end_pattern) == (".- ..", ".- ..")
    path = tmp_path / f"o{media_burn.suffix_for(original)}"
    path.write_bytes(original)
    unburned = media_burn.measure_audio(path)
    assert not unburned.prompt_at_start
    assert not unburned.prompt_at_end
    assert report.duration_s > unburned.duration_s + 2 * 11 * media_burn.UNIT_S


def test_audio_burn_drops_the_stale_implicit_label() -> None:
    original = media.mp3()
    label = issue.produce(
        producer_code=PRODUCER, produce_id="a", content_sha256=files.content_hash(original), key=PRODUCER_SM2
    )
    burned, _ = media_burn.burn_audio(files.embed(original, label))
    assert files.find_labels(burned) == []


def test_video_burn_shows_the_plate_for_two_seconds_at_five_percent(tmp_path: Path) -> None:
    original = video()
    burned, report = media_burn.burn_video(original)
    assert report.ok
    assert report.measured_duration_s == pytest.approx(2.0, abs=0.11)
    assert report.measured_text_height_px >= 0.05 * 240
    assert report.min_glyph_height_px >= 0.05 * 240
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.write_bytes(original)
    b.write_bytes(burned)
    _, not_shown = media_burn.measure_video(a, a, report.box, 3.0)
    assert not_shown == 0  # the measurement finds no plate where none was burned
    stream = media_burn.probe(b)["streams"]
    assert any(s["codec_type"] == "audio" for s in stream)  # the sound was kept


@pytest.mark.parametrize("maker", [media.matroska, lambda: media.matroska(webm=True), media.avi])
def test_video_burn_keeps_the_container(maker: object) -> None:
    original = maker()  # type: ignore[operator]
    burned, report = media_burn.burn_video(original)
    assert files.format_of(burned) == files.format_of(original)
    assert media_burn.suffix_for(burned) == media_burn.suffix_for(original)
    assert report.measured_duration_s == pytest.approx(1.0, abs=0.11)  # the clip is 1 s long
    assert not report.ok  # so the 2 s rule cannot be met, and the report says so
    assert report.measured_text_height_px >= 0.05 * 48


def test_a_plate_shown_too_briefly_is_reported() -> None:
    _, report = media_burn.burn_video(video(), min_duration=1.0)
    assert report.measured_duration_s == pytest.approx(1.0, abs=0.11)
    assert not report.ok


def test_cli_burn_then_embed_then_verify_a_video(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(cli.SIGNING_KEY_ENV, PRODUCER_SM2.text())
    monkeypatch.setenv(cli.PROVIDER_CODE_ENV, PRODUCER)
    src, burned, final = tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "c.mp4"
    src.write_bytes(video(seconds=3, size="480x270"))
    assert cli.main(["burn", str(src), "-o", str(burned)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["ok"] is True
    assert shown["measured"]["measured_duration_s"] >= 2.0
    assert cli.main(["embed", str(burned), "-o", str(final), "--produce-id", "v-1"]) == 0
    capsys.readouterr()
    assert files.content_hash(final.read_bytes()) == files.content_hash(burned.read_bytes())
    public = PRODUCER_SM2.public_key().hex()
    assert cli.main(["verify", str(final), "--public-key", public]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
