"""Verifying a labeled file (GB-I1..I9, DS-18, LB-10.2) in two modes.

- **strict** — our own labels: exactly one label in a TC260 guide carrier, every Annex E field
  valid, ContentProducer is our provider code (when given), and the integrity data verifies with
  our public key over the label fields and the file's content hash (SecurityData/SM2, or the older
  dsgov1/Ed25519 form).
- **conformance** — any provider's file, as a regulator's checker sees it: GB 45438 Annex E and
  the TC260 guides only. Exactly one label in a guide carrier, keys and order, Label 1/2/3, the
  character set, non-empty production and propagation fields. A provider *name* instead of a code
  (GB-I4 allows either) and an empty or opaque ReservedCode1 are allowed (reported as warnings);
  a SecurityData object that is present must be well formed and its signature must verify with the
  key it carries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.labeling.aigc import files, integrity, security_data, sm2
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel
from services.labeling.aigc.findings import Finding, Severity
from services.labeling.aigc.issue import FirstWrite
from services.labeling.aigc.keys import VerifyKey
from services.labeling.aigc.label import (
    FIELDS,
    LABEL_VALUES,
    AigcLabel,
    LabelFormatError,
    charset_view,
    field_findings,
    value_problem,
)
from services.labeling.aigc.provider_code import provider_code_problem

Mode = Literal["strict", "conformance"]
MODES: Final = ("strict", "conformance")
_CODE_SHAPE: Final = re.compile(r"00[0-9A-Z]{25}")
# Where a guide has the {"AIGC": {...}} wrapper (PNG text chunks, Annex B) or a YAML mapping (text).
_WRAPPED_CARRIERS: Final = ("png:tEXt:", "png:zTXt:", "text:")


@dataclass
class Report:
    """What `verify` found."""

    mode: Mode = "strict"
    format: str | None = None
    content_sha256: str | None = None
    labels: list[FoundLabel] = field(default_factory=list)
    label: AigcLabel | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no finding is an error (warnings allowed)."""
        return not any(f.severity == "error" for f in self.findings)


def verify(
    data: bytes,
    producer_key: VerifyKey | None = None,
    propagator_key: VerifyKey | None = None,
    *,
    mode: Mode = "strict",
    producer_code: str | None = None,
    first_write: FirstWrite = "copy",
) -> Report:
    """Check `data`; strict mode needs `producer_key` (and checks `producer_code` when given)."""
    report = Report(mode=mode)
    label = _read_label(data, report)
    if label is None:
        return report
    if mode == "strict":
        if producer_key is None:
            raise ValueError("strict verification needs the producer's public key")
        report.findings += _strict_fields(label, producer_code, first_write)
        report.findings += _production_findings(label, report.content_sha256 or "", producer_key)
    else:
        report.findings += _conformance_fields(label)
        report.findings += _conformance_integrity(label, report.content_sha256 or "", producer_key)
    report.findings += _propagation_findings(label, report.content_sha256 or "", propagator_key, mode)
    return report


def _read_label(data: bytes, report: Report) -> AigcLabel | None:
    """Format, labels, content hash; the first label parsed (None, with findings, when there is none)."""
    try:
        report.format = files.format_of(data)
        report.labels = files.find_labels(data)
        report.content_sha256 = files.content_hash(data)
    except files.UnknownFormat as exc:
        report.findings.append(Finding("file_format_unknown", str(exc)))
        return None
    except CarrierError as exc:
        report.findings.append(Finding("file_corrupt", str(exc)))
        return None
    if not report.labels:
        report.findings.append(Finding("label_missing"))
        return None
    if len(report.labels) > 1:
        where = ", ".join(found.carrier for found in report.labels)
        report.findings.append(Finding("label_duplicated", f"{len(report.labels)} labels: {where}"))
    first = report.labels[0]
    if first.legacy:  # readers that follow the guides do not look there
        severity: Severity = "error" if report.mode == "conformance" else "warning"
        report.findings.append(Finding("label_carrier_not_guide", first.carrier, severity))
    if not first.legacy and not first.bare and not first.carrier.startswith(_WRAPPED_CARRIERS):
        report.findings.append(Finding("label_payload_wrapped", first.carrier, "warning"))
    try:
        report.label = AigcLabel.parse(first.text)
    except LabelFormatError as exc:
        report.findings.append(exc.finding)
        return None
    return report.label


def _strict_fields(label: AigcLabel, producer_code: str | None, first_write: FirstWrite) -> list[Finding]:
    found = field_findings(label)
    if first_write == "empty" and not (
        label.content_propagator or label.propagate_id or label.reserved_code2
    ):
        found = [f for f in found if f.code != "propagation_fields_missing"]  # configured: left to platforms
    if producer_code and label.content_producer and label.content_producer != producer_code:
        found.append(Finding("producer_not_ours", f"ContentProducer is {label.content_producer!r}"))
    return found


def _name_or_code(name: str, value: str, invalid: str) -> list[Finding]:
    """GB-I4/GB-I6 allow a provider name or code: a code-shaped value must be a valid code."""
    if _CODE_SHAPE.fullmatch(value):
        problem = provider_code_problem(value)
        return [Finding(invalid, problem)] if problem else []
    return [Finding("provider_name_used", f"{name} {value!r} is not a 27-character code", "warning")]


