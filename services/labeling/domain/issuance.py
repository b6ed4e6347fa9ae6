"""What to issue for an approved output (DS-16, DS-17, LB-4, LB-5, GB-E0..E6, GB-I1..I9).

One implicit label per output item, and the explicit label its modality needs. Pure: keys and
time come in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

from services.labeling.aigc import figures, issue
from services.labeling.aigc.keys import SigningKey
from services.labeling.aigc.label import AigcLabel
from services.labeling.domain.reasons import reason
from shared.contracts.base import ServiceType
from shared.contracts.generation import GenerationOutput
from shared.contracts.labeling import ExplicitLabel, Modality
from shared.messaging.ids import derived_id

TEXT_ITEM: Final = "text"

# DS-17.1 items (1)-(4): these service types always need the conspicuous label. Item (5) ("any
# other service that ... may confuse or mislead") is the review's call: `label_required`.
DS17_MANDATORY: Final[frozenset[str]] = frozenset(
    {
        "text_dialogue",  # (1) intelligent dialogue
        "text_writing",  # (1) intelligent writing
        "voice_synthesis",  # (2)
        "voice_cloning",  # (2)
        "voice_conversion",  # (2)
        "face_generation",  # (3)
        "face_swap",  # (3)
        "face_manipulation",  # (3)
        "pose_manipulation",  # (3)
        "digital_human",  # (3) person image/video generation
        "immersive_scene",  # (4)
    }
)
# Services whose label lives in the interface rather than in a file (GB-E5, GB-E6).
INTERFACE_MODALITY: Final[dict[str, Modality]] = {
    "text_dialogue": "interactive",
    "digital_human": "interactive",
    "immersive_scene": "immersive",
}
EXPLICIT: Final[dict[Modality, ExplicitLabel]] = {
    # GB-E1: text or symbol prompt at the start or the end (LB-4.1).
    "text": ExplicitLabel(modality="text", text=figures.TEXT_NOTICE, placement="start_or_end"),
    # GB-E2: a text prompt on an edge or corner, glyphs >= 5 % of the shortest side.
    "image": ExplicitLabel(
        modality="image",
        text=figures.IMAGE_TEXT,
        placement="edge_or_corner",
        min_height_ratio=figures.MIN_HEIGHT_RATIO,
    ),
    # GB-E3: a spoken notice, or the Morse rhythm of "AI" (short-long, short-short), at start/end/middle.
    "audio": ExplicitLabel(
        modality="audio",
        text=figures.AUDIO_NOTICE,
        placement="start_or_end",
        audio_rhythm=figures.AUDIO_RHYTHM,
    ),
    # GB-E4: on the opening frame, >= 5 % high, shown >= 2 s (end/middle optional).
    "video": ExplicitLabel(
        modality="video",
        text=figures.IMAGE_TEXT,
        placement="opening_frame",
        min_height_ratio=figures.MIN_HEIGHT_RATIO,
        min_duration_s=figures.MIN_DURATION_S,
    ),
    # GB-E6: a persistent, conspicuous notice in the interaction interface.
    "interactive": ExplicitLabel(
        modality="interactive", text=figures.INTERFACE_TEXT, placement="interface_persistent"
    ),
    # GB-E5: on the opening screen (same figures as video reported), optionally during the session.
    "immersive": ExplicitLabel(
        modality="immersive",
        text=figures.IMAGE_TEXT,
        placement="opening_screen_and_interface",
        min_height_ratio=figures.MIN_HEIGHT_RATIO,
        min_duration_s=figures.MIN_DURATION_S,
    ),
}


@dataclass(frozen=True)
class Item:
    """One labeled file of an output: the text, or one media item."""

    key: str  # "text" or the media id
    media_id: str | None
    kind: str  # text, image, audio, video
    sha256: str


@dataclass(frozen=True)
class Issued:
    """The labels for one item."""

    item: Item
    produce_id: str
    implicit: AigcLabel
    modality: Modality
    explicit: ExplicitLabel | None
    reasons: list[dict[str, str]]


def items_of(output: GenerationOutput | None) -> list[Item]:
    """The files to label: the output text (hashed as UTF-8) and every media item."""
    if output is None:
        return []
    found = [Item(m.media_id, m.media_id, m.kind, m.sha256.lower()) for m in output.media]
    if output.text is not None:
        sha = hashlib.sha256(output.text.encode("utf-8")).hexdigest()
        found.insert(0, Item(TEXT_ITEM, None, "text", sha))
    return found


def modality_of(service_type: ServiceType | None, item: Item) -> Modality:
    """Interface services label the interface; otherwise the item's own kind decides."""
    if service_type in INTERFACE_MODALITY and (item.kind == "text" or service_type == "immersive_scene"):
        return INTERFACE_MODALITY[service_type]
    kinds: dict[str, Modality] = {"text": "text", "image": "image", "audio": "audio", "video": "video"}
    return kinds[item.kind]


def explicit_reason(service_type: ServiceType | None, label_required: bool) -> str:
    """Why the explicit label is (or is only offered) for this output."""
    if service_type in DS17_MANDATORY:
        return "explicit_label_ds17_service"
    if label_required:
        return "explicit_label_review_required"
    return "explicit_label_function_offered"


def produce_id(producer_code: str, content_id: str, item_key: str) -> str:
    """Unique per content item and deterministic, so a redelivery issues the very same label (GB-I4)."""
    return derived_id("aigc.produce-id", producer_code, content_id, item_key)


def issue_labels(
    *,
    producer_code: str,
    key: SigningKey,
    content_id: str,
    service_type: ServiceType | None,
    label_required: bool,
    items: list[Item],
) -> list[Issued]:
    """The implicit and explicit labels for each item (deterministic signatures: same input, same label)."""
    why = explicit_reason(service_type, label_required)
    issued = []
    for item in items:
        pid = produce_id(producer_code, content_id, item.key)
        implicit = issue.produce(
            producer_code=producer_code, produce_id=pid, content_sha256=item.sha256, key=key
        )
        modality = modality_of(service_type, item)
        explicit = EXPLICIT[modality] if why != "explicit_label_function_offered" else None
        issued.append(
            Issued(item, pid, implicit, modality, explicit, [reason("implicit_label_issued"), reason(why)])
        )
    return issued
