"""Explicit labels for audio (GB-E3) and video (GB-E4), burned with ffmpeg and then measured.

Video: the plate of `explicit.overlay` (the text `AI生成`, every glyph >= 5 % of the shorter
side) is laid over the opening frames for `min_duration` seconds (default 2 s), then re-encoded.
Audio: the Morse rhythm of "AI" (`.- ..`, a 1 kHz tone, 120 ms unit) is put before the start and
after the end. Both outputs are then *measured*, not assumed: the video is decoded again and the
plate is looked for frame by frame (how long it stays, how tall the white text is); the audio is
decoded again and the rhythm is detected at its start and its end. The results go into the
returned report; `ok` is true only when every measured figure meets the rule.

Any implicit label is dropped (it was bound to the old content): embed a new one afterwards. The
ffmpeg binary is the Debian package `ffmpeg` (also in the Makefile's SYSTEM_PACKAGES).
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from services.labeling.aigc import explicit, ff, figures, files
from services.labeling.aigc.ff import MediaError

MORSE_AI: Final = ".- .."
UNIT_S: Final = 0.12
TONE_HZ: Final = 1000.0
MIN_DURATION_S: Final = figures.MIN_DURATION_S  # GB-E4
AUDIO_FORMATS: Final = ("wav", "mp3", "flac", "ogg", "mp4")
VIDEO_FORMATS: Final = ("mp4", "matroska", "avi")
# Re-encode with the input's own codec family (decoder name -> encoder).
_AUDIO_CODECS: Final = {
    "pcm_s16le": "pcm_s16le",
    "mp3": "libmp3lame",
    "flac": "flac",
    "aac": "aac",
    "vorbis": "libvorbis",
    "opus": "libopus",
}
_VIDEO_CODECS: Final = {"h264": "libx264", "hevc": "libx264", "mpeg4": "mpeg4", "vp9": "libvpx-vp9"}
_QUALITY: Final = {
    "libx264": ["-crf", "18"],
    "libvpx-vp9": ["-crf", "18", "-b:v", "0", "-deadline", "realtime"],
    "mpeg4": ["-q:v", "2"],
}
_SUFFIX: Final = {"wav": ".wav", "mp3": ".mp3", "flac": ".flac", "ogg": ".ogg", "avi": ".avi"}


def suffix_for(data: bytes) -> str:
    """The file name suffix that makes ffmpeg pick the same container again."""
    fmt = files.format_of(data)
    if fmt == "mp4":
        return ".mov" if data[8:12] == b"qt  " else ".mp4"
    if fmt == "matroska":
        return ".webm" if b"webm" in data[:64] else ".mkv"
    if fmt not in _SUFFIX:
        raise ValueError(f"not an audio or video format: {fmt}")
    return _SUFFIX[fmt]


def probe(path: Path) -> dict[str, Any]:
    """The streams and format ffprobe reports, as JSON."""
    return ff.probe(path)


def _stream(info: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((s for s in info.get("streams", []) if s.get("codec_type") == kind), None)


def has_video(data: bytes) -> bool:
    """True when the file holds a video stream (an M4A does not)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"probe{suffix_for(data)}"
        path.write_bytes(data)
        return _stream(probe(path), "video") is not None


# --- audio ---


