"""The CloudEvents 1.0 envelope (structured JSON mode) every dsgov message travels in."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.contracts.base import Payload

CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope; `data` is validated separately against the type's model."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=256, description="unique per event; the idempotency key")
    source: str = Field(min_length=1, max_length=256, description="who produced it")
    type: str = Field(min_length=1, max_length=128, description="the event type")
    time: AwareDatetime = Field(description="RFC 3339 with offset")
    subject: str = Field(min_length=1, max_length=256, description="the entity; also the Kafka key")
    datacontenttype: str | None = Field(default="application/json")
    providerid: str = Field(min_length=1, max_length=128, description="the provider (tenant)")
    correlationid: str | None = Field(default=None, max_length=256)
    causationid: str | None = Field(default=None, max_length=256)
    data: dict[str, Any]

    @property
    def correlation(self) -> str:
        """The correlation id, defaulting to the event's own id (CONTRACT.md)."""
        return self.correlationid or self.id


def new_event(
    *,
    type: str,
    source: str,
    subject: str,
    providerid: str,
    data: Payload,
    id: str,
    time: datetime,
    correlationid: str,
    causationid: str,
) -> CloudEvent:
    """Build an outbound envelope; dsgov always sets correlation and causation ids."""
    return CloudEvent(
        specversion="1.0",
        id=id,
        source=source,
        type=type,
        time=time,
        subject=subject,
        datacontenttype="application/json",
        providerid=providerid,
        correlationid=correlationid,
        causationid=causationid,
        data=data.model_dump(mode="json", exclude_none=True),
    )
