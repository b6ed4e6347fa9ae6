"""The public wire contract: CloudEvents envelope, every v1 event payload and the topic registry.

Services define no wire models of their own (ARCHITECTURE.md, rule 1). Within v1 changes are
additive only; readers ignore unknown fields.
"""

from shared.contracts.envelope import CloudEvent, new_event
from shared.contracts.registry import EVENTS, EventSpec, spec_for

__all__ = ["EVENTS", "CloudEvent", "EventSpec", "new_event", "spec_for"]
