"""The bare relay: the yardstick every service hop is measured against (issue 15).

A FastStream batch subscriber hands each batch to one aiokafka producer and awaits every ack
before the batch is committed (`AckPolicy.ACK`) — no decoding, no store, no decision. Consumer
settings are the services' defaults (`CommonSettings`: batch size, batch and fetch waits), so the
difference between this hop and a service hop is the service's own work.

Run as its own process (as a service runs), configured from the environment::

    RELAY_BOOTSTRAP=127.0.0.1:9092 RELAY_IN=t.in RELAY_OUT=t.out python -m bench.relay_baseline

`RELAY_MODE=per-message` runs the textbook FastStream relay instead (one message per handler call,
each publish awaited through the broker): `bench.relay_stall` uses it to reproduce the stall
described in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker, KafkaMessage

from shared.runtime.settings import CommonSettings

_DEFAULTS = CommonSettings.model_fields
MAX_BATCH: int = _DEFAULTS["max_batch"].default
BATCH_TIMEOUT_MS: int = _DEFAULTS["batch_timeout_ms"].default
FETCH_MAX_WAIT_MS: int = _DEFAULTS["fetch_max_wait_ms"].default
LINGER_MS = 2  # as shared.runtime.host.build_broker


def batch_relay(bootstrap: str, source: str, target: str, group: str) -> FastStream:
    """The batch relay: one handler call per fetched batch, one producer, all acks awaited."""
    broker = KafkaBroker(bootstrap, ack_policy=AckPolicy.ACK, logger=logging.getLogger("relay"))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=LINGER_MS)

    @broker.subscriber(
        source,
        group_id=group,
        batch=True,
        max_records=MAX_BATCH,
        batch_timeout_ms=BATCH_TIMEOUT_MS,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        auto_offset_reset="earliest",
    )
    async def relay(msg: KafkaMessage) -> None:
        records: Any = msg.raw_message
        acks = [await producer.send(target, r.value, key=r.key, headers=r.headers) for r in records]
        await asyncio.gather(*acks)

    app = FastStream(broker)
    app.on_startup(producer.start)
    app.after_shutdown(producer.stop)
    return app


def per_message_relay(bootstrap: str, source: str, target: str, group: str) -> FastStream:
    """The textbook relay: one handler call per message, each publish awaited (acknowledged)."""
    broker = KafkaBroker(
        bootstrap, ack_policy=AckPolicy.ACK, linger_ms=LINGER_MS, logger=logging.getLogger("relay")
    )

    @broker.subscriber(source, group_id=group, auto_offset_reset="earliest")
    async def relay(msg: KafkaMessage) -> None:
        record: Any = msg.raw_message
        await broker.publish(record.value, topic=target, key=record.key)

    return FastStream(broker)


def app_from_env() -> FastStream:
    """The relay the environment asks for."""
    env = os.environ
    build = per_message_relay if env.get("RELAY_MODE") == "per-message" else batch_relay
    return build(env["RELAY_BOOTSTRAP"], env["RELAY_IN"], env["RELAY_OUT"], env.get("RELAY_GROUP", "relay"))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(app_from_env().run())
