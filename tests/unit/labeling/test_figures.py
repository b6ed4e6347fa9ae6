"""Issue 14 correction 7: the explicit-label figures and wording live in one place (GB-E1..E6)."""

from __future__ import annotations

from services.labeling.aigc import explicit, figures, media_burn
from services.labeling.domain.issuance import EXPLICIT


def test_the_label_events_and_the_burn_checks_use_the_same_figures() -> None:
    assert explicit.MIN_HEIGHT_RATIO == figures.MIN_HEIGHT_RATIO == 0.05
    assert media_burn.MIN_DURATION_S == figures.MIN_DURATION_S == 2.0
    for modality in ("image", "video", "immersive"):
        assert EXPLICIT[modality].min_height_ratio == figures.MIN_HEIGHT_RATIO
        assert EXPLICIT[modality].text == explicit.DEFAULT_IMAGE_TEXT == figures.IMAGE_TEXT
    for modality in ("video", "immersive"):
        assert EXPLICIT[modality].min_duration_s == figures.MIN_DURATION_S
    assert EXPLICIT["text"].text == explicit.DEFAULT_TEXT_NOTICE == figures.TEXT_NOTICE
    assert EXPLICIT["audio"].audio_rhythm == figures.AUDIO_RHYTHM


def test_every_wording_passes_the_wording_check() -> None:
    for text in (figures.TEXT_NOTICE, figures.IMAGE_TEXT, figures.AUDIO_NOTICE, figures.INTERFACE_TEXT):
        assert explicit.wording_ok(text), text
