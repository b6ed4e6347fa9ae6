"""Burning the explicit label: wording (GB-E0), corner and glyph height >= 5 % (GB-E2), text (GB-E1)."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageChops

from services.labeling.aigc import explicit, files, issue
from tests.unit.labeling import samples
from tests.unit.labeling.samples import PRODUCER, PRODUCER_KEY, sha256


@pytest.mark.parametrize(
    ("text", "ok"),
    [("AI生成", True), ("人工智能生成合成", True), ("ai合成内容", True), ("生成", False), ("AI", False)],
)
def test_wording_needs_an_ai_and_a_generation_element(text: str, ok: bool) -> None:
    assert explicit.wording_ok(text) is ok


def _white_rows(burned: bytes, original: bytes) -> tuple[int, int, int, int]:
    """Independent measure: the bounding box of changed pixels that are near-white (the glyph cores)."""
    with Image.open(io.BytesIO(burned)) as b, Image.open(io.BytesIO(original)) as o:
        b_rgb, o_rgb = b.convert("RGB"), o.convert("RGB")
        changed = ImageChops.difference(b_rgb, o_rgb).convert("L").point(lambda v: 255 if v > 0 else 0)
        white = b_rgb.convert("L").point(lambda v: 255 if v >= 200 else 0)
        box = ImageChops.multiply(changed, white).getbbox()
    assert box is not None
    return box


@pytest.mark.parametrize(
    ("size", "corner"),
    [((800, 600), "bottom-right"), ((600, 900), "top-left"), ((1024, 1024), "bottom-left")],
)
def test_png_label_glyphs_are_at_least_five_percent_of_the_shortest_side(
    size: tuple[int, int], corner: str
) -> None:
    original = samples.png(image=Image.new("RGB", size, (40, 90, 160)))
    burned = explicit.burn_image(original, corner=corner)  # type: ignore[arg-type]
    shortest = min(size)
    assert burned.min_glyph_height >= 0.05 * shortest
    left, top, right, bottom = _white_rows(burned.data, original)
    assert bottom - top >= 0.05 * shortest  # measured on the output pixels, not taken from the report
    # in the requested corner: within 10 % of the two edges it names
    horizontal = size[0] - right if corner.endswith("right") else left
    vertical = size[1] - bottom if corner.startswith("bottom") else top
    assert horizontal <= 0.1 * size[0]
    assert vertical <= 0.1 * size[1]


def test_jpeg_burn_keeps_exif_and_drops_the_stale_implicit_label() -> None:
    exif = Image.Exif()
    exif[0x0131] = "generator"
    original = samples.jpeg(1000, 750, exif=exif.tobytes())
    label = issue.produce(
        producer_code=PRODUCER, produce_id="p", content_sha256=sha256(original), key=PRODUCER_KEY
    )
    burned = explicit.burn_image(files.embed(original, label))
    assert burned.dropped_implicit_label
    assert files.find_labels(burned.data) == []
    assert burned.ratio >= 0.05
    with Image.open(io.BytesIO(burned.data)) as image:
        assert image.format == "JPEG"
        assert image.getexif()[0x0131] == "generator"
    _white_rows(burned.data, original)


def test_too_small_images_and_bad_wording_are_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        explicit.burn_image(samples.png(image=Image.new("RGB", (16, 16))))
    with pytest.raises(ValueError, match="GB-E0"):
        explicit.burn_image(samples.png(), text="hello")
    with pytest.raises(ValueError, match="PNG and JPEG"):
        explicit.burn_image(samples.wav())


def test_text_notice_goes_first_and_the_old_label_goes() -> None:
    label = issue.produce(
        producer_code=PRODUCER, produce_id="p", content_sha256=sha256(samples.TEXT), key=PRODUCER_KEY
    )
    out = explicit.burn_text(files.embed(samples.TEXT, label))
    assert out.decode().splitlines()[0] == explicit.DEFAULT_TEXT_NOTICE
    assert explicit.wording_ok(out.decode().splitlines()[0])
    assert files.find_labels(out) == []
    assert out.endswith(samples.TEXT)


def test_a_missing_font_says_which_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(explicit, "FONT_CANDIDATES", ("/nonexistent.ttc",))
    monkeypatch.delenv(explicit.FONT_ENV, raising=False)
    with pytest.raises(explicit.FontMissing, match="fonts-wqy-microhei"):
        explicit.find_font()


def test_text_notice_at_the_end_stays_visible_after_the_front_matter() -> None:
    out = explicit.burn_text(samples.TEXT, placement="end")
    assert out.decode().splitlines()[-1] == explicit.DEFAULT_TEXT_NOTICE
    assert out.startswith(samples.TEXT)
    label = issue.produce(
        producer_code=samples.PRODUCER,
        produce_id="t",
        content_sha256=files.content_hash(out),
        key=samples.PRODUCER_KEY,
    )
    labeled = files.embed(out, label)
    assert labeled.decode().rstrip().endswith(explicit.DEFAULT_TEXT_NOTICE)  # the last 64 characters hold it
    both = explicit.burn_text(samples.TEXT, placement="both").decode().splitlines()
    assert both[0] == both[-1] == explicit.DEFAULT_TEXT_NOTICE
