"""Explicit labels (GB-E0..E6): the wording, its check, and burning it into images and text.

Images (GB-E2): a text label in a corner, rendered with a CJK font (WenQuanYi Micro Hei from the
Debian package `fonts-wqy-microhei`, or the file named by `DSGOV_LABEL_FONT`). The height rule is
applied conservatively because the standard does not settle what "text height" measures
(regulations.md §7.1): the font size is raised until EVERY character's own ink height — the
Latin capitals included, not just the taller CJK glyphs — is at least `min_ratio` (5 %) of the
image's shortest side. The image is re-encoded (PNG lossless; JPEG quality 95, Exif and ICC kept);
any implicit label is dropped, since it was bound to the old pixels: embed a new one afterwards.
"""

from __future__ import annotations

import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from PIL import Image, ImageDraw, ImageFont

from services.labeling.aigc import figures, files

Corner = Literal["bottom-right", "bottom-left", "top-right", "top-left"]

DEFAULT_IMAGE_TEXT: Final = figures.IMAGE_TEXT
DEFAULT_TEXT_NOTICE: Final = figures.TEXT_NOTICE
MIN_HEIGHT_RATIO: Final = figures.MIN_HEIGHT_RATIO  # GB-E2 / GB-E4
FONT_ENV: Final = "DSGOV_LABEL_FONT"
FONT_CANDIDATES: Final = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
_AI: Final = re.compile(r"人工智能|AI", re.IGNORECASE)
_GENERATED: Final = re.compile(r"生成|合成")


class FontMissing(RuntimeError):
    """No CJK font is installed."""


def wording_ok(text: str) -> bool:
    """GB-E0: the wording has an AI element and a generation/synthesis element."""
    return bool(_AI.search(text) and _GENERATED.search(text))


def find_font(explicit: str | None = None) -> str:
    """The CJK font file to render with."""
    for path in (explicit, os.environ.get(FONT_ENV), *FONT_CANDIDATES):
        if path and Path(path).is_file():
            return path
    raise FontMissing("no CJK font found: apt-get install fonts-wqy-microhei (or set DSGOV_LABEL_FONT)")


@dataclass(frozen=True)
class Burned:
    """The burned file and what was measured."""

    data: bytes
    box: tuple[int, int, int, int]  # the label plate: left, top, right, bottom
    min_glyph_height: int  # the smallest per-character ink height, in pixels
    shortest_side: int
    font_size: int
    dropped_implicit_label: bool

    @property
    def ratio(self) -> float:
        """Smallest glyph height over the shortest side."""
        return self.min_glyph_height / self.shortest_side


def min_glyph_height(font: ImageFont.FreeTypeFont, text: str) -> int:
    """The smallest ink height among the visible characters of `text` at this font."""
    heights: list[int] = []
    for ch in text:
        if ch.isspace():
            continue
        box = font.getmask(ch).getbbox()  # the ink, not the advance box
        if box:
            heights.append(box[3] - box[1])
    return min(heights) if heights else 0


