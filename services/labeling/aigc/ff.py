"""Running ffmpeg and ffprobe (Debian package `ffmpeg`, in the Makefile's SYSTEM_PACKAGES)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Final

TIMEOUT_S: Final = 600


class MediaError(ValueError):
    """ffmpeg could not read or write the file."""


def run(args: list[str], stdin: bytes | None = None) -> bytes:
    """Run an ffmpeg tool; its stdout, or MediaError with the end of its stderr."""
    try:
        done = subprocess.run(args, input=stdin, capture_output=True, check=False, timeout=TIMEOUT_S)  # noqa: S603
    except FileNotFoundError:
        raise MediaError(f"{args[0]} not found: apt-get install ffmpeg") from None
    if done.returncode != 0:
        raise MediaError(f"{args[0]} failed: {done.stderr.decode('utf-8', 'replace').strip()[-300:]}")
    return done.stdout


def probe(path: Path, *extra: str) -> dict[str, Any]:
    """The streams and format ffprobe reports, as JSON (plus any `extra` options)."""
    out = run(["ffprobe", "-v", "error", "-show_streams", "-show_format", *extra, "-of", "json", str(path)])
    info: dict[str, Any] = json.loads(out)
    return info
