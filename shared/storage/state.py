"""The base of every aggregate state (pure: domain modules import it, so it does no I/O)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class AggregateState(BaseModel):
    """Base of every service's aggregate state: a frozen model, serialised only at the store boundary.

    Unknown stored fields are ignored so that a newer writer never breaks an older reader.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")
