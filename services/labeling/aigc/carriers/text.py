r"""Markdown and plain UTF-8 text: a YAML front matter block with an `AIGC:` mapping (TC260-PG-20258A).

Written as the first lines of the front matter (one `Key: 'value'` line per Annex E field, in
order, indented two spaces)::

    ---
    AIGC:
      Label: '1'
      ContentProducer: '0011…'
      …
    ---

A file that already opens with front matter gets the block right after its opening `---` line;
any other file gets a new front matter block in front. Stripping removes exactly those lines,
so the original bytes come back. The public checkers read this block from Markdown and plain
text alike; there is no other implicit carrier for text. Also read (and replaced on embed): the
JSON last line `{"AIGC":{...}}` dsgov wrote before.
"""

from __future__ import annotations

import json
import re
from typing import Final

from services.labeling.aigc.carriers.base import FoundLabel, found
from services.labeling.aigc.label import FIELDS, AigcLabel

_OPEN: Final = re.compile(rb"\A---[ \t]*\r?\n")
_CLOSE: Final = re.compile(rb"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_BLOCK: Final = re.compile(rb"^AIGC:[ \t]*\r?\n(?:[ \t]+[^\r\n]*\r?\n)*", re.MULTILINE)
_LINE: Final = re.compile(rb'^\{"AIGC":\{[^\r\n]*\}\}\r?$', re.MULTILINE)
_LINE_EOL: Final = re.compile(rb'^\{"AIGC":\{[^\r\n]*\}\}\r?(?:\n|\Z)', re.MULTILINE)
_TRAILING: Final = re.compile(rb'\n\{"AIGC":\{[^\r\n]*\}\}\n\Z')
_YAML_FIELD: Final = re.compile(r"^\s+([A-Za-z0-9]+):\s*(?:'((?:[^']|'')*)'|\"([^\"]*)\"|(\S*))\s*$")
_BINARY: Final = re.compile(rb"[\x00-\x08\x0e-\x1f]")


def _front_matter(data: bytes) -> tuple[int, int] | None:
    """[start, end) of the front matter's body (between the delimiter lines), or None."""
    opening = _OPEN.match(data)
    if not opening:
        return None
    closing = _CLOSE.search(data, opening.end())
    return (opening.end(), closing.start()) if closing else None


def _block_json(block: bytes) -> str:
    """The `AIGC:` mapping as `{"AIGC":{...}}` text, keeping key order and duplicates for the checks."""
    pairs: list[str] = []
    for line in block.decode("utf-8", "replace").splitlines()[1:]:
        match = _YAML_FIELD.match(line)
        if match:
            single, double, plain = match.groups()[1:]
            value = (
                single.replace("''", "'") if single is not None else double if double is not None else plain
            )
            pairs.append(f"{json.dumps(match[1])}:{json.dumps(value or '')}")
    return '{"AIGC":{' + ",".join(pairs) + "}}"


def block(label: AigcLabel) -> bytes:
    """The `AIGC:` mapping lines this library writes."""
    lines = [
        f"  {k}: '{v.replace(chr(39), chr(39) * 2)}'" for k, v in zip(FIELDS, label.values(), strict=True)
    ]
    return ("AIGC:\n" + "\n".join(lines) + "\n").encode("ascii")


class TextCarrier:
    """UTF-8 text and Markdown (checked last: anything that decodes as UTF-8 without control bytes)."""

    name = "text"

    def sniff(self, data: bytes) -> bool:
        """Strict UTF-8 without binary control characters."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return not _BINARY.search(data)

    def find(self, data: bytes) -> list[FoundLabel]:
        """The front matter block first (it opens the file), then legacy label lines."""
        labels: list[FoundLabel] = []
        span = _front_matter(data)
        if span:
            labels += [
                FoundLabel("text:front-matter:AIGC", _block_json(m[0]))
                for m in _BLOCK.finditer(data, span[0], span[1])
            ]
        labels += [
            found("text:json-line", m[0].rstrip(b"\r").decode(), legacy=True) for m in _LINE.finditer(data)
        ]
        return labels

    def strip(self, data: bytes) -> bytes:
        """Remove the AIGC block (and a front matter left empty), then legacy label lines."""
        span = _front_matter(data)
        clean = data
        if span:
            body = _BLOCK.sub(b"", data[span[0] : span[1]])
            if body != data[span[0] : span[1]]:
                rest = data[span[1] :]
                if body:
                    clean = data[: span[0]] + body + rest
                else:  # the front matter held only the label: drop its delimiter lines too
                    clean = rest[_CLOSE.match(rest).end() :].removeprefix(b"\n")  # type: ignore[union-attr]
        clean = _TRAILING.sub(b"", clean)
        return _LINE_EOL.sub(b"", clean)

    def insert(self, data: bytes, label: AigcLabel) -> bytes:
        """Into the existing front matter, right after its opening line; else a new front matter."""
        span = _front_matter(data)
        if span:
            return data[: span[0]] + block(label) + data[span[0] :]
        return b"---\n" + block(label) + b"---\n" + data
