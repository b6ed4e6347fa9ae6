"""The embedded stack (broker + store) and service processes, for tests and benchmarks."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devtools.servers import ManagedProcess, free_port, mongo_uri, start_kafka, start_mongo

TEST_SECRET = "test-secret-not-for-production-0123456789abcdef"  # noqa: S105 - tests only


@dataclass
class EmbeddedStack:
    """A Tansu broker and an nx-27017 store on free loopback ports."""

    workdir: Path
    kafka: ManagedProcess | None = None
    mongo: ManagedProcess | None = None
    kafka_port: int = 0
    mongo_port: int = 0

    def start(self) -> EmbeddedStack:
        """Start both servers and wait until they accept connections."""
        self.kafka_port, self.mongo_port = free_port(), free_port()
        self.kafka = start_kafka(self.kafka_port, self.workdir / "log" / "kafka.log")
        self.mongo = start_mongo(self.mongo_port, self.workdir / "mongo", self.workdir / "log" / "mongo.log")
        return self

    @property
    def bootstrap(self) -> str:
        """Kafka bootstrap address."""
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongo_uri(self) -> str:
        """MongoDB connection string."""
        return mongo_uri(self.mongo_port)

    def stop(self) -> None:
        """Stop both servers."""
        for proc in (self.kafka, self.mongo):
            if proc:
                proc.stop()


CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass
class ServiceProcess:
    """One service running as its own process, as in production."""

    module: str
    env: dict[str, str]
    log_path: Path
    health_port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_ready: bool = True, timeout: float = 60.0) -> ServiceProcess:
        """Start `python -m <module>`; by default wait until /health/ready answers 200."""
        env = {**os.environ, **self.env, "DSGOV_HEALTH_PORT": str(self.health_port), "DSGOV_LOG_JSON": "true"}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.argv(env),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def argv(self, env: dict[str, str]) -> list[str]:
        """`python -m <module>`; with a test fault or clock shift set, through `devtools.faults`."""
        if env.get("DSGOV_TEST_FAULT") or env.get("DSGOV_TEST_CLOCK_SHIFT_S"):
            # devtools is not installed: it is found from the checkout's root.
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
            return [sys.executable, "-m", "devtools.faults", self.module]
        return [sys.executable, "-m", self.module]

    def ready(self) -> bool:
        """True when the health endpoint says ready."""
        url = f"http://127.0.0.1:{self.health_port}/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll the health endpoint until ready; fail with the log tail if the process died."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen and self.popen.poll() is not None:
                raise RuntimeError(f"{self.module} exited ({self.popen.returncode}):\n{self.log_tail()}")
            if self.ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.module} not ready within {timeout}s:\n{self.log_tail()}")

    def wait_exit(self, timeout: float = 30.0) -> int:
        """Wait for the process to end by itself; return its exit code."""
        assert self.popen is not None
        return self.popen.wait(timeout=timeout)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait (graceful shutdown)."""
        if self.popen is None or self.popen.poll() is not None:
            return self.popen.returncode if self.popen else None
        self.popen.terminate()
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait(timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the service's log."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"


def service_env(
    stack: EmbeddedStack, *, prefix: str, database: str, provider_id: str = "provider-test"
) -> dict[str, str]:
    """The environment a service needs to run against `stack`, namespaced by `prefix`."""
    return {
        "DSGOV_KAFKA_BOOTSTRAP": stack.bootstrap,
        "DSGOV_MONGO_URI": stack.mongo_uri,
        "DSGOV_MONGO_DATABASE": database,
        "DSGOV_PROVIDER_ID": provider_id,
        "DSGOV_TOPIC_PREFIX": prefix,
        "DSGOV_DEADLETTER_KEY": TEST_SECRET,
    }
