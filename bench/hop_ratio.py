"""Every service hop on this branch as a ratio to the bare relay, measured in the same run (issue 15).

    python -m bench.hop_ratio [--rounds 3] [--relay-n 20000] [--identity-n 10000] [--consent-n 4000]

Starts one embedded broker and store, the bare relay (`bench.relay_baseline`), the identity
service and the consent service, each as its own process on its own topic prefix (so no hop
feeds another). Then, in alternating rounds, bursts N messages into each hop and measures the
sustained rate from its first output to its last; the ratio of each hop to the relay is taken
within a round (the machine is shared: the load average is printed with every figure). Finally
identity is paced at 500/s for p50/p99 end-to-end latency.

`--profile FILE` samples the identity process with py-spy during its first measured burst and
prints the functions that took the most samples (inclusive and own time); FILE keeps the raw stacks.

Target (issue 15): every hop >= 25 % of the relay; identity >= 5,000 decisions/s; p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.consent_throughput import PROVIDER, grants, identity_event, wait_projected
from bench.identity_throughput import latency, submission
from devtools.testing.embedded import CHECKOUT, EmbeddedStack, ServiceProcess, service_env
from devtools.testing.events import to_bytes
from devtools.testing.load import publish
from devtools.testing.watch import ArrivalWatch
from shared.messaging.provisioning import provision_topics

IDENTITY_PREFIX = "bench."  # bench.identity_throughput's paced run publishes there
RELAY_PREFIX = "relay."
CONSENT_PREFIX = "consent."
TARGET_RATIO = 0.25


def by_id(event: dict[str, Any]) -> Hashable:
    """The relay copies records verbatim: an output is named by its own id."""
    ident: str = event["id"]
    return ident


def by_subject(event: dict[str, Any]) -> Hashable:
    """Consent decisions are about the consent id (their subject)."""
    subject: str = event["subject"]
    return subject


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Hop:
    """One hop under test: where bursts go, where its outputs are watched, how a burst is made.

    `pids` names the processes whose CPU time a burst is charged with (the hop's own process, the
    store, the broker): on a shared, saturated machine CPU per message is the figure that does not
    depend on what the neighbours run.
    """

    name: str
    unit: str
    topic: str
    watch: ArrivalWatch
    messages: Callable[[str, int], list[tuple[str, bytes, Hashable]]]  # run, n -> (key, value, output name)
    n: int
    pids: dict[str, int] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)
    loads: list[float] = field(default_factory=list)
    cpu_us: list[dict[str, float]] = field(default_factory=list)  # per burst: process -> µs per message


@dataclass(frozen=True)
class Burst:
    """How one burst went."""

    rate: float  # sustained: first output -> last output
    offered: float  # what the producer managed
    load: float  # 1-minute load average when it ended
    cpu_us: dict[str, float]  # process -> CPU µs per message during the burst


async def burst(producer: AIOKafkaProducer, hop: Hop, timeout: float = 300.0) -> Burst:
    """Publish `hop.n` messages as fast as possible; the rate from its first output to its last."""
    items = hop.messages(uuid.uuid4().hex[:6], hop.n)
    cpu_before = {name: cpu_seconds(pid) for name, pid in hop.pids.items()}
    phase = await publish(producer, hop.topic, [(k, v) for k, v, _ in items], rate=None)
    names = [name for _, _, name in items]
    await hop.watch.wait(names, timeout=timeout)
    times = sorted(hop.watch.arrived[name] for name in names)
    span = times[-1] - times[0]
    cpu = {name: (cpu_seconds(pid) - cpu_before[name]) * 1e6 / len(items) for name, pid in hop.pids.items()}
    return Burst(
        rate=(len(times) - 1) / span if span > 0 else float("inf"),
        offered=len(items) / (phase.published - phase.started),
        load=os.getloadavg()[0],
        cpu_us=cpu,
    )


def relay_messages(run: str, n: int) -> list[tuple[str, bytes, Hashable]]:
    """Identity submissions (the same bytes the identity hop gets), named by their own id."""
    return [
        (user, value, f"{run}-{i}") for i, (user, value) in enumerate(submission(i, run) for i in range(n))
    ]


def identity_messages(run: str, n: int) -> list[tuple[str, bytes, Hashable]]:
    """Identity submissions; a decision names its submission as causation."""
    return relay_messages(run, n)


def consent_messages(users: Sequence[str]) -> Callable[[str, int], list[tuple[str, bytes, Hashable]]]:
    """Grants between projected users; a decision's subject is the consent id."""

    def make(run: str, n: int) -> list[tuple[str, bytes, Hashable]]:
        ids = [f"{run}-c{i}" for i in range(n)]
        return [(key, value, key) for key, value in grants(list(users), ids)]

    return make


