"""Issuing labels: the producer's first write (GB-I4, GB-I5, GB-I7) and a platform's propagation (GB-I6)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.labeling.aigc import integrity
from services.labeling.aigc.label import AigcLabel, LabelValue


def produce(*, producer_code: str, produce_id: str, content_sha256: str, key: Ed25519PrivateKey) -> AigcLabel:
    """Label "1" signed for `content_sha256`; on first write propagation = production (GB-I7)."""
    rc1 = integrity.make(
        key, integrity.rc1_message("1", producer_code, produce_id, content_sha256), content_sha256
    )
    return AigcLabel("1", producer_code, produce_id, rc1, producer_code, produce_id, rc1)


def propagate(
    base: AigcLabel, *, propagator_code: str, propagate_id: str, content_sha256: str, key: Ed25519PrivateKey
) -> AigcLabel:
    """`base` with the platform's propagation fields and its ReservedCode2 (LB-6)."""
    message = integrity.rc2_message(
        base.label,
        base.content_producer,
        base.produce_id,
        base.reserved_code1,
        propagator_code,
        propagate_id,
        content_sha256,
    )
    rc2 = integrity.make(key, message, content_sha256)
    return base.with_propagation(propagator_code, propagate_id, rc2)


def unattributed(value: LabelValue) -> AigcLabel:
    """A label a platform writes for content of unknown origin ("2" possible, "3" suspected, LB-6)."""
    return AigcLabel(value, "", "", "", "", "", "")
