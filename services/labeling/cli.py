"""`dsgov-label` (`python -m services.labeling.cli`): embed, inspect, verify and burn GB 45438 labels.

    dsgov-label embed IN -o OUT --label LABEL.json        write a label the service issued
    dsgov-label embed IN -o OUT --produce-id ID           sign a new label (key: DSGOV_LABELING_SIGNING_KEY,
                                --producer CODE           code: --producer or DSGOV_LABELING_PROVIDER_CODE)
                                [--first-write copy|empty]
    dsgov-label inspect FILE                              format, labels found, content hash
    dsgov-label verify FILE --public-key KEY [--propagator-public-key KEY] [--producer CODE]
    dsgov-label verify FILE --mode conformance [--public-key KEY]   any provider's file
    dsgov-label burn IN -o OUT [--text AI生成] [--corner bottom-right]   text, PNG/JPEG;
                                                          audio: Morse ".- .." at start and end; video:
                                                          plate on the opening >= 2 s (measured; exit 1
                                                          when a measured figure falls short)
    dsgov-label propagate IN -o OUT --propagator CODE --propagate-id ID [--declared] [--detected]
                                                          (LB-6; key: DSGOV_LABEL_PROPAGATOR_KEY)
    dsgov-label keygen [--algorithm sm2|ed25519]          a new key pair (SM2 by default)

Exit status: 0 success (verify: the label is valid), 1 the file fails (verify lists every
finding), 2 usage or input errors. There is deliberately no command that removes a label (DS-18).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.labeling.aigc import (
    dissemination,
    explicit,
    ff,
    figures,
    files,
    integrity,
    issue,
    keys,
    media_burn,
    security_data,
    sm2,
    verify,
)
from services.labeling.aigc.carriers.base import CarrierError
from services.labeling.aigc.label import AigcLabel, LabelFormatError, field_findings
from services.labeling.aigc.provider_code import provider_code_problem

SIGNING_KEY_ENV = "DSGOV_LABELING_SIGNING_KEY"
PROVIDER_CODE_ENV = "DSGOV_LABELING_PROVIDER_CODE"
PROPAGATOR_KEY_ENV = "DSGOV_LABEL_PROPAGATOR_KEY"
FIRST_WRITE_ENV = "DSGOV_LABEL_FIRST_WRITE"


class UsageError(Exception):
    """Bad arguments or inputs: exit status 2."""


def _print(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def _key_from_env(name: str) -> keys.SigningKey:
    text = os.environ.get(name)
    if not text:
        raise UsageError(f"{name} is not set (the SM2 or Ed25519 private key)")
    try:
        return keys.load_signing_key(text)
    except keys.KeyFormatError as exc:
        raise UsageError(f"{name}: {exc}") from None


def _public_key(text: str) -> keys.VerifyKey:
    path = Path(text)
    source = path.read_text() if path.is_file() else text
    try:
        return keys.load_verify_key(source.strip())
    except keys.KeyFormatError as exc:
        raise UsageError(f"public key: {exc}") from None


def _first_write(option: str | None) -> issue.FirstWrite:
    value = option or os.environ.get(FIRST_WRITE_ENV) or "copy"
    if value == "copy":
        return "copy"
    if value == "empty":
        return "empty"
    raise UsageError(f"{FIRST_WRITE_ENV}/--first-write must be copy or empty")


def _signed_for(value: str) -> str | None:
    """The content hash a ReservedCode value was signed for, when it says."""
    if security_data.looks_like(value):
        try:
            return security_data.parse(value).content_sha256 or None
        except security_data.SecurityDataError:
            return None
    parsed = integrity.parse(value)
    return parsed.content_sha256 if parsed else None


def _label_from_file(path: Path) -> AigcLabel:
    """A label JSON file: `{"AIGC": ...}`, a content.labeled event, or its data."""
    try:
        obj = json.loads(_read(path))
    except ValueError:
        raise UsageError(f"{path} is not JSON") from None
    for candidate in (obj, obj.get("implicit_label"), (obj.get("data") or {}).get("implicit_label")):
        if isinstance(candidate, dict) and "AIGC" in candidate:
            try:
                return AigcLabel.parse(json.dumps(candidate))
            except LabelFormatError as exc:
                raise UsageError(f"{path}: {exc}") from None
    raise UsageError(f"{path} holds no AIGC label")


def cmd_embed(args: argparse.Namespace) -> int:
    """Write exactly one label into the file (an existing one, legacy carriers included, is replaced)."""
    data = _read(args.input)
    sha = files.content_hash(data)
    if args.label:
        label = _label_from_file(args.label)
        signed = _signed_for(label.reserved_code1)
        if signed and signed != sha:
            raise UsageError(f"the label was issued for content {signed}, this file is {sha}")
    else:
        if not args.produce_id:
            raise UsageError("give --label, or --produce-id to sign a new label")
        code = args.producer or os.environ.get(PROVIDER_CODE_ENV, "")
        problem = provider_code_problem(code)
        if problem:
            raise UsageError(f"provider code: {problem}")
        key = _key_from_env(SIGNING_KEY_ENV)
        first_write = _first_write(args.first_write)
        label = issue.produce(
            producer_code=code,
            produce_id=args.produce_id,
            content_sha256=sha,
            key=key,
            first_write=first_write,
        )
    problems = [
        f
        for f in field_findings(label)
        if f.severity == "error"
        and not (f.code == "propagation_fields_missing" and not label.content_propagator)
    ]
    if problems:
        raise UsageError("invalid label: " + "; ".join(f"{f.code}: {f.detail}" for f in problems))
    _write(args.output, files.embed(data, label))
    _print({"written": str(args.output), "content_sha256": sha, "label": label.to_object()})
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """Show the format, every label found and the content hash."""
    data = _read(args.file)
    found = files.find_labels(data)
    _print(
        {
            "file": str(args.file),
            "format": files.format_of(data),
            "content_sha256": files.content_hash(data),
            "labels": [
                {"carrier": f.carrier, "legacy": f.legacy, "bare": f.bare, "text": f.text} for f in found
            ],
        }
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Check the label; list every finding; exit 1 on any error."""
    if args.mode == "strict" and not args.public_key:
        raise UsageError("strict mode needs --public-key (or use --mode conformance)")
    producer = _public_key(args.public_key) if args.public_key else None
    propagator = _public_key(args.propagator_public_key) if args.propagator_public_key else None
    code = args.producer or (os.environ.get(PROVIDER_CODE_ENV) if args.mode == "strict" else None)
    first_write = _first_write(None)
    report = verify.verify(
        _read(args.file),
        producer,
        propagator,
        mode=args.mode,
        producer_code=code or None,
        first_write=first_write,
    )
    _print(
        {
            "file": str(args.file),
            "mode": report.mode,
            "ok": report.ok,
            "format": report.format,
            "content_sha256": report.content_sha256,
            "labels_found": [f.carrier for f in report.labels],
            "label": report.label.to_object() if report.label else None,
            "findings": [f.as_dict() for f in report.findings],
        }
    )
    return 0 if report.ok else 1


