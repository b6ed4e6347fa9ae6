"""SecurityData in ReservedCode1/2, signed SM3withSM2 (TC260-PG-202511A, GB-I5, GB-I6).

The SM2 code (gmssl plus this project's nonce, range and curve checks) is checked against OpenSSL
in both directions: OpenSSL's signatures verify here, ours verify in OpenSSL.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from services.labeling.aigc import files, issue, security_data, sm2
from services.labeling.aigc.label import AigcLabel, field_findings
from services.labeling.aigc.verify import verify
from services.labeling.domain.issuance import Item, issue_labels
from tests.unit.labeling import media, samples
from tests.unit.labeling.samples import (
    OTHER_SM2,
    PLATFORM,
    PLATFORM_SM2,
    PRODUCER,
    PRODUCER_KEY,
    PRODUCER_SM2,
    sha256,
)

ID = ["-pkeyopt", "distid:1234567812345678"]


def openssl(*args: str) -> bytes:
    return subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=30).stdout


def openssl_key(tmp: Path) -> tuple[Path, sm2.Sm2PrivateKey, str]:
    pem = tmp / "k.pem"
    openssl("genpkey", "-algorithm", "SM2", "-out", str(pem))
    text = openssl("pkey", "-in", str(pem), "-text", "-noout").decode()
    priv = re.search(r"priv:\s*([0-9a-f:\s]+)pub:", text)
    pub = re.search(r"pub:\s*([0-9a-f:\s]+)ASN1", text)
    assert priv
    assert pub
    d = int("".join(priv[1].split()).replace(":", ""), 16)
    return pem, sm2.Sm2PrivateKey(d), "".join(pub[1].split()).replace(":", "")


def test_openssl_and_this_code_agree_on_keys_and_signatures(tmp_path: Path) -> None:
    pem, key, openssl_pub = openssl_key(tmp_path)
    assert key.public_key().hex() == openssl_pub.zfill(130)
    msg = tmp_path / "msg"
    msg.write_bytes(b'"Label":"1","ContentProducer":"X","ProduceID":"Y"')
    sig = tmp_path / "sig.der"
    openssl(
        "pkeyutl",
        "-sign",
        "-inkey",
        str(pem),
        "-rawin",
        "-in",
        str(msg),
        "-digest",
        "sm3",
        *ID,
        "-out",
        str(sig),
    )
    r, s = decode_dss_signature(sig.read_bytes())
    assert key.public_key().verify(msg.read_bytes(), r.to_bytes(32, "big") + s.to_bytes(32, "big"))
    ours = key.sign(msg.read_bytes())
    sig.write_bytes(encode_dss_signature(int.from_bytes(ours[:32], "big"), int.from_bytes(ours[32:], "big")))
    pub = tmp_path / "pub.pem"
    openssl("pkey", "-in", str(pem), "-pubout", "-out", str(pub))
    out = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        str(pub),
        "-rawin",
        "-in",
        str(msg),
        "-sigfile",
        str(sig),
        "-digest",
        "sm3",
        *ID,
    )
    assert b"Signature Verified Successfully" in out


def test_signing_never_uses_the_random_module(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: object) -> str:
        raise AssertionError("gmssl's random.choice nonce must not be used")

    monkeypatch.setattr(random, "choice", forbidden)
    a = PRODUCER_SM2.sign(b"message")
    assert a == PRODUCER_SM2.sign(b"message")  # derived nonce: deterministic
    assert a != PRODUCER_SM2.sign(b"other message")
    assert PRODUCER_SM2.public_key().verify(b"message", a)


def test_out_of_range_signatures_and_off_curve_keys_are_refused() -> None:
    public = PRODUCER_SM2.public_key()
    assert not public.verify(b"m", b"\0" * 64)  # r = s = 0
    assert not public.verify(b"m", (sm2.N).to_bytes(32, "big") * 2)  # r = s = n
    with pytest.raises(sm2.Sm2KeyError):
        sm2.Sm2PublicKey(public.x, public.y + 1)
    with pytest.raises(sm2.Sm2KeyError):
        sm2.load_private_key("sm2:" + "0" * 64)


def produced(
    data: bytes, key: sm2.Sm2PrivateKey = PRODUCER_SM2, first_write: issue.FirstWrite = "copy"
) -> bytes:
    label = issue.produce(
        producer_code=PRODUCER,
        produce_id="pid-sm2",
        content_sha256=files.content_hash(data),
        key=key,
        first_write=first_write,
    )
    return files.embed(data, label)


def codes(data: bytes, key: sm2.Sm2PublicKey | None = None, **options: object) -> list[str]:
    report = verify(data, key or PRODUCER_SM2.public_key(), **options)  # type: ignore[arg-type]
    return [f.code for f in report.findings]


def test_reserved_code1_is_security_data_and_strict_verify_passes() -> None:
    data = produced(samples.png())
    [found] = files.find_labels(data)
    label = json.loads(found.text)["AIGC"]
    rc1 = json.loads(label["ReservedCode1"])["SecurityData"]
    assert (rc1["Type"], rc1["Bindings"]) == ("TC260PG", "Label,ContentProducer,ProduceID,ContentSHA256")
    assert rc1["ContentSHA256"] == sha256(samples.png())
    assert rc1["PubSD"][0]["Alg"] == "1.2.156.10197.1.501"
    assert rc1["PubSD"][0]["PubKey"] == PRODUCER_SM2.public_key().hex()
    assert label["ReservedCode2"] == label["ReservedCode1"]  # GB-I7 first write
    assert " " not in label["ReservedCode1"]
    assert "\\" not in label["ReservedCode1"]
    assert codes(data, producer_code=PRODUCER) == []


def test_the_signed_text_is_the_bound_members_as_in_the_label() -> None:
    data = produced(samples.wav())
    parsed = security_data.parse(json.loads(files.find_labels(data)[0].text)["AIGC"]["ReservedCode1"])
    signed = (
        f'"Label":"1","ContentProducer":"{PRODUCER}","ProduceID":"pid-sm2",'
        f'"ContentSHA256":"{sha256(samples.wav())}"'
    ).encode()
    assert parsed.public_key.verify(signed, parsed.signature)


def test_security_data_passes_the_annex_e_character_check() -> None:
    data = produced(samples.jpeg())
    assert field_findings(AigcLabel.parse(files.find_labels(data)[0].text)) == []


def test_tampering_is_found() -> None:
    good = produced(samples.jpeg())
    assert codes(good.replace(b"pid-sm2", b"pid-xxx")) == ["signature_invalid"]
    assert codes(good, OTHER_SM2.public_key()) == ["signing_key_unknown"]
    assert codes(good, producer_code=PLATFORM) == ["producer_not_ours"]
    forged = produced(samples.jpeg(), OTHER_SM2)  # a valid signature, but not by our key
    assert codes(forged) == ["signing_key_unknown"]
    assert "signing_key_unknown" in codes(good, PRODUCER_KEY.public_key())  # an Ed25519 key for SM2 data
    image = samples.gradient(320, 240)
    image.putpixel((1, 1), (0, 0, 0))
    moved = files.embed(samples.jpeg(image=image), issue_label(good))
    assert codes(moved) == ["content_changed"]


def issue_label(data: bytes) -> AigcLabel:
    return AigcLabel.parse(files.find_labels(data)[0].text)


def test_propagation_with_an_sm2_platform_key() -> None:
    data = produced(media.pdf())
    label = issue.propagate(
        issue_label(data),
        propagator_code=PLATFORM,
        propagate_id="share-1",
        content_sha256=files.content_hash(data),
        key=PLATFORM_SM2,
    )
    shared = files.embed(data, label)
    assert codes(shared, propagator_key=PLATFORM_SM2.public_key()) == []
    rc2 = json.loads(label.reserved_code2)["SecurityData"]
    assert rc2["Bindings"].split(",")[3:6] == ["ReservedCode1", "ContentPropagator", "PropagateID"]
    assert codes(shared.replace(b"share-1", b"share-2"), propagator_key=PLATFORM_SM2.public_key()) == [
        "propagator_signature_invalid"
    ]


def test_first_write_left_empty_is_configurable() -> None:
    data = produced(samples.png(), first_write="empty")
    label = issue_label(data)
    assert (label.content_propagator, label.propagate_id, label.reserved_code2) == ("", "", "")
    assert codes(data, first_write="empty") == []
    assert "propagation_fields_missing" in codes(data)  # the default follows the TC260 guides


def test_the_service_issues_sm2_labels_deterministically() -> None:
    item = Item("m1", "m1", "image", sha256(b"img"))
    kwargs = dict(
        producer_code=PRODUCER,
        key=PRODUCER_SM2,
        content_id="c1",
        service_type=None,
        label_required=False,
        items=[item],
    )
    first = issue_labels(**kwargs)  # type: ignore[arg-type]
    again = issue_labels(**kwargs)  # type: ignore[arg-type]
    assert first[0].implicit == again[0].implicit  # a redelivery issues the very same label
    assert security_data.parse(first[0].implicit.reserved_code1).content_sha256 == sha256(b"img")