class Profiler:
    """py-spy sampling one process while a burst runs (collapsed stacks in `path`)."""

    def __init__(self, pid: int, path: Path) -> None:
        """Sample `pid` into `path`."""
        self.pid, self.path = pid, path
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        spy = Path(sys.executable).with_name("py-spy")
        argv = [str(spy), "record", "--pid", str(self.pid), "--rate", "250", "--format", "raw"]
        self.proc = subprocess.Popen([*argv, "--output", str(self.path)], stdout=subprocess.DEVNULL)
        time.sleep(1.0)  # py-spy attaches
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        self.proc.wait(timeout=30)


def top_costs(path: Path, limit: int = 25) -> str:
    """The functions with the most samples: inclusive (anywhere on the stack) and own (on top)."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for f in stack.split(";")
        ]
        for f in set(frames):
            inclusive[f] = inclusive.get(f, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    lines = [f"profile: {total} samples"]
    for title, table in (("inclusive", inclusive), ("own", own)):
        lines.append(f"  top {title}:")
        ranked = sorted(table.items(), key=lambda kv: -kv[1])[:limit]
        lines += [f"    {n / total:6.1%}  {f}" for f, n in ranked]
    return "\n".join(lines)


async def wait_relay_ready(producer: AIOKafkaProducer, hop: Hop, timeout: float = 60.0) -> None:
    """Send probes until one comes out (the relay's consumer group has joined)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        key, value, name = relay_messages("probe" + uuid.uuid4().hex[:4], 1)[0]
        await (await producer.send(hop.topic, value, key=key.encode()))
        try:
            await hop.watch.wait([name], timeout=2.0)
            return
        except TimeoutError:
            continue
    raise TimeoutError(f"the relay did not relay within {timeout}s")


def processes(stack: EmbeddedStack, workdir: Path, consent_db: str) -> list[ServiceProcess]:
    """The relay, identity and consent processes (not started)."""
    relay_env = {
        "RELAY_BOOTSTRAP": stack.bootstrap,
        "RELAY_IN": RELAY_PREFIX + "dsgov.platform.identity",
        "RELAY_OUT": RELAY_PREFIX + "dsgov.identity",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(CHECKOUT), os.environ.get("PYTHONPATH")])),
    }
    identity_env = service_env(stack, prefix=IDENTITY_PREFIX, database="bench_identity") | {
        "DSGOV_IDENTITY_HMAC_KEY": "bench-hmac-key-0123456789abcdef0123456789",
        "DSGOV_IDENTITY_AUTHORITY_MODE": "simulator",
        "DSGOV_LOG_LEVEL": "WARNING",
    }
    consent_env = service_env(stack, prefix=CONSENT_PREFIX, database=consent_db, provider_id=PROVIDER) | {
        "DSGOV_LOG_LEVEL": "WARNING"
    }
    return [
        ServiceProcess("bench.relay_baseline", relay_env, workdir / "relay.log"),
        ServiceProcess("services.identity_verification", identity_env, workdir / "identity.log"),
        ServiceProcess("services.biometric_consent", consent_env, workdir / "consent.log"),
    ]