def rhythm(rate: int, pattern: str = MORSE_AI, unit_s: float = UNIT_S) -> NDArray[np.float32]:
    """The Morse pattern as a tone (dot 1 unit, dash 3, gaps 1 within a letter, 3 between letters)."""
    unit = round(unit_s * rate)
    t = np.arange(3 * unit) / rate
    tone = (0.5 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    fade = min(unit // 10, round(0.005 * rate))
    ramp = np.linspace(0, 1, fade, dtype=np.float32)
    parts: list[NDArray[np.float32]] = []
    for i, symbol in enumerate(pattern):
        if symbol == " ":
            parts.append(np.zeros(2 * unit, np.float32))  # with the 1-unit gap below: 3 units
            continue
        beep = tone[: unit if symbol == "." else 3 * unit].copy()
        beep[:fade] *= ramp
        beep[-fade:] *= ramp[::-1]
        parts.append(beep)
        if i < len(pattern) - 1:
            parts.append(np.zeros(unit, np.float32))
    return np.concatenate(parts)


@dataclass
class AudioReport:
    """What was measured in the burned audio."""

    prompt_at_start: bool
    prompt_at_end: bool
    start_pattern: str
    end_pattern: str
    duration_s: float

    @property
    def ok(self) -> bool:
        """GB-E3: the prompt is present at the start and at the end."""
        return self.prompt_at_start and self.prompt_at_end


def detect_rhythm(samples: NDArray[np.float32], rate: int, unit_s: float = UNIT_S) -> str:
    """The on/off pattern of the 1 kHz tone in `samples`, as Morse text (e.g. `.- ..`)."""
    hop = max(1, round(0.01 * rate))
    frames = len(samples) // hop
    if frames == 0:
        return ""
    blocks = samples[: frames * hop].reshape(frames, hop)
    n = np.arange(hop)
    probe_wave = np.exp(-2j * np.pi * TONE_HZ * n / rate)
    level = np.abs(blocks @ probe_wave) / hop  # the tone's amplitude in each 10 ms block
    on = level > 0.1
    runs: list[tuple[bool, int]] = []
    for value in on:
        if runs and runs[-1][0] == bool(value):
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((bool(value), 1))
    while runs and not runs[0][0]:
        runs.pop(0)
    while runs and not runs[-1][0]:
        runs.pop()
    unit = unit_s / 0.01
    out = ""
    for is_on, length in runs:
        if is_on:
            out += "." if length < 2 * unit else "-"
        elif length >= 2 * unit:
            if length > 6 * unit:
                break  # the rhythm is over
            out += " "
    return out


def _decode_pcm(path: Path, rate: int) -> NDArray[np.float32]:
    raw = ff.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            str(rate),
            "-",
        ]
    )
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0


def measure_audio(path: Path, window_s: float = 3.0) -> AudioReport:
    """Decode `path` and look for the rhythm in its first and last `window_s` seconds."""
    rate = 16000
    pcm = _decode_pcm(path, rate)
    window = round(window_s * rate)
    start = detect_rhythm(pcm[:window], rate)
    end = detect_rhythm(pcm[-window:], rate)
    return AudioReport(start == MORSE_AI, end == MORSE_AI, start, end, len(pcm) / rate)


def burn_audio(data: bytes) -> tuple[bytes, AudioReport]:
    """The rhythm before the start and after the end (GB-E3), the same format; measured afterwards."""
    fmt = files.format_of(data)
    if fmt not in AUDIO_FORMATS:
        raise ValueError(f"audio burn supports WAV, MP3, FLAC, OGG and M4A, not {fmt}")
    with tempfile.TemporaryDirectory() as tmp:
        suffix = suffix_for(data)
        src, out = Path(tmp) / f"in{suffix}", Path(tmp) / f"out{suffix}"
        src.write_bytes(data)
        stream = _stream(probe(src), "audio")
        if stream is None:
            raise MediaError("no audio stream")
        encoder = _AUDIO_CODECS.get(str(stream.get("codec_name")))
        if encoder is None:
            raise MediaError(f"cannot re-encode {stream.get('codec_name')} audio")
        rate, channels = int(stream["sample_rate"]), int(stream.get("channels", 1))
        pcm = ff.run(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(src), "-f", "f32le", "-ac", str(channels), "-"]
        )
        body = np.frombuffer(pcm, dtype="<f4").reshape(-1, channels)
        beep = np.repeat(rhythm(rate)[:, None], channels, axis=1)
        pause = np.zeros((round(0.3 * rate), channels), np.float32)
        whole = np.concatenate([pause, beep, pause, body, pause, beep, pause]).astype("<f4")
        bitrate = (
            ["-b:a", str(stream["bit_rate"])]
            if stream.get("bit_rate") and encoder not in ("flac", "pcm_s16le")
            else []
        )
        ff.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-nostdin",
                "-y",
                "-f",
                "f32le",
                "-ar",
                str(rate),
                "-ac",
                str(channels),
                "-i",
                "-",
                "-i",
                str(src),
                "-map",
                "0:a",
                "-map_metadata",
                "1",
                "-metadata",
                "AIGC=",
                "-c:a",
                encoder,
                *bitrate,
                str(out),
            ],
            stdin=whole.tobytes(),
        )
        report = measure_audio(out)
        burned = out.read_bytes()
    return files.carrier_for(burned).strip(burned), report


# --- video ---


@dataclass
class VideoReport:
    """What was measured in the burned video."""

    width: int
    height: int
    fps: float
    box: tuple[int, int, int, int]
    min_glyph_height_px: int  # per character, from the font rendering that was overlaid
    measured_text_height_px: int  # the white text's rows inside the plate in the decoded first frame
    measured_duration_s: float  # how long the plate stays on screen from the first frame
    ratio: float = field(init=False)

    def __post_init__(self) -> None:
        """The smaller of the two heights over the shorter side."""
        shorter = min(self.width, self.height)
        self.ratio = min(self.min_glyph_height_px, self.measured_text_height_px) / shorter

    @property
    def ok(self) -> bool:
        """GB-E4: text >= 5 % of the shorter side, on screen >= 2 s from the opening frame."""
        return self.ratio >= explicit.MIN_HEIGHT_RATIO and self.measured_duration_s >= MIN_DURATION_S - 1e-6