def fit_font(font_path: str, text: str, target_px: int) -> ImageFont.FreeTypeFont:
    """The smallest font size whose every glyph is at least `target_px` tall."""
    size = max(8, target_px)
    for _ in range(400):
        font = ImageFont.truetype(font_path, size)
        if min_glyph_height(font, text) >= target_px:
            return font
        size += max(1, size // 20)
    raise ValueError("could not size the label font")


def _placement(corner: Corner, size: tuple[int, int], plate: tuple[int, int], margin: int) -> tuple[int, int]:
    width, height = size
    x = width - plate[0] - margin if corner.endswith("right") else margin
    y = height - plate[1] - margin if corner.startswith("bottom") else margin
    return x, y


@dataclass(frozen=True)
class Overlay:
    """A transparent layer the size of the picture with the label plate drawn in one corner."""

    image: Image.Image  # RGBA
    box: tuple[int, int, int, int]  # the plate: left, top, right, bottom
    min_glyph_height: int
    font_size: int


def overlay(
    size: tuple[int, int],
    *,
    text: str = DEFAULT_IMAGE_TEXT,
    corner: Corner = "bottom-right",
    min_ratio: float = MIN_HEIGHT_RATIO,
    font_path: str | None = None,
) -> Overlay:
    """`text` on a dark plate, every glyph >= `min_ratio` of the shorter side (GB-E2, GB-E4)."""
    if not wording_ok(text):
        raise ValueError("the wording needs an AI element and a generation element (GB-E0)")
    shortest = min(size)
    font = fit_font(find_font(font_path), text, math.ceil(min_ratio * shortest))
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    pad = max(2, round(0.2 * (bottom - top)))
    plate = (right - left + 2 * pad, bottom - top + 2 * pad)
    margin = max(2, round(0.02 * shortest))
    if plate[0] + 2 * margin > size[0] or plate[1] + 2 * margin > size[1]:
        raise ValueError("the picture is too small for a legible label of the required height")
    x, y = _placement(corner, size, plate, margin)
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rectangle((x, y, x + plate[0] - 1, y + plate[1] - 1), fill=(0, 0, 0, 150))
    draw.text((x + pad - left, y + pad - top), text, font=font, fill=(255, 255, 255, 255))
    box = (x, y, x + plate[0], y + plate[1])
    return Overlay(layer, box, min_glyph_height(font, text), round(font.size))


def burn_image(
    data: bytes,
    *,
    text: str = DEFAULT_IMAGE_TEXT,
    corner: Corner = "bottom-right",
    min_ratio: float = MIN_HEIGHT_RATIO,
    font_path: str | None = None,
) -> Burned:
    """Draw `text` on a dark plate in `corner`, every glyph >= `min_ratio` of the shortest side (GB-E2)."""
    if not wording_ok(text):
        raise ValueError("the wording needs an AI element and a generation element (GB-E0)")
    fmt = files.format_of(data)
    if fmt not in ("png", "jpeg"):
        raise ValueError(f"burn_image supports PNG and JPEG images, not {fmt}")
    had_label = bool(files.find_labels(data))
    with Image.open(io.BytesIO(data)) as source:
        source.load()
        exif, icc = source.info.get("exif"), source.info.get("icc_profile")
        image = source.convert("RGBA" if source.mode in ("RGBA", "LA", "P") and fmt == "png" else "RGB")
    layer = overlay(image.size, text=text, corner=corner, min_ratio=min_ratio, font_path=font_path)
    out = Image.alpha_composite(image.convert("RGBA"), layer.image)
    buffer = io.BytesIO()
    if fmt == "png":
        (out if image.mode == "RGBA" else out.convert("RGB")).save(buffer, "PNG")
    else:
        extra = {k: v for k, v in (("exif", exif), ("icc_profile", icc)) if v}
        out.convert("RGB").save(buffer, "JPEG", quality=95, **extra)
    return Burned(
        data=buffer.getvalue(),
        box=layer.box,
        min_glyph_height=layer.min_glyph_height,
        shortest_side=min(image.size),
        font_size=layer.font_size,
        dropped_implicit_label=had_label,
    )


TextPlacement = Literal["start", "end", "both"]


def burn_text(data: bytes, *, notice: str = DEFAULT_TEXT_NOTICE, placement: TextPlacement = "start") -> bytes:
    """Put the notice on the first and/or last line of a UTF-8 text (GB-E1, LB-4.2).

    Drops a stale implicit label. The implicit label's front matter goes before the first line
    when it is embedded, so checkers that look for the notice in a text's first characters find
    it only with `end` or `both`.
    """
    if not wording_ok(notice):
        raise ValueError("the wording needs an AI element and a generation element (GB-E0)")
    if files.format_of(data) != "text":
        raise ValueError("burn_text needs UTF-8 text")
    body = files.carrier_for(data).strip(data)
    line = notice.encode("utf-8")
    if placement in ("start", "both"):
        body = line + b"\n" + body
    if placement in ("end", "both"):
        body = body + (b"" if body.endswith(b"\n") or not body else b"\n") + line + b"\n"
    return body