async def project_users(producer: AIOKafkaProducer, stack: EmbeddedStack, db: str, n: int) -> list[str]:
    """Verified users for the consent hop (its grants need a projected identity)."""
    users = [f"user-{i}" for i in range(n)]
    acks = [
        await producer.send(CONSENT_PREFIX + "dsgov.identity", to_bytes(identity_event(u)), key=u.encode())
        for u in users
    ]
    await asyncio.gather(*acks)
    await wait_projected(stack.mongo_uri, db, n, timeout=300)
    return users


def pids(hop: ServiceProcess, stack: EmbeddedStack) -> dict[str, int]:
    """The processes a hop's burst is charged with: itself, the store, the broker, this driver."""
    assert hop.popen is not None
    assert stack.mongo is not None
    assert stack.kafka is not None
    return {"hop": hop.popen.pid, "store": stack.mongo.pid, "broker": stack.kafka.pid, "driver": os.getpid()}


async def measure_rounds(
    producer: AIOKafkaProducer, hops: Sequence[Hop], args: argparse.Namespace, identity: ServiceProcess
) -> None:
    """Alternating rounds: each hop bursts once per round; the identity hop is profiled in the first."""
    for round_ in range(args.rounds):
        for hop in hops:
            if args.profile and round_ == 0 and hop.name == "identity" and identity.popen:
                with Profiler(identity.popen.pid, args.profile):
                    b = await burst(producer, hop)
            else:
                b = await burst(producer, hop)
            hop.rates.append(b.rate)
            hop.loads.append(b.load)
            hop.cpu_us.append(b.cpu_us)
            cpu = ", ".join(f"{name} {us:.0f}" for name, us in b.cpu_us.items())
            print(
                f"  {hop.name:<9} {b.rate:>8.0f} {hop.unit:<12} "
                f"(offered {b.offered:.0f}/s, load {b.load:.2f}; CPU µs/message: {cpu})",
                flush=True,
            )


async def run(args: argparse.Namespace, workdir: Path) -> None:
    stack = EmbeddedStack(workdir).start()
    procs: list[ServiceProcess] = []
    watches: list[ArrivalWatch] = []
    try:
        for prefix in (IDENTITY_PREFIX, RELAY_PREFIX, CONSENT_PREFIX):
            await provision_topics(stack.bootstrap, prefix=prefix)
        consent_db = f"bench_consent_{uuid.uuid4().hex[:6]}"
        relay_proc, identity_proc, consent_proc = procs = processes(stack, workdir, consent_db)
        relay_proc.start(wait_ready=False)  # no health endpoint: ready when a probe comes out
        identity_proc.start()
        if args.consent_n:
            consent_proc.start()
        producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, linger_ms=5, max_batch_size=256 * 1024)
        await producer.start()
        try:
            relay_watch = ArrivalWatch(stack.bootstrap, RELAY_PREFIX + "dsgov.identity", key=by_id)
            identity_watch = ArrivalWatch(stack.bootstrap, IDENTITY_PREFIX + "dsgov.identity")
            consent_watch = ArrivalWatch(stack.bootstrap, CONSENT_PREFIX + "dsgov.consent", key=by_subject)
            watches = [relay_watch, identity_watch, consent_watch]
            for w in watches:
                await w.start()
            relay = Hop(
                "relay",
                "messages/s",
                RELAY_PREFIX + "dsgov.platform.identity",
                relay_watch,
                relay_messages,
                args.relay_n,
                pids=pids(relay_proc, stack),
            )
            hops = [
                relay,
                Hop(
                    "identity",
                    "decisions/s",
                    IDENTITY_PREFIX + "dsgov.platform.identity",
                    identity_watch,
                    identity_messages,
                    args.identity_n,
                    pids=pids(identity_proc, stack),
                ),
            ]
            await wait_relay_ready(producer, relay)
            if args.consent_n:
                users = await project_users(producer, stack, consent_db, args.consent_n)
                hops.append(
                    Hop(
                        "consent",
                        "decisions/s",
                        CONSENT_PREFIX + "dsgov.platform.consent",
                        consent_watch,
                        consent_messages(users),
                        args.consent_n,
                        pids=pids(consent_proc, stack),
                    )
                )
            for hop in hops:  # warm-up: connection pools, caches, lazy imports
                n, hop.n = hop.n, min(hop.n, 2000)
                await burst(producer, hop)
                hop.n = n
            await measure_rounds(producer, hops, args, identity_proc)
            paced = await latency(producer, identity_watch, args.rate, args.seconds)
            paced_load = os.getloadavg()[0]
        finally:
            for w in watches:
                await w.stop()
            await producer.stop()
        print_report(hops, paced, paced_load)
        if args.profile:
            print(top_costs(args.profile))
    finally:
        for p in procs:
            p.stop()
        stack.stop()


