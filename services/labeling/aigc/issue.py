"""Issuing labels: the producer's first write (GB-I4, GB-I5, GB-I7) and a platform's propagation (GB-I6).

ReservedCode1/2 hold SecurityData signed with SM3withSM2 (TC260-PG-202511A) when the key is an
SM2 key, or the older `dsgov1` Ed25519 value when it is an Ed25519 key.

First write (sources disagree, regulations.md GB-I7): GB 45438 Annex E Note 1 and the TC260 video
guide (ContentPropagator and PropagateID are mandatory keys) have the generator fill the
propagation fields with its own production fields; one implementation leaves them for the first
platform. dsgov follows the guides (`copy`, the default); `empty` is available for deployments
that must do otherwise.
"""

from __future__ import annotations

from typing import Final, Literal

from services.labeling.aigc import integrity, security_data, sm2
from services.labeling.aigc.keys import SigningKey
from services.labeling.aigc.label import AigcLabel, LabelValue

FirstWrite = Literal["copy", "empty"]
FIRST_WRITE_MODES: Final = ("copy", "empty")


def produce(
    *,
    producer_code: str,
    produce_id: str,
    content_sha256: str,
    key: SigningKey,
    first_write: FirstWrite = "copy",
) -> AigcLabel:
    """Label "1" signed for `content_sha256`; on first write propagation = production (GB-I7) by default."""
    if isinstance(key, sm2.Sm2PrivateKey):
        fields = {"Label": "1", "ContentProducer": producer_code, "ProduceID": produce_id}
        rc1 = security_data.make(key, security_data.RC1_BINDINGS, fields, content_sha256)
    else:
        message = integrity.rc1_message("1", producer_code, produce_id, content_sha256)
        rc1 = integrity.make(key, message, content_sha256)
    if first_write == "empty":
        return AigcLabel("1", producer_code, produce_id, rc1, "", "", "")
    return AigcLabel("1", producer_code, produce_id, rc1, producer_code, produce_id, rc1)


def propagate(
    base: AigcLabel, *, propagator_code: str, propagate_id: str, content_sha256: str, key: SigningKey
) -> AigcLabel:
    """`base` with the platform's propagation fields and its ReservedCode2 (LB-6)."""
    if isinstance(key, sm2.Sm2PrivateKey):
        fields = dict(base.to_object()["AIGC"])
        fields |= {"ContentPropagator": propagator_code, "PropagateID": propagate_id}
        rc2 = security_data.make(key, security_data.RC2_BINDINGS, fields, content_sha256)
    else:
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
