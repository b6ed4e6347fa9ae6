"""The public contract: schemas stay backward compatible, topics match their declaration."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.contracts import topics
from shared.contracts.registry import EVENTS, EventSpec, outbound_spec, spec_for
from shared.messaging.provisioning import load_declarations
from tests.contract.snapshot import SNAPSHOTS, current_schema, snapshot_name

IGNORED = {"description", "title", "default", "examples"}


def _strip(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k not in IGNORED}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def breaking_changes(old: dict[str, Any], new: dict[str, Any], where: str = "") -> list[str]:
    """Removed or changed fields, and newly required fields, in every model of the schema."""
    problems = []
    old_defs = {"<root>": old, **old.get("$defs", {})}
    new_defs = {"<root>": new, **new.get("$defs", {})}
    for name, old_model in old_defs.items():
        new_model = new_defs.get(name)
        if new_model is None:
            problems.append(f"{where}{name}: model removed")
            continue
        for field, old_schema in old_model.get("properties", {}).items():
            new_schema = new_model.get("properties", {}).get(field)
            if new_schema is None:
                problems.append(f"{where}{name}.{field}: removed or renamed")
            elif _strip(new_schema) != _strip(old_schema):
                problems.append(f"{where}{name}.{field}: type or constraints changed")
        newly_required = set(new_model.get("required", [])) - set(old_model.get("required", []))
        problems += [f"{where}{name}.{f}: became required" for f in sorted(newly_required)]
    return problems


@pytest.mark.parametrize("spec", EVENTS, ids=lambda s: f"{s.topic}:{s.type}")
def test_no_event_schema_breaks_its_v1_snapshot(spec: EventSpec) -> None:
    path = SNAPSHOTS / snapshot_name(spec)
    assert path.exists(), f"no snapshot for {spec.type} on {spec.topic}: run `make schemas`"
    old = json.loads(path.read_text(encoding="utf-8"))
    assert breaking_changes(old, current_schema(spec)) == [], "breaking change: make a v2 instead"


@pytest.mark.parametrize("spec", EVENTS, ids=lambda s: f"{s.topic}:{s.type}")
def test_snapshots_are_current(spec: EventSpec) -> None:
    old = json.loads((SNAPSHOTS / snapshot_name(spec)).read_text(encoding="utf-8"))
    assert old == current_schema(spec), "additive change: review it, then run `make schemas`"


def test_the_compatibility_check_catches_removed_renamed_retyped_and_newly_required_fields() -> None:
    old = {"properties": {"a": {"type": "string"}, "b": {"type": "integer"}, "c": {}}, "required": ["a"]}
    new = {"properties": {"a": {"type": "integer"}, "c2": {}, "c": {}}, "required": ["a", "c"]}
    assert breaking_changes(old, new) == [
        "<root>.a: type or constraints changed",
        "<root>.b: removed or renamed",
        "<root>.c: became required",
    ]
    assert breaking_changes(old, {**old, "properties": {**old["properties"], "d": {}}}) == []


def test_every_registered_topic_is_declared_for_provisioning_and_nothing_else() -> None:
    declared = {d.name for d in load_declarations()}
    assert declared == set(topics.ALL_TOPICS)
    assert {e.topic for e in EVENTS} <= declared


def test_every_outbound_type_travels_on_exactly_one_topic() -> None:
    inbound_topics = {
        topics.PLATFORM_IDENTITY,
        topics.PLATFORM_CONSENT,
        topics.PLATFORM_GENERATION,
        topics.PLATFORM_DISTRIBUTION,
        topics.REGULATOR_NOTICES,
        topics.REGULATOR_ACKS,
        topics.CONSOLE_COMMANDS,
        topics.PLATFORM_ACTIVITY,
    }
    for spec in EVENTS:
        if spec.topic not in inbound_topics:
            assert outbound_spec(spec.type) is spec


def test_the_console_withdrawal_command_needs_an_actor_and_a_reason_but_the_platform_one_does_not() -> None:
    platform = spec_for(topics.PLATFORM_CONSENT, "dsgov.consent.withdrawal-submitted")
    console = spec_for(topics.CONSOLE_COMMANDS, "dsgov.consent.withdrawal-submitted")
    assert platform is not None
    assert console is not None
    body = {"consent_id": "c1", "subject_id": "s1"}
    platform.model.model_validate(body)
    with pytest.raises(ValueError, match="actor"):
        console.model.model_validate(body)
    console.model.model_validate(
        {**body, "reason": "asked by phone", "actor": {"username": "op", "role": "operator"}}
    )


def test_only_the_identity_submission_and_activity_topics_are_sensitive() -> None:
    # The activity topic carries source IPs, device ids and user agents (CS-1, SA-5; PI-28).
    sensitive = {d.name for d in load_declarations() if d.sensitive}
    assert sensitive == {topics.PLATFORM_IDENTITY, topics.PLATFORM_ACTIVITY}
