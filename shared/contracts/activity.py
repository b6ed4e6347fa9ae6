"""Activity facts from the platform: the network log the law asks for (CS-1, SA-5)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.contracts.base import Payload

Action = Literal[
    "register", "login", "logout", "generate", "publish", "share", "download", "comment", "other"
]


class ActivityRecorded(Payload):
    """`dsgov.activity.recorded`: one thing a user did, with where it came from (SA-5).

    `source_ip`, `source_port`, `device_id` and `user_agent` are personal information: `network_log`
    keeps them encrypted at rest and never logs them.
    """

    user_id: str = Field(min_length=1, max_length=256, description="the platform's opaque user id")
    action: Action
    content_id: str | None = Field(default=None, max_length=256)
    request_id: str | None = Field(default=None, max_length=256)
    source_ip: str | None = Field(default=None, max_length=64, description="IPv4 or IPv6 address")
    source_port: int | None = Field(default=None, ge=0, le=65535)
    device_id: str | None = Field(default=None, max_length=256, description="client hardware feature (SA-5)")
    user_agent: str | None = Field(default=None, max_length=1024)
    occurred_at: datetime
