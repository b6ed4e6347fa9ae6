"""Verifying a labeled file (GB-I1..I9, DS-18, LB-10.2).

Exactly one label, every field valid, integrity data matching the content and the keys. Tampering
of any kind is reported with a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from services.labeling.aigc import files, integrity
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel
from services.labeling.aigc.findings import Finding
from services.labeling.aigc.label import AigcLabel, LabelFormatError, field_findings


@dataclass
class Report:
    """What `verify` found."""

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
    data: bytes, producer_key: Ed25519PublicKey, propagator_key: Ed25519PublicKey | None = None
) -> Report:
    """Check `data` against the producer's public key (and the propagator's, when given)."""
    report = Report()
    try:
        report.format = files.format_of(data)
        report.labels = files.find_labels(data)
        report.content_sha256 = files.content_hash(data)
    except files.UnknownFormat as exc:
        report.findings.append(Finding("file_format_unknown", str(exc)))
        return report
    except CarrierError as exc:
        report.findings.append(Finding("file_corrupt", str(exc)))
        return report
    if not report.labels:
        report.findings.append(Finding("label_missing"))
        return report
    if len(report.labels) > 1:
        where = ", ".join(found.carrier for found in report.labels)
        report.findings.append(Finding("label_duplicated", f"{len(report.labels)} labels: {where}"))
    try:
        report.label = AigcLabel.parse(report.labels[0].text)
    except LabelFormatError as exc:
        report.findings.append(exc.finding)
        return report
    report.findings += field_findings(report.label)
    report.findings += _production_findings(report.label, report.content_sha256, producer_key)
    report.findings += _propagation_findings(report.label, report.content_sha256, propagator_key)
    return report


def _integrity_findings(
    value: str, message: bytes, actual_sha256: str, key: Ed25519PublicKey, bad_signature: str
) -> list[Finding]:
    data = integrity.parse(value)
    if data is None:
        return [Finding("integrity_data_invalid", "not in dsgov1 form")]
    found: list[Finding] = []
    if data.content_sha256 != actual_sha256:
        found.append(Finding("content_changed", f"signed for {data.content_sha256}, file is {actual_sha256}"))
    if data.key_id != integrity.key_id(key):
        found.append(Finding("signing_key_unknown", f"made with key {data.key_id}"))
    elif not integrity.signature_ok(key, message, data):
        found.append(Finding(bad_signature))
    return found


def _production_findings(label: AigcLabel, actual: str, key: Ed25519PublicKey) -> list[Finding]:
    if label.label != "1" and not label.content_producer and not label.reserved_code1:
        return []  # a platform's "2"/"3" label for content of unknown origin (LB-6)
    if not label.reserved_code1:
        return [Finding("integrity_data_missing")]
    data = integrity.parse(label.reserved_code1)
    signed_for = data.content_sha256 if data else actual
    message = integrity.rc1_message(label.label, label.content_producer, label.produce_id, signed_for)
    return _integrity_findings(label.reserved_code1, message, actual, key, "signature_invalid")


def _propagation_findings(label: AigcLabel, actual: str, key: Ed25519PublicKey | None) -> list[Finding]:
    if not label.content_propagator or not label.propagate_id:
        return []  # reported by field_findings
    if label.content_propagator == label.content_producer and label.propagate_id == label.produce_id:
        if label.reserved_code2 != label.reserved_code1:
            return [Finding("first_write_mismatch", "ReservedCode2 differs from ReservedCode1")]
        return []
    if key is None:
        return [Finding("propagator_not_checked", severity="warning")]
    data = integrity.parse(label.reserved_code2)
    signed_for = data.content_sha256 if data else actual
    message = integrity.rc2_message(
        label.label,
        label.content_producer,
        label.produce_id,
        label.reserved_code1,
        label.content_propagator,
        label.propagate_id,
        signed_for,
    )
    return _integrity_findings(label.reserved_code2, message, actual, key, "propagator_signature_invalid")
