"""The embedded runtime behind `make run` (`python -m devtools run`): one command, one terminal.

It starts the embedded Kafka broker and MongoDB server, creates the topics, starts every service
of `catalog.SERVICES` as its own process, waits until each one reports ready, prints where
everything runs, restarts a service that dies (at most `MAX_RESTARTS` times) and, on Ctrl-C or
SIGTERM, stops the services, then MongoDB, then Kafka, leaving no process behind.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

from devtools.catalog import (
    KAFKA_PORT,
    MONGO_PORT,
    SERVICES,
    PortSetting,
    ServiceSpec,
    required_secrets,
)
from devtools.servers import (
    LOOPBACK,
    ManagedProcess,
    PortInUseError,
    free_port,
    mongo_uri,
    require_free,
    start_kafka,
    start_mongo,
)

MAX_RESTARTS = 3
RESTART_BACKOFF = (1.0, 2.0, 4.0)
SERVICE_STOP_TIMEOUT = 20.0
SERVER_STOP_TIMEOUT = 10.0
PROVISION_TIMEOUT = 60.0
POLL_INTERVAL = 0.5
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """Everything `run` needs, read once from the environment."""

    kafka_port: int
    mongo_port: int
    var_dir: Path
    provider_id: str = "provider-embedded-demo"
    ready_timeout: float = 90.0
    services: tuple[ServiceSpec, ...] = SERVICES
    web_ports: Mapping[str, int] = field(default_factory=dict, hash=False)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str], services: tuple[ServiceSpec, ...] = SERVICES
    ) -> RuntimeSettings:
        """Read the settings; ValueError with a clear message when a value is invalid."""
        return cls(
            kafka_port=KAFKA_PORT.read(environ),
            mongo_port=MONGO_PORT.read(environ),
            var_dir=Path(environ.get("DSGOV_VAR_DIR") or "var").resolve(),
            provider_id=environ.get("DSGOV_PROVIDER_ID") or "provider-embedded-demo",
            ready_timeout=_positive_float(environ, "DSGOV_READY_TIMEOUT", 90.0),
            services=services,
            web_ports={s.name: s.http_port.read(environ) for s in services if s.http_port},
        )

    @property
    def log_dir(self) -> Path:
        """Where each process writes its log file."""
        return self.var_dir / "log"

    @property
    def mongo_dir(self) -> Path:
        """The MongoDB server's data files."""
        return self.var_dir / "mongo"

    @property
    def secrets_file(self) -> Path:
        """Generated secrets, kept across runs."""
        return self.var_dir / "secrets.env"

    @property
    def kafka_bootstrap(self) -> str:
        """host:port of the broker."""
        return f"{LOOPBACK}:{self.kafka_port}"

    def fixed_ports(self) -> list[tuple[int, PortSetting]]:
        """Every port the operator chose, with the setting it came from."""
        ports = [(self.kafka_port, KAFKA_PORT), (self.mongo_port, MONGO_PORT)]
        ports += [(self.web_ports[s.name], s.http_port) for s in self.services if s.http_port]
        return ports


def _positive_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ValueError(f"{name}={raw!r} must be a positive number of seconds")
    return value


def check_ports(settings: RuntimeSettings) -> None:
    """Raise ValueError for a port chosen twice, PortInUseError for a port already taken."""
    seen: dict[int, PortSetting] = {}
    for port, setting in settings.fixed_ports():
        if port in seen:
            raise ValueError(
                f"{seen[port].env_var} and {setting.env_var} both ask for port {port}; choose different ports"
            )
        seen[port] = setting
        require_free(port, setting.what, setting.env_var)


# --------------------------------------------------------------------------- secrets


