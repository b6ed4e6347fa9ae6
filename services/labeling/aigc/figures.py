"""The explicit-label figures and wording (GB 45438 §5, GB-E1..E6), in one place.

The label events (`explicit_label` in `dsgov.content.labeled`), `dsgov-label burn` and the burn
checks all read these; change a figure here and every one of them follows (issue 14 correction 7).
"""

from __future__ import annotations

from typing import Final

MIN_HEIGHT_RATIO: Final = 0.05  # GB-E2, GB-E4, GB-E5: glyph height / shorter side of image or frame
MIN_DURATION_S: Final = 2.0  # GB-E4, GB-E5: the label shown on the opening frames at least this long
TEXT_NOTICE: Final = "【本内容由人工智能生成】"  # GB-E1: at the start or end of a text
IMAGE_TEXT: Final = "AI生成"  # GB-E2, GB-E4, GB-E5: on an image edge/corner, a video's opening frames
AUDIO_NOTICE: Final = "本内容由人工智能生成"  # GB-E3: spoken at the start or end
AUDIO_RHYTHM: Final = ".- .."  # GB-E3: the Morse rhythm of "AI" (short-long, short-short)
INTERFACE_TEXT: Final = "内容由AI生成"  # GB-E6: persistent in an interactive interface
