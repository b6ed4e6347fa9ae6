"""Replaying dead letters: put the original bytes back on their original topic.

After the cause of a `processing_failed` dead letter is fixed (an authority that was down, a
bug), an operator replays the affected dead letters. Encrypted payloads are decrypted with the
dead-letter key; truncated ones (oversized input) cannot be replayed and are reported. Each dead
letter is replayed at most once per run, even if it was recorded twice.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.contracts.topics import DEADLETTER
from shared.messaging.deadletter import decrypt_payload


@dataclass
class ReplayReport:
    """What a replay did."""

    replayed: list[str] = field(default_factory=list)  # dead-letter event ids
    skipped_truncated: list[str] = field(default_factory=list)
    filtered_out: int = 0


@dataclass(frozen=True)
class ReplayFilter:
    """Which dead letters to replay (None matches all)."""

    service: str | None = None
    error_code: str | None = None
    original_topic: str | None = None

    def matches(self, data: dict[str, Any]) -> bool:
        """True when the dead letter passes every set criterion."""
        return all(
            want is None or data.get(name) == want
            for name, want in (
                ("service", self.service),
                ("error_code", self.error_code),
                ("original_topic", self.original_topic),
            )
        )


def original_bytes(data: dict[str, Any], secret: str | None) -> bytes:
    """The original payload of a dead letter (decrypted when it was encrypted)."""
    if data.get("payload_encryption"):
        if not secret:
            raise ValueError("the dead letter is encrypted: DSGOV_DEADLETTER_KEY is needed")
        return decrypt_payload(data["payload"], secret)
    return base64.b64decode(data["payload"])


def _key(data: dict[str, Any]) -> bytes | None:
    key = data.get("key")
    if key is None:
        return None
    return base64.b64decode(key) if data.get("key_encoding") == "base64" else str(key).encode("utf-8")


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> bool:
    for tp, end in ends.items():
        if await consumer.position(tp) < end:
            return True
    return False


async def _read_to_end(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches cluster metadata, so partitions_for_topic knows the topic
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while await _behind(consumer, ends):
            batch = await consumer.getmany(timeout_ms=500)
            for part in batch.values():
                records.extend(part)
        return records
    finally:
        await consumer.stop()


async def replay_dead_letters(
    bootstrap: str,
    *,
    which: ReplayFilter,
    secret: str | None,
    prefix: str = "",
    dry_run: bool = False,
    on_replay: Callable[[dict[str, Any]], None] = lambda _d: None,
) -> ReplayReport:
    """Republish every matching dead letter recorded so far to its original topic."""
    report = ReplayReport()
    seen: set[str] = set()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for record in await _read_to_end(bootstrap, prefix + DEADLETTER):
            event = json.loads(record.value)
            data = event.get("data", {})
            if event["id"] in seen or not which.matches(data):
                report.filtered_out += event["id"] not in seen
                continue
            seen.add(event["id"])
            if data.get("payload_truncated"):
                report.skipped_truncated.append(event["id"])
                continue
            if not dry_run:
                topic = prefix + data["original_topic"]
                await producer.send_and_wait(topic, original_bytes(data, secret), key=_key(data))
            report.replayed.append(event["id"])
            on_replay(data)
    finally:
        await producer.stop()
    return report