def _burn_media(args: argparse.Namespace, data: bytes) -> int | None:
    """Audio (GB-E3) and video (GB-E4): burn, then print what was measured; None if not media."""
    fmt = files.format_of(data)
    if fmt in media_burn.VIDEO_FORMATS and media_burn.has_video(data):
        burned, video = media_burn.burn_video(
            data, text=args.text or figures.IMAGE_TEXT, min_duration=args.min_duration
        )
        shown: dict[str, Any] = {"measured": dataclasses.asdict(video), "ok": video.ok}
    elif fmt in media_burn.AUDIO_FORMATS:
        burned, audio = media_burn.burn_audio(data)
        shown = {"measured": dataclasses.asdict(audio), "ok": audio.ok}
    else:
        return None
    _write(args.output, burned)
    _print({"written": str(args.output), **shown, "content_sha256": files.content_hash(burned)})
    return 0 if shown["ok"] else 1


def cmd_burn(args: argparse.Namespace) -> int:
    """Burn the explicit label: text (GB-E1), PNG/JPEG (GB-E2), audio (GB-E3), video (GB-E4)."""
    data = _read(args.input)
    media_status = _burn_media(args, data)
    if media_status is not None:
        return media_status
    if files.format_of(data) == "text":
        notice = args.text or explicit.DEFAULT_TEXT_NOTICE
        _write(args.output, explicit.burn_text(data, notice=notice, placement=args.text_placement))
        _print({"written": str(args.output), "content_sha256": files.content_hash(_read(args.output))})
        return 0
    burned = explicit.burn_image(
        data, text=args.text or explicit.DEFAULT_IMAGE_TEXT, corner=args.corner, min_ratio=args.min_ratio
    )
    _write(args.output, burned.data)
    _print(
        {
            "written": str(args.output),
            "label_box": burned.box,
            "min_glyph_height_px": burned.min_glyph_height,
            "shortest_side_px": burned.shortest_side,
            "ratio": round(burned.ratio, 4),
            "content_sha256": files.content_hash(burned.data),
            "note": "embed the implicit label now: it must be bound to the burned content"
            + (" (the old one was dropped)" if burned.dropped_implicit_label else ""),
        }
    )
    return 0


