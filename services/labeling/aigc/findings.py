"""Why a label or a file fails a check: stable codes, each tied to the article that requires it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Severity = Literal["error", "warning"]

# code -> (article id from regulations.md, explanation). The codes are printed by `dsgov-label verify`.
FINDINGS: Final[dict[str, tuple[str, str]]] = {
    "file_format_unknown": (
        "LB-5.3",
        "not a supported file format (images, audio, video, PDF, Office, text: see the labeling README)",
    ),
    "file_corrupt": ("LB-5.3", "the file's structure is damaged, so its metadata cannot be read"),
    "label_missing": ("DS-16", "no AIGC metadata label in the file (implicit label required)"),
    "label_duplicated": ("GB-I9", "more than one AIGC metadata label in the file (exactly one allowed)"),
    "label_not_json": ("GB-I2", "the AIGC label is not a JSON object"),
    "label_keys_invalid": ("GB-I1", "the AIGC object must hold exactly the seven Annex E keys"),
    "label_key_order": ("GB-I2", "the AIGC keys are not in Annex E order"),
    "label_value_invalid": ("GB-I3", "Label must be the string 1, 2 or 3"),
    "label_charset_invalid": ("GB-I8", "a value holds characters outside 0x21, 0x23-0x5B, 0x5D-0x7E"),
    "producer_code_invalid": ("GB-I4", "ContentProducer is not a valid 27-character provider code"),
    "produce_id_missing": ("GB-I4", "ProduceID is empty"),
    "propagation_fields_missing": ("GB-I6", "ContentPropagator or PropagateID is empty"),
    "propagator_code_invalid": ("GB-I6", "ContentPropagator is not a valid 27-character provider code"),
    "integrity_data_missing": ("GB-I5", "ReservedCode1 holds no integrity data"),
    "integrity_data_invalid": ("GB-I5", "ReservedCode1/ReservedCode2 is not dsgov1 integrity data"),
    "content_changed": ("DS-18", "the content no longer matches the hash the label was signed for"),
    "signing_key_unknown": ("GB-I5", "the integrity data was made with another key"),
    "signature_invalid": ("LB-10.2", "the signature does not match the label fields (altered or forged)"),
    "first_write_mismatch": ("GB-I7", "on first write the propagation fields must equal the production ones"),
    "propagator_signature_invalid": ("LB-10.2", "ReservedCode2 does not match the propagation fields"),
    "propagator_not_checked": ("GB-I6", "no propagator public key given: ReservedCode2 was not checked"),
    "label_carrier_not_guide": ("LB-5.3", "the label is not where the TC260 guide for this format puts it"),
    "label_payload_wrapped": ("GB-I2", 'the guide carries the bare 7-field object here, not {"AIGC": {...}}'),
    "producer_not_ours": ("GB-I4", "ContentProducer is not this provider's code"),
    "producer_missing": ("GB-I4", "ContentProducer is empty"),
    "provider_name_used": ("GB-I4", "a provider name, not a code (allowed by GB 45438 Annex E)"),
    "security_data_invalid": (
        "GB-I5",
        "ReservedCode holds a malformed SecurityData object (TC260-PG-202511A)",
    ),
    "signing_key_untrusted": ("GB-I5", "the SecurityData signature verifies with the key it carries only"),
    "integrity_data_empty": ("GB-I5", "ReservedCode1 is empty (allowed: it is optional)"),
    "integrity_data_unverified": ("GB-I5", "ReservedCode holds data this checker cannot verify (allowed)"),
}


@dataclass(frozen=True)
class Finding:
    """One problem found, with the article that makes it a problem."""

    code: str
    detail: str = ""
    severity: Severity = "error"

    @property
    def article(self) -> str:
        """The article id the code cites."""
        return FINDINGS[self.code][0]

    @property
    def explanation(self) -> str:
        """What the code means."""
        return FINDINGS[self.code][1]

    def as_dict(self) -> dict[str, str]:
        """A JSON-friendly form (CLI output)."""
        return {
            "code": self.code,
            "article": self.article,
            "severity": self.severity,
            "detail": self.detail or self.explanation,
        }