def _gray_frames(path: Path, width: int, height: int, seconds: float) -> NDArray[np.uint8]:
    raw = ff.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-nostdin",
            "-i",
            str(path),
            "-t",
            f"{seconds:.3f}",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "gray",
            "-",
        ]
    )
    count = len(raw) // (width * height)
    return np.frombuffer(raw[: count * width * height], np.uint8).reshape(count, height, width)


def measure_video(
    original: Path, burned: Path, box: tuple[int, int, int, int], seconds: float
) -> tuple[int, float]:
    """(text height in px in the first frame, seconds the plate is on screen from the start)."""
    stream = _stream(probe(burned), "video")
    assert stream is not None
    width, height = int(stream["width"]), int(stream["height"])
    num, den = (int(v) for v in str(stream["avg_frame_rate"]).split("/"))
    fps = num / den if den else 25.0
    before = _gray_frames(original, width, height, seconds).astype(np.int16)
    after = _gray_frames(burned, width, height, seconds).astype(np.int16)
    count = min(len(before), len(after))
    left, top, right, bottom = box
    shown = 0
    for i in range(count):
        inside = np.abs(after[i, top:bottom, left:right] - before[i, top:bottom, left:right]).mean()
        if inside < 20:  # the plate darkens and the text brightens that area far beyond codec noise
            break
        shown += 1
    plate = after[0, top:bottom, left:right] if count else np.zeros((1, 1), np.int16)
    rows = np.nonzero((plate > 200).any(axis=1))[0]
    text_height = int(rows[-1] - rows[0] + 1) if len(rows) else 0
    return text_height, shown / fps


def burn_video(
    data: bytes, *, text: str = figures.IMAGE_TEXT, min_duration: float = MIN_DURATION_S
) -> tuple[bytes, VideoReport]:
    """The plate over the opening `min_duration` seconds (GB-E4), re-encoded; measured afterwards."""
    if files.format_of(data) not in VIDEO_FORMATS:
        raise ValueError("video burn supports MP4, MOV, MKV, WebM and AVI")
    with tempfile.TemporaryDirectory() as tmp:
        suffix = suffix_for(data)  # keep the container
        src, out, png = Path(tmp) / f"in{suffix}", Path(tmp) / f"out{suffix}", Path(tmp) / "plate.png"
        src.write_bytes(data)
        info = probe(src)
        stream = _stream(info, "video")
        if stream is None:
            raise MediaError("no video stream (for audio in MP4/M4A use the audio burn)")
        width, height = int(stream["width"]), int(stream["height"])
        layer = explicit.overlay((width, height), text=text, corner="top-left")
        layer.image.save(png)
        codec = _VIDEO_CODECS.get(str(stream.get("codec_name")), "libx264")
        if suffix == ".webm":
            codec = "libvpx-vp9"  # WebM holds VP8/VP9/AV1 only
        audio = ["-c:a", "copy"] if _stream(info, "audio") else []
        ff.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-nostdin",
                "-y",
                "-i",
                str(src),
                "-i",
                str(png),
                "-filter_complex",
                f"[0:v][1:v]overlay=0:0:enable='lt(t,{min_duration})'[v]",
                "-map",
                "[v]",
                "-map",
                "0:a?",
                "-map_metadata",
                "0",
                "-metadata",
                "AIGC=",
                "-c:v",
                codec,
                *_QUALITY.get(codec, []),
                "-pix_fmt",
                str(stream.get("pix_fmt", "yuv420p")),
                *audio,
                *(["-movflags", "+faststart"] if suffix in (".mp4", ".mov") else []),
                str(out),
            ]
        )
        num, den = (int(v) for v in str(stream["avg_frame_rate"]).split("/"))
        fps = num / den if den else 25.0
        text_height, shown = measure_video(src, out, layer.box, min_duration + 1.0)
        report = VideoReport(width, height, fps, layer.box, layer.min_glyph_height, text_height, shown)
        burned = out.read_bytes()
    if math.isnan(report.ratio):
        raise MediaError("could not measure the burned video")
    return files.carrier_for(burned).strip(burned), report