def cmd_propagate(args: argparse.Namespace) -> int:
    """LB-6: classify as confirmed/possible/suspected and write the platform's propagation fields."""
    problem = provider_code_problem(args.propagator)
    if problem:
        raise UsageError(f"propagator code: {problem}")
    key = _key_from_env(PROPAGATOR_KEY_ENV)
    decision, labeled = dissemination.propagate(
        _read(args.input),
        propagator_code=args.propagator,
        propagate_id=args.propagate_id,
        key=key,
        user_declared=args.declared,
        detected=args.detected,
    )
    if labeled is not None:
        _write(args.output, labeled)
    _print(
        {
            "outcome": decision.outcome,
            "label_value": decision.label_value,
            "traces": decision.traces,
            "written": str(args.output) if labeled is not None else None,
        }
    )
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """A new key pair (SM2 by default, Ed25519 on request) in the forms the service and `verify` take."""
    key: keys.SigningKey
    key = sm2.Sm2PrivateKey.generate() if args.algorithm == "sm2" else Ed25519PrivateKey.generate()
    public = key.public_key()
    out = {
        "algorithm": args.algorithm,
        "private_key": keys.private_text(key),
        "public_key": keys.public_text(public),
    }
    if isinstance(public, sm2.Sm2PublicKey):
        out["algorithm_id"] = sm2.ALGORITHM
    else:
        out["key_id"] = integrity.key_id(public)
    _print(out)
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser."""
    p = argparse.ArgumentParser(
        prog="dsgov-label", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="write the AIGC metadata label")
    e.add_argument("input", type=Path)
    e.add_argument("-o", "--output", type=Path, required=True)
    e.add_argument("--label", type=Path, help="label JSON, or a dsgov.content.labeled event")
    e.add_argument("--produce-id", help="sign a new label with this ProduceID")
    e.add_argument("--producer", help=f"provider code (default: {PROVIDER_CODE_ENV})")
    e.add_argument(
        "--first-write",
        choices=issue.FIRST_WRITE_MODES,
        help=f"propagation fields on first write: copy (TC260 guides, default) or empty ({FIRST_WRITE_ENV})",
    )
    e.set_defaults(run=cmd_embed)
    i = sub.add_parser("inspect", help="show labels and the content hash")
    i.add_argument("file", type=Path)
    i.set_defaults(run=cmd_inspect)
    v = sub.add_parser("verify", help="check the label; non-zero exit on any problem")
    v.add_argument("file", type=Path)
    v.add_argument(
        "--public-key", help="producer's public key: SM2 04<128 hex>, or Ed25519 base64url/PEM; or a file"
    )
    v.add_argument("--propagator-public-key", help="platform's key, to check ReservedCode2")
    v.add_argument(
        "--mode",
        choices=verify.MODES,
        default="strict",
        help="strict: our labels (signature, content hash, provider code); conformance: any provider's file",
    )
    v.add_argument("--producer", help=f"strict: our provider code (default: {PROVIDER_CODE_ENV} when set)")
    v.set_defaults(run=cmd_verify)
    b = sub.add_parser("burn", help="burn the explicit label: text, PNG/JPEG, audio (rhythm), video (plate)")
    b.add_argument("input", type=Path)
    b.add_argument("-o", "--output", type=Path, required=True)
    b.add_argument("--text", help="wording with an AI element and a generation element (GB-E0)")
    b.add_argument(
        "--corner", default="bottom-right", choices=["bottom-right", "bottom-left", "top-right", "top-left"]
    )
    b.add_argument(
        "--min-ratio", type=float, default=explicit.MIN_HEIGHT_RATIO, help="glyph height / shortest side"
    )
    b.add_argument(
        "--text-placement",
        choices=["start", "end", "both"],
        default="start",
        help="text: where the notice goes (the implicit label's front matter precedes the first line)",
    )
    b.add_argument(
        "--min-duration",
        type=float,
        default=media_burn.MIN_DURATION_S,
        help="video: seconds on screen (>= 2)",
    )
    b.set_defaults(run=cmd_burn)
    g = sub.add_parser("propagate", help="LB-6 classification and propagation fields")
    g.add_argument("input", type=Path)
    g.add_argument("-o", "--output", type=Path, required=True)
    g.add_argument("--propagator", required=True, help="the platform's 27-character code")
    g.add_argument("--propagate-id", required=True, help="the platform's own id for this item")
    g.add_argument("--declared", action="store_true", help="the user declared the content AI-generated")
    g.add_argument("--detected", action="store_true", help="the platform detected an explicit label or trace")
    g.set_defaults(run=cmd_propagate)
    k = sub.add_parser("keygen", help="print a new key pair")
    k.add_argument("--algorithm", choices=["sm2", "ed25519"], default="sm2")
    k.set_defaults(run=cmd_keygen)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; see the module docstring for exit statuses."""
    args = parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (
        files.UnknownFormat,
        CarrierError,
        explicit.FontMissing,
        ff.MediaError,
        ValueError,
    ) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