def ensure_secrets(path: Path, names: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Load `path` (KEY=value lines), adding a random value for every missing name.

    The file is created with mode 0600 and existing lines are kept as they are. Returns the
    values and the names that were added. Values are never printed.
    """
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    values = parse_env_file(text)
    added = [name for name in names if not values.get(name)]
    if added or not path.exists():
        new = {name: secrets.token_urlsafe(32) for name in added}
        header = (
            ""
            if text
            else "# Generated by `python -m devtools run` for the embedded runtime. Keep private.\n"
        )
        body = text if not text or text.endswith("\n") else text + "\n"
        _write_private(path, header + body + "".join(f"{k}={v}\n" for k, v in new.items()))
        values.update(new)
    os.chmod(path, 0o600)
    return values, added


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=value pairs of a dotenv-style text; blank lines and # comments are skipped."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(text)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- terminal


class Terminal:
    """Line-oriented output shared by the supervisor and the child-output threads."""

    def __init__(self, stream: IO[str] | None = None, width: int = 5) -> None:
        """Write to `stream` (stdout by default), padding prefixes to `width`."""
        self._stream = stream or sys.stdout
        self._lock = threading.RLock()
        self.width = width

    def write(self, text: str) -> None:
        """Write `text` (one or more lines) at once, never interleaved with other lines."""
        with self._lock, suppress(OSError, ValueError):
            self._stream.write(text if text.endswith("\n") else text + "\n")
            self._stream.flush()

    def line(self, source: str, text: str) -> None:
        """One line prefixed with `source | `."""
        self.write(f"{source:<{self.width}} | {text}")

    def note(self, text: str) -> None:
        """Write a message of the supervisor itself."""
        self.line("dsgov", text)


# --------------------------------------------------------------------------- processes


@dataclass
class ServiceProcess:
    """A catalog service and the process currently running it."""

    spec: ServiceSpec
    health_port: int
    log_path: Path
    http_port: int | None = None
    proc: ManagedProcess | None = None
    reader: threading.Thread | None = None
    restarts: int = 0
    ready: bool = False

    @property
    def health_url(self) -> str:
        """Readiness endpoint."""
        return f"http://{LOOPBACK}:{self.health_port}/health/ready"

    @property
    def web_url(self) -> str | None:
        """The web app's address, for a web service."""
        return f"http://{LOOPBACK}:{self.http_port}/" if self.http_port else None

    def alive(self) -> bool:
        """Return True while the current process runs."""
        return self.proc is not None and self.proc.alive()


def service_env(
    settings: RuntimeSettings,
    svc: ServiceProcess,
    secret_values: Mapping[str, str],
    base: Mapping[str, str],
) -> dict[str, str]:
    """Build the environment of one service process: `base` plus the runtime's settings."""
    env = dict(base)
    env.setdefault("DSGOV_LOG_JSON", "false")
    env.update(
        DSGOV_KAFKA_BOOTSTRAP=settings.kafka_bootstrap,
        DSGOV_MONGO_URI=mongo_uri(settings.mongo_port),
        DSGOV_PROVIDER_ID=settings.provider_id,
        DSGOV_HEALTH_PORT=str(svc.health_port),
        PYTHONUNBUFFERED="1",
    )
    env.update({name: secret_values[name] for name in svc.spec.secrets})
    env.update(svc.spec.env)
    if svc.http_port is not None:
        env["DSGOV_HTTP_PORT"] = str(svc.http_port)
    return env


ANSI_ESCAPE = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def pump_output(stream: IO[bytes], log_path: Path, source: str, terminal: Terminal) -> None:
    """Copy a child's output, line by line, to its log file (without colours) and to the terminal."""
    with stream, log_path.open("ab") as log:
        for raw in iter(stream.readline, b""):
            log.write(ANSI_ESCAPE.sub(b"", raw))
            log.flush()
            terminal.line(source, raw.decode("utf-8", "replace").rstrip("\r\n"))


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group led by `pid`; a vanished group is fine."""
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def is_ready(url: str, timeout: float = 1.0) -> bool:
    """Return True when GET `url` answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our URL
            return int(response.status) == 200
    except (OSError, http.client.HTTPException, ValueError):
        return False


def free_port_except(reserved: set[int]) -> int:
    """Return a free loopback port that is not one of `reserved`."""
    while (port := free_port()) in reserved:
        continue
    return port


# --------------------------------------------------------------------------- supervisor


class Stopped(Exception):
    """Ctrl-C or SIGTERM arrived: stop everything and exit 0."""


class Fatal(Exception):
    """Something failed that the runtime cannot recover from: stop everything and exit 1."""


class StopFlag:
    """Set from a signal handler; waited on by polling, which is safe in signal context."""

    def __init__(self) -> None:
        """Not requested yet."""
        self.signal_name: str | None = None

    @property
    def requested(self) -> bool:
        """True once a stop signal arrived."""
        return self.signal_name is not None

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        """Signal handler: remember the first signal; say so on later ones."""
        if self.requested:
            with suppress(OSError):
                os.write(2, b"dsgov | already stopping, please wait\n")
            return
        self.signal_name = signal.Signals(signum).name

    def sleep(self, seconds: float) -> None:
        """Sleep up to `seconds`; raise Stopped as soon as a stop was requested."""
        deadline = time.monotonic() + seconds
        while True:
            self.check()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(0.1, remaining))

    def check(self) -> None:
        """Raise Stopped if a stop was requested."""
        if self.requested:
            raise Stopped


