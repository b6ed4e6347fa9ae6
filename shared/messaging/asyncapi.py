"""The typed AsyncAPI document of a service, built from its `ServiceDefinition`.

At run time a service consumes raw bytes (it must dead-letter what does not parse), so its
live subscriber carries no payload schema. This builds a never-started twin of the service's
broker whose subscribers and publishers are typed with the contract's envelope models; the
FastStream CLI turns it into AsyncAPI 3.0 (`make docs`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from functools import cache
from typing import Any, Literal, Union

from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, create_model

from shared.contracts.envelope import CloudEvent
from shared.contracts.registry import EventSpec, outbound_spec, spec_for
from shared.runtime.host import ServiceDefinition


@cache
def envelope_model(spec: EventSpec) -> type[BaseModel]:
    """A CloudEvent model whose `type` is fixed and whose `data` is the event's payload model."""
    name = spec.model.__name__ + "Event"
    return create_model(
        name,
        __base__=CloudEvent,
        __doc__=f"`{spec.type}` on `{spec.topic}`; subject and Kafka key = `data.{spec.subject}`.",
        type=(Literal[spec.type], ...),  # type: ignore[arg-type]
        data=(spec.model, ...),
    )


def _documented_handler(body_type: Any, doc: str) -> Callable[..., Coroutine[Any, Any, None]]:
    async def handler(body: Any) -> None:  # pragma: no cover - never called, only described
        del body

    handler.__annotations__ = {"body": body_type, "return": None}
    handler.__doc__ = doc
    return handler


def asyncapi_app(definition: ServiceDefinition[Any], *, bootstrap: str = "kafka:9092") -> FastStream:
    """The FastStream app whose AsyncAPI document describes `definition`'s topics and events."""
    broker = KafkaBroker(bootstrap)
    for topic, types in definition.consumes.items():
        models = [envelope_model(s) for t in types if (s := spec_for(topic, t)) is not None]
        body = models[0] if len(models) == 1 else Union[tuple(models)]  # noqa: UP007
        broker.subscriber(
            topic,
            group_id=f"dsgov.{definition.name}",
            title=f"{topic}:{definition.name}",
            description=f"Consumed by {definition.name}: " + ", ".join(types),
        )(_documented_handler(body, f"{definition.name} consumes " + ", ".join(types)))
    for type_ in definition.publishes:
        spec = outbound_spec(type_, definition.publishes_on.get(type_))
        broker.publisher(
            spec.topic,
            title=f"{spec.topic}:{type_}",
            schema=envelope_model(spec),
            description=f"Published by {definition.name}; key = subject = data.{spec.subject}",
        )
    return FastStream(
        broker,
        specification=AsyncAPI(
            title=f"dsgov {definition.name}",
            version="1.0.0",
            description=definition.description,
        ),
    )
