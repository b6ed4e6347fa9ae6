"""The outbound translator: issued labels → `dsgov.content.labeled` events (DS-16, DS-17)."""

from __future__ import annotations

from datetime import datetime

from services.labeling.domain.issuance import Issued
from shared.contracts import types as T
from shared.contracts.envelope import CloudEvent
from shared.contracts.generation import OutputApproved
from shared.contracts.labeling import ContentLabeled
from shared.messaging.codec import Inbound
from shared.messaging.ids import derived_id
from shared.messaging.replies import reply

SOURCE = "dsgov/labeling"


def labeled_event(
    cause: Inbound[OutputApproved], content_id: str, issued: Issued, now: datetime
) -> CloudEvent:
    """`dsgov.content.labeled` for one issued label, keyed by the content id."""
    provider = cause.event.providerid
    return reply(
        cause,
        type=T.CONTENT_LABELED,
        source=SOURCE,
        subject=content_id,
        data=ContentLabeled(
            content_id=content_id,
            request_id=cause.data.request_id,
            implicit_label=issued.implicit.to_object(),
            explicit_label=issued.explicit,
            produce_id=issued.produce_id,
            media_id=issued.item.media_id,
            content_sha256=issued.item.sha256,
        ),
        time=now,
        # Derived from the label itself, not from the inbound event: the same label is one event.
        id=derived_id(SOURCE, "labeled", provider, issued.produce_id, issued.item.sha256),
    )
