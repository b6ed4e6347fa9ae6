"""Embed and verify time per file format, with the TC260 guide carriers and SM2 SecurityData.

`python -m bench.label_formats` generates its media first (nothing is downloaded):

- a 4-megapixel image (2304x1728) as PNG, JPEG and WebP (Pillow);
- a 3-minute MP3 (ffmpeg: a sine sweep, libmp3lame 128 kb/s) and the same as FLAC;
- a 30-second 1080p MP4 (ffmpeg: testsrc2 1920x1080 25 fps, libx264 ultrafast, faststart, AAC);
- a PDF, a Markdown text and a DOCX package (small: they show the fixed costs).

For each it times `embed` (content hash + SM3withSM2 signature + carrier) and strict `verify`
(carrier read + content hash + Annex E checks + SM2 verification) `--runs` times and prints the
median and p95 in milliseconds. Needs the Debian ffmpeg package (Makefile SYSTEM_PACKAGES).
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable

from PIL import Image

from services.labeling.aigc import files, issue
from services.labeling.aigc.verify import verify
from tests.unit.labeling import media
from tests.unit.labeling.samples import PRODUCER, PRODUCER_SM2


def image(fmt: str) -> bytes:
    width, height = 2304, 1728  # 3.98 MP
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    gradient = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    picture = Image.blend(noise, gradient, 0.5)
    out = io.BytesIO()
    picture.save(out, fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
    return out.getvalue()


def mp3(codec: str = "libmp3lame", suffix: str = ".mp3") -> bytes:
    tone = ("-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*(200+10*t)*t):s=44100:d=180")
    return media.ffmpeg(
        *tone, "-c:a", codec, *(("-b:a", "128k") if codec == "libmp3lame" else ()), suffix=suffix
    )


def mp4() -> bytes:
    return media.ffmpeg(
        *("-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25", "-f", "lavfi", "-i", "sine=duration=30"),
        *("-t", "30", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac"),
        *("-movflags", "+faststart", "-shortest"),
        suffix=".mp4",
    )


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def bench(name: str, data: bytes, runs: int) -> dict[str, float]:
    def embed() -> bytes:
        label = issue.produce(
            producer_code=PRODUCER,
            produce_id="bench",
            content_sha256=files.content_hash(data),
            key=PRODUCER_SM2,
        )
        return files.embed(data, label)

    labeled = embed()
    public = PRODUCER_SM2.public_key()
    report = verify(labeled, public, producer_code=PRODUCER)
    assert report.findings == [], (name, report.findings)
    embed_ms = timed(embed, runs)
    verify_ms = timed(lambda: verify(labeled, public, producer_code=PRODUCER), runs)
    return {
        "MB": len(data) / 1e6,
        "embed_median": statistics.median(embed_ms),
        "embed_p95": p95(embed_ms),
        "verify_median": statistics.median(verify_ms),
        "verify_p95": p95(verify_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    start = time.perf_counter()
    makers: dict[str, Callable[[], bytes]] = {
        "PNG 4 MP": lambda: image("PNG"),
        "JPEG 4 MP": lambda: image("JPEG"),
        "WebP 4 MP": lambda: image("WEBP"),
        "MP3 3 min": mp3,
        "FLAC 3 min": lambda: mp3("flac", ".flac"),
        "MP4 30 s 1080p": mp4,
        "PDF": media.pdf,
        "Markdown": lambda: media.MARKDOWN,
        "DOCX": lambda: media.ooxml("docx"),
    }
    print(f"{'format':<16}{'MB':>8}{'embed ms (median/p95)':>24}{'verify ms (median/p95)':>26}")
    for name, make in makers.items():
        row = bench(name, make(), args.runs)
        print(
            f"{name:<16}{row['MB']:>8.2f}{row['embed_median']:>14.1f} / {row['embed_p95']:<7.1f}"
            f"{row['verify_median']:>16.1f} / {row['verify_p95']:<7.1f}"
        )
    print(f"total {time.perf_counter() - start:.0f} s (media generation included), {args.runs} runs each")


if __name__ == "__main__":
    main()