def print_report(hops: Sequence[Hop], paced: dict[str, float], paced_load: float) -> None:
    relay = hops[0]
    print(
        f"hop ratios on the embedded stack ({len(relay.rates)} alternating rounds, medians; 4 partitions, "
        "1 process per hop)"
    )
    for hop in hops:
        ratios = [r / base for r, base in zip(hop.rates, relay.rates, strict=True)]
        ratio = statistics.median(ratios)
        verdict = "" if hop is relay else f"  -> {'MET' if ratio >= TARGET_RATIO else 'MISSED'} (>= 25 %)"
        print(
            f"  {hop.name:<9} {statistics.median(hop.rates):>8.0f} {hop.unit:<12} "
            f"ratio {ratio:6.1%} (rounds: {', '.join(f'{x:.1%}' for x in ratios)}; "
            f"load {min(hop.loads):.1f}-{max(hop.loads):.1f}){verdict}"
        )
    print("  CPU per message (µs, median of rounds; the driver publishes and watches):")
    for hop in hops:
        cpu = {name: statistics.median(c[name] for c in hop.cpu_us) for name in hop.pids}
        server = sum(us for name, us in cpu.items() if name != "driver")
        base = sum(statistics.median(c[n] for c in relay.cpu_us) for n in relay.pids if n != "driver")
        print(
            f"    {hop.name:<9} "
            + ", ".join(f"{name} {us:.0f}" for name, us in cpu.items())
            + f"; hop+store+broker {server:.0f} -> relay/hop CPU ratio {base / server:.1%}"
        )
    p99_ok = paced["p99_ms"] <= 100
    print(
        f"  identity paced at {paced['rate_target_per_s']:.0f}/s "
        f"(achieved {paced['rate_achieved_per_s']:.0f}/s, {paced['submissions']:.0f}): "
        f"p50 {paced['p50_ms']:.1f} ms, p99 {paced['p99_ms']:.1f} ms, max {paced['max_ms']:.1f} ms "
        f"(load {paced_load:.2f}) -> p99 <= 100 ms {'MET' if p99_ok else 'MISSED'}"
    )
    identity = statistics.median(hops[1].rates)
    print(f"  identity >= 5000 decisions/s -> {'MET' if identity >= 5000 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--relay-n", type=int, default=20_000, help="messages per relay burst")
    parser.add_argument("--identity-n", type=int, default=10_000, help="submissions per identity burst")
    parser.add_argument("--consent-n", type=int, default=4_000, help="grants per consent burst (0: skip)")
    parser.add_argument("--rate", type=int, default=500, help="paced identity submissions per second")
    parser.add_argument("--seconds", type=int, default=10, help="duration of the paced run")
    parser.add_argument("--profile", type=Path, help="py-spy the first identity burst into this file")
    parser.add_argument("--workdir", type=Path, help="keep servers' and services' logs here")
    args = parser.parse_args()
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        asyncio.run(run(args, args.workdir))
        return
    with tempfile.TemporaryDirectory(prefix="dsgov-hop-ratio-") as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