def _conformance_fields(label: AigcLabel) -> list[Finding]:
    found: list[Finding] = []
    if label.label not in LABEL_VALUES:
        found.append(Finding("label_value_invalid", f"Label is {label.label!r}"))
    for name, value in zip(FIELDS, label.values(), strict=True):
        problem = value_problem(charset_view(name, value))
        if problem:
            found.append(Finding("label_charset_invalid", f"{name}: {problem}"))
    if label.label == "1" or label.content_producer:
        if not label.content_producer:
            found.append(Finding("producer_missing"))
        else:
            found += _name_or_code("ContentProducer", label.content_producer, "producer_code_invalid")
        if not label.produce_id:
            found.append(Finding("produce_id_missing"))
    if not label.content_propagator or not label.propagate_id:
        found.append(Finding("propagation_fields_missing"))
    elif label.content_propagator != label.content_producer:
        found += _name_or_code("ContentPropagator", label.content_propagator, "propagator_code_invalid")
    return found


def _fields(label: AigcLabel) -> dict[str, str]:
    return dict(label.to_object()["AIGC"])


def _security_findings(
    value: str, fields: dict[str, str], actual: str, key: VerifyKey | None, bad: str, mode: Mode
) -> list[Finding]:
    """A SecurityData value: well formed, signed by `key` (strict) over the fields and the content."""
    try:
        data = security_data.parse(value)
    except security_data.SecurityDataError as exc:
        return [Finding("security_data_invalid", str(exc))]
    found: list[Finding] = []
    if data.content_sha256 and data.content_sha256 != actual:
        detail = f"signed for {data.content_sha256}, file is {actual}"
        found.append(Finding("content_changed", detail, "error" if mode == "strict" else "warning"))
    if isinstance(key, sm2.Sm2PublicKey) and data.public_key != key:
        found.append(Finding("signing_key_unknown", f"made with key {data.public_key.hex()[:18]}…"))
    elif key is None or not isinstance(key, sm2.Sm2PublicKey):
        if mode == "strict":
            found.append(
                Finding("signing_key_unknown", "SM2 SecurityData, but the key given is not an SM2 key")
            )
        else:
            found.append(Finding("signing_key_untrusted", "verified with the key it carries", "warning"))
    if not security_data.signature_ok(data, fields):
        found.append(Finding(bad))
    return found


def _ed25519_findings(
    value: str, message_for: bytes, actual: str, key: VerifyKey | None, bad: str, mode: Mode
) -> list[Finding]:
    data = integrity.parse(value)
    assert data is not None
    found: list[Finding] = []
    if data.content_sha256 != actual:
        detail = f"signed for {data.content_sha256}, file is {actual}"
        found.append(Finding("content_changed", detail, "error" if mode == "strict" else "warning"))
    if not isinstance(key, Ed25519PublicKey):
        if mode == "strict":
            found.append(
                Finding("signing_key_unknown", "dsgov1 (Ed25519) data, but the key given is not Ed25519")
            )
        else:
            found.append(Finding("integrity_data_unverified", "dsgov1 data; no Ed25519 key given", "warning"))
        return found
    if data.key_id != integrity.key_id(key):
        found.append(Finding("signing_key_unknown", f"made with key {data.key_id}"))
    elif not integrity.signature_ok(key, message_for, data):
        found.append(Finding(bad))
    return found


def _production_findings(label: AigcLabel, actual: str, key: VerifyKey) -> list[Finding]:
    if label.label != "1" and not label.content_producer and not label.reserved_code1:
        return []  # a platform's "2"/"3" label for content of unknown origin (LB-6)
    return _rc1_findings(label, actual, key, "strict")


def _rc1_findings(label: AigcLabel, actual: str, key: VerifyKey | None, mode: Mode) -> list[Finding]:
    value = label.reserved_code1
    if not value:
        if mode == "conformance":
            return [Finding("integrity_data_empty", severity="warning")]
        return [Finding("integrity_data_missing")]
    if security_data.looks_like(value):
        return _security_findings(value, _fields(label), actual, key, "signature_invalid", mode)
    data = integrity.parse(value)
    if data is None:
        if mode == "conformance":
            return [Finding("integrity_data_unverified", "an opaque ReservedCode1 (allowed)", "warning")]
        return [Finding("integrity_data_invalid", "neither SecurityData nor dsgov1")]
    message = integrity.rc1_message(
        label.label, label.content_producer, label.produce_id, data.content_sha256
    )
    return _ed25519_findings(value, message, actual, key, "signature_invalid", mode)


def _conformance_integrity(label: AigcLabel, actual: str, key: VerifyKey | None) -> list[Finding]:
    if label.label != "1" and not label.content_producer and not label.reserved_code1:
        return []
    return _rc1_findings(label, actual, key, "conformance")


def _propagation_findings(label: AigcLabel, actual: str, key: VerifyKey | None, mode: Mode) -> list[Finding]:
    if not label.content_propagator or not label.propagate_id:
        return []  # reported with the fields
    if label.content_propagator == label.content_producer and label.propagate_id == label.produce_id:
        if label.reserved_code2 != label.reserved_code1:
            return [Finding("first_write_mismatch", "ReservedCode2 differs from ReservedCode1")]
        return []
    value = label.reserved_code2
    if security_data.looks_like(value):
        if key is None and mode == "strict":
            return [Finding("propagator_not_checked", severity="warning")]
        bad = "propagator_signature_invalid"
        return _security_findings(value, _fields(label), actual, key, bad, mode)
    if key is None:
        return [Finding("propagator_not_checked", severity="warning")]
    data = integrity.parse(value)
    if data is None:
        if mode == "conformance":
            return [Finding("integrity_data_unverified", "an opaque ReservedCode2 (allowed)", "warning")]
        return [Finding("integrity_data_invalid", "ReservedCode2 is neither SecurityData nor dsgov1")]
    message = integrity.rc2_message(
        label.label,
        label.content_producer,
        label.produce_id,
        label.reserved_code1,
        label.content_propagator,
        label.propagate_id,
        data.content_sha256,
    )
    return _ed25519_findings(value, message, actual, key, "propagator_signature_invalid", mode)
