"""Deterministic ids: the same input event always yields the same output ids.

A redelivered event that is processed again (after its id aged out of the de-duplication
window, say) then produces byte-identical events with the same ids, which consumers drop.
"""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("0c6f3f5e-2b7a-4f51-9d0e-6a9b8c1d2e3f")


def derived_id(*parts: str) -> str:
    """A UUIDv5 over the parts."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))
