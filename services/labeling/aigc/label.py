"""The GB 45438 Annex E metadata label: `{"AIGC": {seven keys}}` (GB-I1..I8).

Serialised compactly with the keys in Annex E order (GB-I2); every value is a string of the
single-byte characters 0x21, 0x23-0x5B, 0x5D-0x7E (GB-I8), so the JSON never needs escapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from services.labeling.aigc.findings import Finding
from services.labeling.aigc.provider_code import provider_code_problem

LabelValue = Literal["1", "2", "3"]

KEY: Final = "AIGC"
FIELDS: Final = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
LABEL_VALUES: Final = ("1", "2", "3")  # GB-I3: is / possibly / suspected AI-generated
MAX_VALUE_LENGTH: Final = 2048  # SecurityData is ~450 characters; keeps a hostile label bounded


def allowed_char(ch: str) -> bool:
    r"""GB-I8: printable ASCII except space, `"` and `\`."""
    code = ord(ch)
    return code == 0x21 or 0x23 <= code <= 0x5B or 0x5D <= code <= 0x7E


def value_problem(value: str) -> str | None:
    """Why `value` is not an allowed label value, or None."""
    if len(value) > MAX_VALUE_LENGTH:
        return f"longer than {MAX_VALUE_LENGTH} characters"
    bad = sorted({ch for ch in value if not allowed_char(ch)})
    return f"characters not allowed: {bad!r}" if bad else None


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its (key, value) pairs: keeps order and duplicates, unlike a dict or an array."""


class LabelFormatError(ValueError):
    """A label text that is not an Annex E `AIGC` object; carries the finding."""

    def __init__(self, finding: Finding) -> None:
        """Keep the finding for the caller."""
        super().__init__(f"{finding.code}: {finding.detail}")
        self.finding = finding


@dataclass(frozen=True)
class AigcLabel:
    """The seven Annex E fields."""

    label: str
    content_producer: str
    produce_id: str
    reserved_code1: str
    content_propagator: str
    propagate_id: str
    reserved_code2: str

    def values(self) -> tuple[str, ...]:
        """The values in Annex E order."""
        return (
            self.label,
            self.content_producer,
            self.produce_id,
            self.reserved_code1,
            self.content_propagator,
            self.propagate_id,
            self.reserved_code2,
        )

    def to_object(self) -> dict[str, dict[str, str]]:
        """`{"AIGC": {...}}` with the keys in Annex E order (dicts keep insertion order)."""
        return {KEY: dict(zip(FIELDS, self.values(), strict=True))}

    def to_json(self) -> str:
        """The compact `{"AIGC":{...}}` serialisation (GB 45438 Annex E b); PNG tEXt, events)."""
        return json.dumps(self.to_object(), separators=(",", ":"), ensure_ascii=True)

    def to_bare_json(self) -> str:
        """The bare 7-field object the TC260 guides put in XMP, MP4, WAV, ID3, Vorbis, PDF, OOXML."""
        return json.dumps(self.to_object()[KEY], separators=(",", ":"), ensure_ascii=True)

    def with_propagation(self, propagator: str, propagate_id: str, reserved_code2: str) -> AigcLabel:
        """The same production fields with new propagation fields (LB-6)."""
        return replace(
            self, content_propagator=propagator, propagate_id=propagate_id, reserved_code2=reserved_code2
        )

    @property
    def is_first_write(self) -> bool:
        """True when the propagation fields equal the production fields (GB-I7)."""
        return (
            self.content_propagator == self.content_producer
            and self.propagate_id == self.produce_id
            and self.reserved_code2 == self.reserved_code1
        )

    @classmethod
    def from_fields(cls, fields: dict[str, str]) -> AigcLabel:
        """From a mapping with the seven Annex E keys."""
        return cls(*(fields[k] for k in FIELDS))

    @classmethod
    def parse(cls, text: str | bytes) -> AigcLabel:
        """Parse a serialised label; LabelFormatError with the finding when it is not one."""
        try:
            pairs = json.loads(text, object_pairs_hook=_Pairs)
        except (ValueError, UnicodeDecodeError) as exc:
            raise LabelFormatError(Finding("label_not_json", f"{type(exc).__name__}")) from None
        return cls._from_pairs(pairs)

    @classmethod
    def _from_pairs(cls, pairs: Any) -> AigcLabel:
        """From JSON parsed into `_Pairs` (keeps key order and duplicates)."""
        if not isinstance(pairs, _Pairs) or len(pairs) != 1 or pairs[0][0] != KEY:
            raise LabelFormatError(Finding("label_not_json", 'expected exactly {"AIGC": {...}}'))
        inner = pairs[0][1]
        if not isinstance(inner, _Pairs):
            raise LabelFormatError(Finding("label_keys_invalid", "AIGC is not an object"))
        keys = [k for k, _ in inner]
        if sorted(keys) != sorted(FIELDS):
            raise LabelFormatError(Finding("label_keys_invalid", f"keys {keys}"))
        if tuple(keys) != FIELDS:
            raise LabelFormatError(Finding("label_key_order", f"keys in order {keys}"))
        values = dict(inner)
        wrong = [k for k, v in values.items() if not isinstance(v, str)]
        if wrong:
            raise LabelFormatError(Finding("label_value_invalid", f"not strings: {wrong}"))
        return cls.from_fields(values)


def charset_view(name: str, value: str) -> str:
    """The value as the GB-I8 check sees it.

    A ReservedCode holding a SecurityData JSON object (TC260-PG-202511A) is checked without its
    quotes, which the label's JSON serialisation escapes; every other character must be allowed.
    """
    if name.startswith("ReservedCode") and value.startswith('{"SecurityData"'):
        return value.replace('"', "")
    return value


def field_findings(label: AigcLabel) -> list[Finding]:
    """Every field-level problem: value enum, character set, codes, required fields (GB-I3..I8)."""
    found: list[Finding] = []
    if label.label not in LABEL_VALUES:
        found.append(Finding("label_value_invalid", f"Label is {label.label!r}"))
    for name, value in zip(FIELDS, label.values(), strict=True):
        problem = value_problem(charset_view(name, value))
        if problem:
            found.append(Finding("label_charset_invalid", f"{name}: {problem}"))
    if label.label == "1" or label.content_producer:
        # A confirmed label names its producer; a platform's "2"/"3" may not know it (LB-6).
        problem = provider_code_problem(label.content_producer)
        if problem:
            found.append(Finding("producer_code_invalid", problem))
        if not label.produce_id:
            found.append(Finding("produce_id_missing"))
    if not label.content_propagator or not label.propagate_id:
        found.append(Finding("propagation_fields_missing"))
    elif label.content_propagator != label.content_producer:
        problem = provider_code_problem(label.content_propagator)
        if problem:
            found.append(Finding("propagator_code_invalid", problem))
    return found
