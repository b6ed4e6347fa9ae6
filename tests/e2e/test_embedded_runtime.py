"""End-to-end checks of `python -m devtools run`: the embedded runtime behind `make run`."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from devtools.servers import LOOPBACK, free_port, port_is_free

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "Press Ctrl-C to stop."
TABLE_ROW = re.compile(r"^  (?P<name>\S+)\s+(?P<pid>\d+)\s+(?P<where>.+)$")
HEALTH_URL = re.compile(r"health (?P<url>http://\S+/health/ready)")
STARTUP_TIMEOUT = 150.0  # Kafka + MongoDB + topics + services ready (DSGOV_READY_TIMEOUT=90)
STOP_TIMEOUT = 60.0


class Output:
    """Collects a child's output lines in a background thread."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._lock = threading.Lock()
        assert proc.stdout is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in iter(stream.readline, ""):
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, marker: str, timeout: float) -> None:
        """Poll until a line equals `marker`; fail early if the process exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if marker in self.lines:
                    return
            if self.proc.poll() is not None:
                self._thread.join(timeout=5)
                pytest.fail(f"exited with {self.proc.returncode} before {marker!r}:\n{self.text}")
            time.sleep(0.2)
        pytest.fail(f"no {marker!r} within {timeout:.0f} s:\n{self.text}")

    def finish(self) -> None:
        self._thread.join(timeout=10)


def distinct_free_ports(n: int) -> list[int]:
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


def runtime_env(var_dir: Path, kafka: int, mongo: int, console: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSGOV_")}
    env.update(
        DSGOV_VAR_DIR=str(var_dir),
        DSGOV_KAFKA_PORT=str(kafka),
        DSGOV_MONGO_PORT=str(mongo),
        DSGOV_CONSOLE_PORT=str(console),
        DSGOV_READY_TIMEOUT="90",
        PYTHONUNBUFFERED="1",
    )
    return env


def start_runtime(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "devtools", "run"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # our SIGINT goes only to the supervisor, as Ctrl-C would
    )


def ready_table(text: str) -> list[tuple[str, int, str]]:
    """(name, pid, where) rows of the last ready table printed."""
    block = text.split("dsgov embedded runtime is ready")[-1].split(READY_LINE)[0]
    rows = [TABLE_ROW.match(line) for line in block.splitlines()]
    return [(m["name"], int(m["pid"]), m["where"]) for m in rows if m]


def pid_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def answers_200(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return int(response.status) == 200


@pytest.fixture
def runtime_ports() -> list[int]:
    return distinct_free_ports(3)


@pytest.fixture
def cleanup() -> Iterator[list[tuple[subprocess.Popen[str], list[int]]]]:
    """Stop whatever a failed test left running: the supervisor, then the pids it printed."""
    started: list[tuple[subprocess.Popen[str], list[int]]] = []
    yield started
    for proc, pids in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        for pid in pids:
            if not pid_gone(pid):
                os.killpg(pid, signal.SIGKILL)


def first_admin_can_be_created_with_the_printed_command(text: str, console: int, cwd: Path) -> None:
    """The ready table's first-run command works as printed (only NAME and the password to fill in)."""
    block = text.split("dsgov embedded runtime is ready")[-1].split(READY_LINE)[0]
    [command] = [line.strip() for line in block.splitlines() if "create-user --username NAME" in line]
    assign, *argv = shlex.split(command)
    variable, value = assign.split("=", 1)
    assert argv[0] == sys.executable  # the real interpreter, pasteable from any directory
    deadline = time.monotonic() + 30  # the console records its URL before it serves its first page
    while True:
        with contextlib.suppress(OSError):
            if answers_200(f"http://{LOOPBACK}:{console}/login"):
                break
        assert time.monotonic() < deadline, "the console's web app did not answer"
        time.sleep(0.2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DSGOV_")} | {variable: value}
    done = subprocess.run(
        [word.replace("NAME", "firstadmin") for word in argv] + ["--password-stdin"],
        input="the first admin's passphrase\n",
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert f"sign in at http://{LOOPBACK}:{console}/" in done.stdout


def test_run_starts_everything_and_ctrl_c_stops_it(
    tmp_path: Path,
    runtime_ports: list[int],
    cleanup: list[tuple[subprocess.Popen[str], list[int]]],
) -> None:
    kafka, mongo, console = runtime_ports
    proc = start_runtime(runtime_env(tmp_path / "var", kafka, mongo, console))
    pids: list[int] = []
    cleanup.append((proc, pids))
    output = Output(proc)

    output.wait_for(READY_LINE, STARTUP_TIMEOUT)
    rows = ready_table(output.text)
    pids.extend(pid for _, pid, _ in rows)
    names = [name for name, _, _ in rows]
    assert {"kafka", "mongo", "identity_verification"} <= set(names), output.text
    health_urls = [m["url"] for _, _, where in rows if (m := HEALTH_URL.search(where))]
    assert len(health_urls) == len(names) - 2, output.text  # every service but kafka, mongo
    for url in health_urls:
        assert answers_200(url), url
    assert (tmp_path / "var" / "secrets.env").stat().st_mode & 0o777 == 0o600
    first_admin_can_be_created_with_the_printed_command(output.text, console, tmp_path)

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=STOP_TIMEOUT) == 0, output.text
    output.finish()
    assert output.lines[-1].endswith("stopped"), output.text
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_run_refuses_a_taken_kafka_port_and_starts_nothing(tmp_path: Path, runtime_ports: list[int]) -> None:
    kafka, mongo, console = runtime_ports
    var_dir = tmp_path / "var"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind((LOOPBACK, kafka))
        holder.listen()
        result = subprocess.run(
            [sys.executable, "-m", "devtools", "run"],
            cwd=ROOT,
            env=runtime_env(var_dir, kafka, mongo, console),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert str(kafka) in output, output
    assert "DSGOV_KAFKA_PORT" in output, output
    assert "Traceback" not in output, output
    assert not var_dir.exists()
    assert port_is_free(mongo)
