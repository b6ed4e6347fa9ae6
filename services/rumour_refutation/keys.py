"""Document ids in the service's collection, and which aggregate each inbound event folds into.

`content:<provider>/<content_id>` — one content: output fingerprints, distributions, matches, due fan-out;
`case:<provider>/<notice_id>` — one rumour case or takedown order;
`reach:<provider>/<notice_id>/<shard>` — the recipients of one case already notified, by shard.

`dsgov.generation.completed` is keyed by request id on the wire but folds into its content.
"""

from __future__ import annotations

from typing import Any

from shared.messaging.codec import Inbound

CONTENT = "content:"
CASE = "case:"
REACH = "reach:"


def content_key(provider_id: str, content_id: str) -> str:
    """The aggregate id of one content."""
    return f"{CONTENT}{provider_id}/{content_id}"


def case_key(provider_id: str, notice_id: str) -> str:
    """The aggregate id of one case."""
    return f"{CASE}{provider_id}/{notice_id}"


def reach_key(provider_id: str, notice_id: str, shard: int) -> str:
    """The aggregate id of one reach shard of a case."""
    return f"{REACH}{provider_id}/{notice_id}/{shard:04d}"


def list_key(provider_id: str, event_id: str) -> str:
    """The id of the recipient list a distribution event carried."""
    return f"{provider_id}/{event_id}"


def aggregate_id(event: Inbound[Any]) -> str:
    """Outputs and distributions fold into their content; notices into their case."""
    provider = event.event.providerid
    if event.type == "dsgov.generation.completed":
        return content_key(provider, event.data.content_id)
    if event.type == "dsgov.content.distributed":
        return content_key(provider, event.subject)
    return case_key(provider, event.subject)
