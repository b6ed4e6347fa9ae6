"""Write the JSON-schema snapshot of every v1 event (`make schemas`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.contracts.registry import EVENTS, EventSpec
from shared.messaging.asyncapi import envelope_model

SNAPSHOTS = Path(__file__).parent / "snapshots"


def snapshot_name(spec: EventSpec) -> str:
    return f"{spec.topic}__{spec.type}.json"


def current_schema(spec: EventSpec) -> dict[str, Any]:
    schema: dict[str, Any] = envelope_model(spec).model_json_schema()
    return schema


def write_all() -> int:
    SNAPSHOTS.mkdir(exist_ok=True)
    for spec in EVENTS:
        text = json.dumps(current_schema(spec), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        (SNAPSHOTS / snapshot_name(spec)).write_text(text, encoding="utf-8")
    return len(EVENTS)


if __name__ == "__main__":
    print(f"wrote {write_all()} schema snapshots to {SNAPSHOTS}")
