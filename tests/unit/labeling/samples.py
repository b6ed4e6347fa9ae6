"""Real sample files the labeling tests make themselves (Pillow, the stdlib `wave`, hand-built MP4 boxes)."""

from __future__ import annotations

import hashlib
import io
import struct
import wave
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from services.labeling.aigc.sm2 import Sm2PrivateKey
from shared.standards.identifiers import uscc_check_character


def _code(uscc_body: str, extension: str) -> str:
    return "0011" + uscc_body + uscc_check_character(uscc_body) + extension


# Fictitious organisations with valid GB 32100 check characters (TC260 27-character codes).
PRODUCER: Final = _code("91110108MA0000000", "1TEST")
PLATFORM: Final = _code("91440300MA0000001", "2PLAT")
# Fixed seeds: tests are reproducible, and no key material from elsewhere is used.
PRODUCER_KEY: Final = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"producer-test-key").digest())
PLATFORM_KEY: Final = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"platform-test-key").digest())
OTHER_KEY: Final = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"someone-else").digest())


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gradient(width: int, height: int) -> Image.Image:
    """A picture with structure (not a flat colour), so re-encoding and edits are visible."""
    image = Image.new("RGB", (width, height))
    image.putdata(
        [((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256) for y in range(height) for x in range(width)]
    )
    return image


def png(width: int = 96, height: int = 64, image: Image.Image | None = None) -> bytes:
    out = io.BytesIO()
    (image or gradient(width, height)).save(out, "PNG")
    return out.getvalue()


def jpeg(width: int = 320, height: int = 240, image: Image.Image | None = None, **options: object) -> bytes:
    out = io.BytesIO()
    (image or gradient(width, height)).save(out, "JPEG", quality=90, **options)
    return out.getvalue()


def wav(frames: int = 801, rate: int = 8000) -> bytes:
    """Mono 16-bit PCM; an odd frame count exercises the RIFF pad byte elsewhere."""
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(frames)))
    return out.getvalue()


def wav_frames(data: bytes) -> bytes:
    with wave.open(io.BytesIO(data), "rb") as w:
        return w.readframes(w.getnframes())


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", len(payload) + 8, kind) + payload


def full_box(kind: bytes, version_flags: int, payload: bytes) -> bytes:
    return box(kind, struct.pack(">I", version_flags) + payload)


MP4_SAMPLES: Final = b"\x00\x00\x00\x10sample-bytes-!!"


def mp4(samples: bytes = MP4_SAMPLES) -> bytes:
    """A minimal valid MP4: ftyp, moov (mvhd, one audio trak whose stco points into mdat), mdat."""
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = full_box(
        b"mvhd",
        0,
        struct.pack(">IIII", 0, 0, 1000, 1000)
        + struct.pack(">IH", 0x10000, 0x100)
        + b"\0" * 10
        + matrix
        + b"\0" * 24
        + struct.pack(">I", 2),
    )
    tkhd = full_box(
        b"tkhd",
        7,
        struct.pack(">IIIII", 0, 0, 1, 0, 1000)
        + b"\0" * 8
        + struct.pack(">HHHH", 0, 0, 0x100, 0)
        + matrix
        + struct.pack(">II", 0, 0),
    )
    mdhd = full_box(b"mdhd", 0, struct.pack(">IIIIHH", 0, 0, 8000, 8000, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, struct.pack(">I4s", 0, b"soun") + b"\0" * 12 + b"sound\0")
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41")

    def build(offset: int) -> bytes:
        stsd = full_box(b"stsd", 0, struct.pack(">I", 0))
        stbl = box(
            b"stbl",
            stsd
            + full_box(b"stts", 0, struct.pack(">III", 1, 1, 8000))
            + full_box(b"stsc", 0, struct.pack(">IIII", 1, 1, 1, 1))
            + full_box(b"stsz", 0, struct.pack(">III", len(samples), 0, 1))
            + full_box(b"stco", 0, struct.pack(">II", 1, offset)),
        )
        minf = box(
            b"minf",
            full_box(b"smhd", 0, b"\0" * 4) + box(b"dinf", full_box(b"dref", 0, struct.pack(">I", 0))) + stbl,
        )
        moov = box(b"moov", mvhd + box(b"trak", tkhd + box(b"mdia", mdhd + hdlr + minf)))
        return ftyp + moov

    head = build(0)
    head = build(len(head) + 8)  # the chunk offset points at the first sample inside mdat
    return head + box(b"mdat", samples)


TEXT: Final = "人工智能写的一段文字。\nSecond line.\n".encode()


# SM2 keys (TC260-PG-202511A SecurityData), fixed scalars derived from labels for reproducibility.
def _sm2(seed: bytes) -> Sm2PrivateKey:
    return Sm2PrivateKey(int.from_bytes(hashlib.sha256(seed).digest(), "big") % (2**255) + 1)


PRODUCER_SM2: Final = _sm2(b"producer-sm2-test-key")
PLATFORM_SM2: Final = _sm2(b"platform-sm2-test-key")
OTHER_SM2: Final = _sm2(b"someone-else-sm2")
