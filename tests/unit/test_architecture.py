"""House rules that import-linter cannot see: event types are named through the registry's constants."""

from __future__ import annotations

import ast
from pathlib import Path

from shared.contracts import types as T
from shared.contracts.registry import EVENTS

ROOT = Path(__file__).resolve().parents[2]
REGISTERED = {e.type for e in EVENTS}


def _literals(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if text in REGISTERED or (
                text.startswith("dsgov.") and text.endswith(".") and text.count(".") == 2
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text!r}")
    return found


def test_services_name_event_types_through_the_registry_not_literals() -> None:
    offenders = [hit for path in sorted((ROOT / "services").rglob("*.py")) for hit in _literals(path)]
    assert offenders == [], "use shared.contracts.types constants:\n" + "\n".join(offenders)


def test_every_registered_type_has_a_constant_and_every_constant_is_registered() -> None:
    constants = {v for k, v in vars(T).items() if k.isupper() and isinstance(v, str)}
    assert constants == REGISTERED
