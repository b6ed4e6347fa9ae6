"""For benchmarks: publish at a fixed rate (or as fast as possible) and summarise what came back."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer


@dataclass
class Phase:
    """One publishing phase: when each key was sent (time.monotonic), and when the phase ran."""

    sent_at: dict[str, float]
    started: float
    published: float


def percentile(values: list[float], q: float) -> float:
    """The q-quantile by rank (no interpolation)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def publish(
    producer: AIOKafkaProducer, topic: str, messages: Iterable[tuple[str, bytes]], rate: float | None
) -> Phase:
    """Send (key, value) pairs in order, at `rate` per second or as fast as possible; await acks."""
    sent_at: dict[str, float] = {}
    futures = []
    started = time.monotonic()
    for i, (key, value) in enumerate(messages):
        if rate:
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        sent_at[key] = time.monotonic()
        futures.append(await producer.send(topic, value, key=key.encode()))
    await asyncio.gather(*futures)
    return Phase(sent_at, started, time.monotonic())


def summary(label: str, what: str, phase: Phase, arrived: Mapping[str, float], outcome: str) -> str:
    """Throughput and end-to-end latency of a phase; `arrived` maps keys to time.monotonic()."""
    decided = {k: arrived[k] for k in phase.sent_at if k in arrived}
    n = len(phase.sent_at)
    latencies = [decided[k] - phase.sent_at[k] for k in decided]
    first, last = min(decided.values()), max(decided.values())
    p50, p99 = percentile(latencies, 0.50) * 1000, percentile(latencies, 0.99) * 1000
    return "\n".join(
        [
            f"[{label}] {n} {what} published in {phase.published - phase.started:.2f} s; "
            f"{len(decided)} decisions ({outcome})",
            f"  end-to-end: {n / (last - phase.started):.0f} decisions/s (first sent -> last decision)",
            f"  sustained:  {(len(decided) - 1) / (last - first):.0f} decisions/s (first -> last decision)",
            f"  latency:    p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies) * 1000:.0f} ms, "
            f"mean {statistics.fmean(latencies) * 1000:.0f} ms",
        ]
    )
