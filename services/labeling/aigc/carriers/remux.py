"""OGG (Vorbis, Opus) and Matroska/WebM: the tag `AIGC` written by remuxing with ffmpeg.

OGG: a Vorbis comment `AIGC=` (TC260-PG-202510A); MKV/WebM: a `Tags/Tag/SimpleTag` named `AIGC`
(PG-20257A); the value is the bare 7-field object. Both containers keep these tags in structures
that cannot be grown in place without moving everything after them (Ogg header pages with
sequence numbers and CRCs, EBML elements addressed by Cues and SeekHead), so the file is remuxed
with `ffmpeg -map 0 -c copy -map_metadata 0 -metadata AIGC=…`: every packet is copied unchanged,
the container is rewritten.

Content hash: the bytes change on remux, so for these formats it is the SHA-256 of ffmpeg's
per-stream packet hashes (`-f streamhash -hash sha256`) and ffprobe's stream parameters
(codec, size, rate, channels, extradata hash; for Ogg the Vorbis id and setup or the OpusHead
header instead of the extradata, which holds the comments) — what is played, not how it is
wrapped. Platforms
hash these files with `dsgov-label inspect`. Reading is mutagen's for OGG and ffprobe's for
Matroska (mutagen has no Matroska support).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from pathlib import Path
from typing import Final

import mutagen
from mutagen import MutagenError
from mutagen.ogg import OggPage

from services.labeling.aigc import ff
from services.labeling.aigc.carriers.base import CarrierError, FoundLabel, found
from services.labeling.aigc.label import AigcLabel

KEY: Final = "AIGC"
_PARAMS: Final = (
    "stream=index,codec_type,codec_name,profile,width,height,pix_fmt,sample_rate,channels,extradata_hash"
)


def _with_file(data: bytes, suffix: str) -> tuple[tempfile.TemporaryDirectory[str], Path]:
    tmp = tempfile.TemporaryDirectory()
    path = Path(tmp.name) / f"in{suffix}"
    path.write_bytes(data)
    return tmp, path


def _remux(data: bytes, suffix: str, value: str) -> bytes:
    tmp, src = _with_file(data, suffix)
    with tmp:
        out = src.with_name(f"out{suffix}")
        tags = ["-metadata", f"{KEY}={value}"]
        if suffix == ".ogg":
            tags += ["-metadata:s:a", f"{KEY}={value}"]  # Ogg keeps the comments per stream
        try:
            ff.run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-nostdin",
                    "-y",
                    "-i",
                    str(src),
                    "-map",
                    "0",
                    "-c",
                    "copy",
                    "-map_metadata",
                    "0",
                    *tags,
                    "-fflags",
                    "+bitexact",
                    str(out),
                ]
            )
        except ff.MediaError as exc:
            raise CarrierError(str(exc)) from None
        return out.read_bytes()


def _ogg_codec_headers(data: bytes) -> bytes:
    """The first stream's codec headers: Vorbis id and setup, or OpusHead — not the comments.

    They decide decoding, while the comment header is where the label lives.
    """
    fileobj = io.BytesIO(data)
    pages: list[OggPage] = []
    try:
        while True:
            page = OggPage(fileobj)  # type: ignore[no-untyped-call]
            if pages and page.serial != pages[0].serial:
                continue
            pages.append(page)
            packets = OggPage.to_packets(pages, strict=False)  # type: ignore[no-untyped-call]
            complete = len(packets) - (0 if page.complete else 1)
            if packets and packets[0].startswith(b"OpusHead") and complete >= 1:
                return bytes(packets[0])
            if complete >= 3:
                return bytes(packets[0]) + bytes(packets[2])
    except (EOFError, MutagenError, ValueError) as exc:
        raise CarrierError(f"OGG: cannot read the header packets: {exc}") from None


def stream_digest(data: bytes, suffix: str) -> str:
    """SHA-256 over the per-stream packet hashes and stream parameters (the content hash)."""
    tmp, src = _with_file(data, suffix)
    with tmp:
        try:
            hashes = ff.run(
                [
                    "ffmpeg",
                    "-v",
                    "error",
                    "-nostdin",
                    "-i",
                    str(src),
                    "-map",
                    "0",
                    "-c",
                    "copy",
                    "-f",
                    "streamhash",
                    "-hash",
                    "sha256",
                    "-",
                ]
            )
            params = ff.run(
                [
                    "ffprobe",
                    "-v",
                    "error",
                    "-show_data_hash",
                    "sha256",
                    "-show_entries",
                    _PARAMS,
                    "-of",
                    "json",
                    str(src),
                ]
            )
        except ff.MediaError as exc:
            raise CarrierError(str(exc)) from None
    streams = json.loads(params).get("streams", [])
    if suffix == ".ogg":  # Xiph extradata includes the comment header: hash the codec headers instead
        for stream in streams:
            stream.pop("extradata_hash", None)
        streams.append({"codec_headers_sha256": hashlib.sha256(_ogg_codec_headers(data)).hexdigest()})
    canonical = json.dumps(streams, sort_keys=True).encode()
    return hashlib.sha256(hashes + b"\n" + canonical).hexdigest()


class OggCarrier:
    """Ogg Vorbis and Ogg Opus."""

    name = "ogg"
    suffix = ".ogg"

    def suffix_of(self, data: bytes) -> str:
        """The file name suffix ffmpeg needs to pick the muxer."""
        return self.suffix

    def sniff(self, data: bytes) -> bool:
        """The OggS capture pattern."""
        return data.startswith(b"OggS")

    def find(self, data: bytes) -> list[FoundLabel]:
        """AIGC comments (mutagen reads the first logical stream's comment header)."""
        try:
            audio = mutagen.File(io.BytesIO(data))
        except (MutagenError, ValueError) as exc:
            raise CarrierError(f"OGG: {exc}") from None
        if audio is None or audio.tags is None:
            return []
        values = [v for k, vs in audio.tags.as_dict().items() if k.upper() == KEY for v in vs]
        return [found("ogg:VorbisComment:AIGC", str(v)) for v in values]

    def strip(self, data: bytes) -> bytes:
        """Remux without the tag (only when there is one: remuxing is not free)."""
        return _remux(data, self.suffix, "") if self.find(data) else data

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Remux with the tag."""
        return _remux(data, self.suffix, label.to_bare_json())


class MatroskaCarrier:
    """Matroska and WebM."""

    name = "matroska"

    def sniff(self, data: bytes) -> bool:
        """The EBML magic number."""
        return data.startswith(b"\x1a\x45\xdf\xa3")

    def suffix_of(self, data: bytes) -> str:
        """The file name suffix ffmpeg needs to pick the muxer."""
        return ".webm" if b"webm" in data[:64] else ".mkv"

    def find(self, data: bytes) -> list[FoundLabel]:
        """Global SimpleTags named AIGC, as ffprobe reports them."""
        tmp, path = _with_file(data, self.suffix_of(data))
        with tmp:
            try:
                info = ff.probe(path)
            except ff.MediaError as exc:
                raise CarrierError(f"Matroska: {exc}") from None
        tags = info.get("format", {}).get("tags", {})
        return [found("matroska:Tags/SimpleTag:AIGC", str(v)) for k, v in tags.items() if k.upper() == KEY]

    def strip(self, data: bytes) -> bytes:
        """Remux without the tag (only when there is one)."""
        return _remux(data, self.suffix_of(data), "") if self.find(data) else data

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Remux with the tag."""
        return _remux(data, self.suffix_of(data), label.to_bare_json())
