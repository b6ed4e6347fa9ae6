"""The bare relay: the yardstick every service hop is measured against (issue 15).

A FastStream batch subscriber hands each batch to one aiokafka producer and awaits every ack
before the batch is committed (`AckPolicy.ACK`) — no decoding, no store, no decision. Consumer
settings are the services' defaults (`CommonSettings`: batch size, batch and fetch waits), so the
difference between this hop and a service hop is the service's own work.

Run as its own process (as a service runs), configured from the environment::

    RELAY_BOOTSTRAP=127.0.0.1:9092 RELAY_IN=t.in RELAY_OUT=t.out python -m bench.relay_baseline

`RELAY_MODE=per-message` runs the textbook FastStream relay instead (one message per handler call,
each publish awaited through the broker) and `RELAY_MODE=aiokafka-per-message` the same loop on
plain aiokafka: `bench.relay_stall` uses them to reproduce the stall described in
docs/performance.md.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
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
    producers: list[AIOKafkaProducer] = []  # created on start-up: aiokafka wants the running loop

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
        send = producers[0].send
        acks = [await send(target, r.value, key=r.key, headers=list(r.headers)) for r in records]
        await asyncio.gather(*acks)

    app = FastStream(broker)

    @app.on_startup
    async def start_producer() -> None:
        producers.append(AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=LINGER_MS))
        await producers[0].start()

    @app.after_shutdown
    async def stop_producer() -> None:
        await producers[0].stop()

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


async def aiokafka_per_message_relay(bootstrap: str, source: str, target: str, group: str) -> None:
    """The per-message relay without FastStream: getone, send and await the ack, commit; forever."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=LINGER_MS)
    await consumer.start()
    await producer.start()
    try:
        while True:
            record = await consumer.getone()
            await producer.send_and_wait(target, record.value, key=record.key)
            await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


MODES = {"batch": batch_relay, "per-message": per_message_relay}


def main() -> None:
    """Run the relay the environment asks for (RELAY_MODE: batch, per-message, aiokafka-per-message)."""
    logging.basicConfig(level=logging.WARNING)
    env = os.environ
    mode = env.get("RELAY_MODE", "batch")
    args = (env["RELAY_BOOTSTRAP"], env["RELAY_IN"], env["RELAY_OUT"], env.get("RELAY_GROUP", "relay"))
    if mode == "aiokafka-per-message":
        asyncio.run(aiokafka_per_message_relay(*args))
    else:
        asyncio.run(MODES[mode](*args).run())


if __name__ == "__main__":
    main()
