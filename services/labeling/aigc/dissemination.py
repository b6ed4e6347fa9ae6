"""Dissemination-side classification and propagation fields (LB-6, GB-I3, GB-I6).

A platform that publishes a file decides, in this order:

1. the file's metadata label says it is AI-generated (Label "1")  -> confirmed, Label "1";
2. otherwise the user declared it AI-generated                   -> possible,  Label "2";
3. otherwise an explicit label or another generation trace shows -> suspected, Label "3";
4. otherwise                                                     -> none: no label is written.

In cases 1-3 the platform writes its propagation fields: ContentPropagator (its own code),
PropagateID (its own id for the item) and ReservedCode2 (its integrity data). A confirmed label
keeps the producer's fields untouched; for "2"/"3" the producer is unknown and left empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from services.labeling.aigc import files, issue
from services.labeling.aigc.carriers.base import CarrierError
from services.labeling.aigc.keys import SigningKey
from services.labeling.aigc.label import AigcLabel, LabelFormatError, LabelValue

Outcome = Literal["confirmed", "possible", "suspected", "none"]

# GB-E0: an "AI" element and a "generated/synthesised" element.
EXPLICIT_WORDING: Final = re.compile(r"(人工智能|AI)[^\n]{0,12}?(生成|合成)", re.IGNORECASE)
# Metadata other tools leave behind: diffusion front ends, IPTC digital source type, C2PA manifests.
_TRACES: Final[dict[str, re.Pattern[bytes]]] = {
    "iptc_digital_source_type": re.compile(rb"(?:compositeWith)?trainedAlgorithmicMedia", re.IGNORECASE),
    "c2pa_manifest": re.compile(rb"c2pa|caBX"),
    "diffusion_parameters": re.compile(rb"(?:tEXt|iTXt)(?:parameters|prompt|workflow)\x00"),
}
_OUTCOME_VALUE: Final[dict[Outcome, LabelValue | None]] = {
    "confirmed": "1",
    "possible": "2",
    "suspected": "3",
    "none": None,
}


@dataclass(frozen=True)
class Classification:
    """The LB-6 decision for one file and why."""

    outcome: Outcome
    existing: AigcLabel | None = None
    traces: list[str] = field(default_factory=list)

    @property
    def label_value(self) -> LabelValue | None:
        """The Label value the platform writes, or None (no label)."""
        return _OUTCOME_VALUE[self.outcome]


def detect_traces(data: bytes) -> list[str]:
    """Generation traces in the file itself: explicit label wording (text) and telltale metadata."""
    traces = [name for name, pattern in _TRACES.items() if pattern.search(data[:1_000_000])]
    try:
        fmt = files.format_of(data)
    except files.UnknownFormat:
        return traces
    if fmt == "text" and EXPLICIT_WORDING.search(data.decode("utf-8")):
        traces.append("explicit_label_text")
    return traces


def _existing(data: bytes) -> list[AigcLabel]:
    labels: list[AigcLabel] = []
    for found in files.find_labels(data):
        try:
            labels.append(AigcLabel.parse(found.text))
        except LabelFormatError:
            continue
    return labels


def classify(data: bytes, *, user_declared: bool, detected: bool = False) -> Classification:
    """Decide confirmed / possible / suspected / none (LB-6 (1)-(3)).

    `detected` is the platform's own finding (e.g. it recognised an explicit label in the picture).
    """
    try:
        labels = _existing(data)
    except (files.UnknownFormat, CarrierError):
        labels = []
    confirmed = next((lb for lb in labels if lb.label == "1"), None)
    if confirmed:
        return Classification("confirmed", confirmed)
    if user_declared:
        return Classification("possible", labels[0] if labels else None)
    traces = detect_traces(data) + (["platform_detection"] if detected else [])
    if labels:
        traces.append("earlier_platform_label")
    if traces:
        return Classification("suspected", labels[0] if labels else None, traces)
    return Classification("none")


def propagate(
    data: bytes,
    *,
    propagator_code: str,
    propagate_id: str,
    key: SigningKey,
    user_declared: bool,
    detected: bool = False,
) -> tuple[Classification, bytes | None]:
    """Classify and, unless the outcome is none, return the file with the platform's label (one label)."""
    decision = classify(data, user_declared=user_declared, detected=detected)
    value = decision.label_value
    if value is None:
        return decision, None
    if decision.outcome == "confirmed" and decision.existing is not None:
        base = decision.existing
    else:
        base = issue.unattributed(value)
    sha = files.content_hash(data)
    label = issue.propagate(
        base, propagator_code=propagator_code, propagate_id=propagate_id, content_sha256=sha, key=key
    )
    return decision, files.embed(data, label)
