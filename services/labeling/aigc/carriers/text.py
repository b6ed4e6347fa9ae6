r"""Plain UTF-8 text: the label JSON alone on the file's last line, after an added line break.

Carrier (documented choice; no practice guide for plain text was available): the labeled file is
``original + "\\n" + {"AIGC":{...}} + "\\n"``. A label line is a line that is exactly a JSON object
whose only key is `AIGC`; stripping removes such lines (and the line break added before the
trailing one), which restores the original exactly. Legacy carrier also recognised: a YAML front
matter block opening the file (``---``, ``AIGC:``, indented ``Key: 'value'`` lines, ``---``), as
some tools write into Markdown.
"""

from __future__ import annotations

import json
import re
from typing import Final

from services.labeling.aigc.carriers.base import FoundLabel

_LINE: Final = re.compile(rb'^\{"AIGC":\{[^\r\n]*\}\}\r?$', re.MULTILINE)
_LINE_EOL: Final = re.compile(rb'^\{"AIGC":\{[^\r\n]*\}\}\r?(?:\n|\Z)', re.MULTILINE)
_TRAILING: Final = re.compile(rb'\n\{"AIGC":\{[^\r\n]*\}\}\n\Z')
_FRONT_MATTER: Final = re.compile(rb"\A---\r?\nAIGC:\r?\n((?:[ \t]+[^\r\n]*\r?\n)+)---\r?\n")
_YAML_FIELD: Final = re.compile(r"^\s+([A-Za-z0-9]+):\s*(?:'([^']*)'|\"([^\"]*)\"|(\S*))\s*$")
_BINARY: Final = re.compile(rb"[\x00-\x08\x0e-\x1f]")


def _front_matter_json(block: bytes) -> str:
    fields: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").splitlines():
        match = _YAML_FIELD.match(line)
        if match:
            fields[match[1]] = next((g for g in match.groups()[1:] if g is not None), "")
    return json.dumps({"AIGC": fields}, separators=(",", ":"))


class TextCarrier:
    """UTF-8 plain text (checked last: anything that decodes as UTF-8 without control bytes)."""

    name = "text"

    def sniff(self, data: bytes) -> bool:
        """Strict UTF-8 without binary control characters."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return not _BINARY.search(data)

    def find(self, data: bytes) -> list[FoundLabel]:
        """Front matter first (it opens the file), then label lines."""
        found: list[FoundLabel] = []
        front = _FRONT_MATTER.match(data)
        if front:
            found.append(FoundLabel("text:front-matter", _front_matter_json(front[1]), legacy=True))
        found += [FoundLabel("text:label-line", m[0].rstrip(b"\r").decode()) for m in _LINE.finditer(data)]
        return found

    def strip(self, data: bytes) -> bytes:
        """Remove the trailing label exactly; any other label line and front matter as whole lines."""
        clean = _FRONT_MATTER.sub(b"", data, count=1)
        clean = _TRAILING.sub(b"", clean)
        return _LINE_EOL.sub(b"", clean)

    def insert(self, data: bytes, label_json: str) -> bytes:
        """Append a line break, the label line and a final line break."""
        return data + b"\n" + label_json.encode("ascii") + b"\n"
