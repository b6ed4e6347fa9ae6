"""Reproducer: the textbook per-message FastStream relay on the embedded broker (issue 15).

    python -m bench.relay_stall [--n 40000] [--mode per-message|batch] [--stall-s 15]

Starts an embedded broker, one relay process (`bench.relay_baseline`, per-message mode by
default: one handler call per record, each publish awaited, offsets committed after each
message), publishes N records into its input topic and prints, every two seconds, how many have
come out. It stops when all came out or when nothing came out for `--stall-s` seconds, and then
prints the consumer group's committed offsets per partition (or gives up after `--max-s`).
See docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Hashable
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench.hop_ratio import by_id, relay_messages
from devtools.testing.embedded import CHECKOUT, EmbeddedStack, ServiceProcess
from devtools.testing.load import publish
from devtools.testing.watch import ArrivalWatch
from shared.messaging.provisioning import provision_topics

PREFIX = "stall."
SOURCE, TARGET = PREFIX + "dsgov.platform.identity", PREFIX + "dsgov.identity"


async def committed(bootstrap: str, group: str) -> dict[int, int | None]:
    """The group's committed offset per partition of the source topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(SOURCE) or set()
        return {p: await consumer.committed(TopicPartition(SOURCE, p)) for p in sorted(parts)}
    finally:
        await consumer.stop()


async def run(args: argparse.Namespace, workdir: Path) -> None:
    stack = EmbeddedStack(workdir).start()
    relay: ServiceProcess | None = None
    try:
        await provision_topics(stack.bootstrap, prefix=PREFIX)
        env = {
            "RELAY_BOOTSTRAP": stack.bootstrap,
            "RELAY_IN": SOURCE,
            "RELAY_OUT": TARGET,
            "RELAY_MODE": args.mode,
            "RELAY_GROUP": "stall",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])),
        }
        relay = ServiceProcess("bench.relay_baseline", env, workdir / "relay.log").start(wait_ready=False)
        watch = ArrivalWatch(stack.bootstrap, TARGET, key=by_id)
        await watch.start()
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=256 * 1024)
        await producer.start()
        try:
            items = relay_messages("s", args.n)
            names: list[Hashable] = [name for _, _, name in items]
            phase = await publish(producer, SOURCE, [(k, v) for k, v, _ in items], rate=None)
            print(f"{args.n} records published in {phase.published - phase.started:.1f}s ({args.mode} relay)")
            await progress(watch, names, args.stall_s, phase.started, args.max_s)
        finally:
            await producer.stop()
            await watch.stop()
        print(f"committed offsets of group 'stall': {await committed(stack.bootstrap, 'stall')}")
        print(f"relay log tail:\n{relay.log_tail(15)}")
    finally:
        if relay:
            relay.stop()
        stack.stop()


async def progress(
    watch: ArrivalWatch, names: list[Hashable], stall_s: float, started: float, max_s: float
) -> None:
    """Print relayed counts every 2 s until all are out, nothing moved for `stall_s`, or `max_s` passed."""
    last_count, last_change = -1, time.monotonic()
    while True:
        count = sum(1 for n in names if n in watch.arrived)
        now = time.monotonic()
        if count != last_count:
            last_count, last_change = count, now
        print(f"  t={now - started:6.1f}s relayed {count:>6}/{len(names)}", flush=True)
        if count == len(names):
            print(f"all relayed: {count / (now - started):.0f} messages/s end to end")
            return
        if now - last_change >= stall_s:
            print(f"STALLED at {count}: nothing relayed for {stall_s:.0f}s")
            return
        if now - started >= max_s:
            print(f"still moving at {count} after {max_s:.0f}s: stopped (no stall seen)")
            return
        await asyncio.sleep(2.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=40_000)
    parser.add_argument(
        "--mode", choices=["per-message", "aiokafka-per-message", "batch"], default="per-message"
    )
    parser.add_argument("--stall-s", type=float, default=15.0)
    parser.add_argument("--max-s", type=float, default=150.0, help="give up (cleanly) after this long")
    parser.add_argument("--workdir", type=Path, help="keep the logs here")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args, args.workdir))
        return
    with tempfile.TemporaryDirectory(prefix="dsgov-relay-stall-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
