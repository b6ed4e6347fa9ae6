"""What each generation service type implies: biometric editing, consent scope, labels (DS-14.2, DS-17).

Every value of the contract's `ServiceType` appears in each table below; a unit test checks it.
"""

from __future__ import annotations

from typing import Final

# DS-14.2: editing of a real person's face or voice. These need declared subjects, and a user
# sanctioned at level `restricted` may not use them (DS-10.3 "restricting functions").
BIOMETRIC_EDITING: Final = frozenset(
    {"face_swap", "face_manipulation", "pose_manipulation", "voice_cloning", "voice_conversion"}
)

# Which biometric types a consent must cover when subjects are declared for a service type.
# An empty set means any biometric type will do (the subject is named, but the service itself
# does not say whether face or voice is used).
BIOMETRIC_NEEDS: Final[dict[str, frozenset[str]]] = {
    "face_swap": frozenset({"face"}),
    "face_manipulation": frozenset({"face"}),
    "pose_manipulation": frozenset({"face"}),
    "face_generation": frozenset({"face"}),
    "image_generation": frozenset({"face"}),
    "image_editing": frozenset({"face"}),
    "video_generation": frozenset({"face"}),
    "immersive_scene": frozenset({"face"}),
    "voice_cloning": frozenset({"voice"}),
    "voice_conversion": frozenset({"voice"}),
    "voice_synthesis": frozenset({"voice"}),
    "music_generation": frozenset({"voice"}),
    "digital_human": frozenset({"face", "voice"}),
    "text_dialogue": frozenset(),
    "text_writing": frozenset(),
    "other": frozenset(),
}

# DS-17.1: a conspicuous label is mandatory; the value is the item of DS-17.1 ¶1 it falls under.
# `other` is not listed: DS-17.2 asks only for a label *function* the user may apply.
LABEL_ITEMS: Final[dict[str, int]] = {
    "text_dialogue": 1,  # intelligent dialogue
    "text_writing": 1,  # intelligent writing
    "voice_synthesis": 2,  # synthetic voice
    "voice_cloning": 2,  # voice imitation
    "voice_conversion": 2,  # editing that changes personal identity features in speech
    "face_generation": 3,  # face generation
    "face_swap": 3,  # face swap
    "face_manipulation": 3,  # face manipulation
    "pose_manipulation": 3,  # pose manipulation
    "digital_human": 3,  # person image/video generation
    "immersive_scene": 4,  # immersive realistic scenes
    "image_generation": 5,  # other services that generate or significantly alter content
    "image_editing": 5,
    "video_generation": 5,
    "music_generation": 5,
}


def label_required(service_type: str) -> bool:
    """True when DS-17.1 makes an explicit label mandatory for outputs of this service type."""
    return service_type in LABEL_ITEMS


def biometric_editing(service_type: str) -> bool:
    """True for the face and voice editing service types of DS-14.2."""
    return service_type in BIOMETRIC_EDITING