class Supervisor:
    """Starts, watches and stops every process of the embedded runtime."""

    def __init__(self, settings: RuntimeSettings, terminal: Terminal | None = None) -> None:
        """Nothing starts before `run`."""
        self.settings = settings
        width = max([5, *(len(s.name) for s in settings.services)])
        self.out = terminal or Terminal(width=width)
        self.flag = StopFlag()
        self.servers: list[ManagedProcess] = []
        self.services: list[ServiceProcess] = []
        self.secret_values: dict[str, str] = {}

    def run(self) -> int:
        """Run until stopped; return the process exit code."""
        try:
            self._start()
            self._wait_ready()
            self._print_table()
            self._watch()
            code = EXIT_OK
        except Stopped:
            self.out.note(f"received {self.flag.signal_name}, stopping")
            code = EXIT_OK
        except PortInUseError as exc:
            self.out.note(f"error: {exc}")
            code = EXIT_USAGE
        except Fatal as exc:
            self.out.note(f"error: {exc}")
            code = EXIT_FAILED
        finally:
            self.stop_all()
        self.out.note("stopped")
        return code

    # ----------------------------------------------------------------- start

    def _start(self) -> None:
        self._prepare_var()
        self.flag.check()
        self._start_servers()
        self.flag.check()
        self._provision()
        self.flag.check()
        for spec in self.settings.services:
            self._spawn(self._new_service(spec))

    def _prepare_var(self) -> None:
        s = self.settings
        for directory in (s.var_dir, s.log_dir, s.mongo_dir):
            directory.mkdir(parents=True, exist_ok=True)
        names = required_secrets(s.services)
        self.secret_values, added = ensure_secrets(s.secrets_file, names)
        if added:
            self.out.note(f"generated {len(added)} secret(s) in {s.secrets_file}: {', '.join(added)}")

    def _start_servers(self) -> None:
        s = self.settings
        self.out.note(f"starting Kafka (memory storage) on {s.kafka_bootstrap}")
        self.servers.append(_started(lambda: start_kafka(s.kafka_port, s.log_dir / "kafka.log")))
        self.flag.check()
        self.out.note(f"starting MongoDB on {LOOPBACK}:{s.mongo_port}, data in {s.mongo_dir}")
        self.servers.append(_started(lambda: start_mongo(s.mongo_port, s.mongo_dir, s.log_dir / "mongo.log")))

    def _provision(self) -> None:
        from shared.messaging.provisioning import provision_topics

        bootstrap = self.settings.kafka_bootstrap
        try:
            created = asyncio.run(asyncio.wait_for(provision_topics(bootstrap), timeout=PROVISION_TIMEOUT))
        except Exception as exc:  # any failure here is fatal; say what it was
            raise Fatal(f"provisioning topics on {bootstrap} failed: {exc!r}") from exc
        self.out.note(f"created {len(created)} topic(s)" if created else "all topics exist")

    def _new_service(self, spec: ServiceSpec) -> ServiceProcess:
        reserved = {port for port, _ in self.settings.fixed_ports()}
        reserved |= {svc.health_port for svc in self.services}
        svc = ServiceProcess(
            spec=spec,
            health_port=free_port_except(reserved),
            log_path=self.settings.log_dir / f"{spec.name}.log",
            http_port=self.settings.web_ports.get(spec.name),
        )
        self.services.append(svc)
        return svc

    def _spawn(self, svc: ServiceProcess) -> None:
        env = service_env(self.settings, svc, self.secret_values, os.environ)
        popen = subprocess.Popen(  # noqa: S603 - argv is our interpreter and a catalog module
            [sys.executable, "-m", svc.spec.module],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # own process group: Ctrl-C reaches only the supervisor
            env=env,
        )
        svc.proc = ManagedProcess(svc.spec.name, popen, svc.health_url, svc.log_path)
        svc.ready = False
        assert popen.stdout is not None
        svc.reader = threading.Thread(
            target=pump_output,
            args=(popen.stdout, svc.log_path, svc.spec.name, self.out),
            name=f"output-{svc.spec.name}",
            daemon=True,
        )
        svc.reader.start()
        self.out.note(f"started {svc.spec.name} (pid {popen.pid}, python -m {svc.spec.module})")

    # ----------------------------------------------------------------- ready and watch

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.ready_timeout
        while True:
            self._supervise()
            for svc in self.services:
                svc.ready = svc.ready or is_ready(svc.health_url)
            if all(svc.ready for svc in self.services):
                return
            if time.monotonic() > deadline:
                raise Fatal(self._not_ready_message())
            self.flag.sleep(POLL_INTERVAL)

    def _not_ready_message(self) -> str:
        waiting = [f"{s.spec.name} ({s.health_url}, log {s.log_path})" for s in self.services if not s.ready]
        return f"not ready after {self.settings.ready_timeout:g} s: " + "; ".join(waiting)

    def _watch(self) -> None:
        while True:
            self.flag.sleep(POLL_INTERVAL)
            self._supervise()

    def _supervise(self) -> None:
        """Fail on a dead server; restart a dead service, or fail once it used its restarts."""
        for server in self.servers:
            if not server.alive():
                code = server.popen.returncode
                raise Fatal(f"{server.name} exited with code {code}; see {server.log_path}")
        for svc in self.services:
            if svc.proc is not None and not svc.alive():
                self._restart(svc)

    def _restart(self, svc: ServiceProcess) -> None:
        assert svc.proc is not None
        code, name = svc.proc.popen.returncode, svc.spec.name
        _finish_group(svc)
        if svc.restarts >= MAX_RESTARTS:
            raise Fatal(f"{name} exited with code {code} after {MAX_RESTARTS} restarts; see {svc.log_path}")
        delay = RESTART_BACKOFF[min(svc.restarts, len(RESTART_BACKOFF) - 1)]
        svc.restarts += 1
        self.out.note(f"{name} exited with code {code}; restart {svc.restarts}/{MAX_RESTARTS} in {delay:g} s")
        self.flag.sleep(delay)
        self._spawn(svc)

    def _print_table(self) -> None:
        s = self.settings
        rows = [("kafka", str(self.servers[0].pid), f"bootstrap {s.kafka_bootstrap}")]
        rows.append(("mongo", str(self.servers[1].pid), mongo_uri(s.mongo_port)))
        for svc in self.services:
            assert svc.proc is not None
            web = f"web {svc.web_url}  " if svc.web_url else ""
            rows.append((svc.spec.name, str(svc.proc.pid), f"{web}health {svc.health_url}"))
        rows += [("logs", "-", str(s.log_dir)), ("secrets", "-", str(s.secrets_file))]
        first_run = ""
        if any(svc.spec.name == "console" for svc in self.services):  # the console's first admin, as is
            command = f"DSGOV_MONGO_URI={shlex.quote(mongo_uri(s.mongo_port))} {shlex.quote(sys.executable)}"
            command += " -m services.console create-user --username NAME --role admin"
            first_run = f"No console user yet? Create the first admin in a second terminal:\n  {command}\n"
        self.out.write(
            format_table("dsgov embedded runtime is ready", rows) + first_run + "Press Ctrl-C to stop."
        )

    # ----------------------------------------------------------------- stop

    def stop_all(self) -> None:
        """Stop the services (SIGTERM, then SIGKILL after 20 s), then MongoDB, then Kafka."""
        running = [svc for svc in self.services if svc.alive()]
        if running:
            self.out.note("stopping " + ", ".join(svc.spec.name for svc in running))
        for svc in running:
            assert svc.proc is not None
            signal_group(svc.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + SERVICE_STOP_TIMEOUT
        for svc in self.services:
            if not _await_exit(svc, deadline):
                self.out.note(f"{svc.spec.name} did not stop in {SERVICE_STOP_TIMEOUT:g} s; killed")
            _finish_group(svc)
        for server in reversed(self.servers):
            self.out.note(f"stopping {server.name}")
            server.stop(timeout=SERVER_STOP_TIMEOUT)
            signal_group(server.pid, signal.SIGKILL)
        self.servers.clear()


def _started(start: Callable[[], ManagedProcess]) -> ManagedProcess:
    """Call `start()`, turning a failure to start a server into Fatal."""
    try:
        return start()
    except PortInUseError:
        raise
    except (OSError, RuntimeError, TimeoutError, ImportError) as exc:
        raise Fatal(str(exc)) from exc


def _await_exit(svc: ServiceProcess, deadline: float) -> bool:
    """Wait until `deadline` for the service to exit; kill its group and return False if not."""
    if svc.proc is None or not svc.alive():
        return True
    try:
        svc.proc.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        signal_group(svc.proc.pid, signal.SIGKILL)
        svc.proc.popen.wait(timeout=5)
        return False
    return True


def _finish_group(svc: ServiceProcess) -> None:
    """After the leader exited: kill what is left of its group and drain its output."""
    if svc.proc is not None:
        signal_group(svc.proc.pid, signal.SIGKILL)
    if svc.reader is not None:
        svc.reader.join(timeout=2)


def format_table(title: str, rows: list[tuple[str, str, str]]) -> str:
    """Aligned NAME / PID / WHERE table under a title, ending with a newline."""
    header = ("NAME", "PID", "WHERE")
    w0 = max(len(r[0]) for r in [header, *rows])
    w1 = max(len(r[1]) for r in [header, *rows])
    lines = [f"  {a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in [header, *rows]]
    rule = "=" * max(len(line) for line in lines)
    return "\n".join([rule, title, rule, *lines, rule]) + "\n"


# --------------------------------------------------------------------------- entry point


@contextmanager
def stop_signals(flag: StopFlag) -> Iterator[None]:
    """Route SIGINT and SIGTERM to `flag` (main thread only), restoring the handlers after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, flag.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(settings: RuntimeSettings | None = None) -> int:
    """Run the embedded system until Ctrl-C; return 0 on a requested stop.

    Returns 2, before starting anything, when a setting is invalid or a port is taken, and 1
    when something fails to start, is not ready in time or keeps dying.
    """
    try:
        settings = settings or RuntimeSettings.from_env(os.environ)
        check_ports(settings)
    except (ValueError, PortInUseError) as exc:
        print(f"make run: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    supervisor = Supervisor(settings)
    with stop_signals(supervisor.flag):
        return supervisor.run()
