"""What the embedded runtime (`make run`, `python -m devtools run`) starts, as typed, frozen data.

Every service runs as its own process, `python -m <module>`, configured only through its
environment. The supervisor gives each one:

- `DSGOV_KAFKA_BOOTSTRAP`, `DSGOV_MONGO_URI`, `DSGOV_PROVIDER_ID`, `DSGOV_LOG_JSON=false`;
- `DSGOV_HEALTH_PORT`: a free port on which it serves `/health/live` and `/health/ready`;
- every name in `secrets`, with a value kept in `var/secrets.env`;
- the fixed values in `env`;
- for a `"web"` service, `DSGOV_HTTP_PORT`: the port of its web app, read from `http_port`.

Adding a service is one line in `SERVICES`, for example::

    ServiceSpec("console", "services.console", "web", http_port=CONSOLE_PORT),
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

ServiceKind = Literal["consumer", "web"]

DEADLETTER_KEY = "DSGOV_DEADLETTER_KEY"
"""Secret that protects dead letters from sensitive topics; every consumer needs it."""


@dataclass(frozen=True, slots=True)
class PortSetting:
    """A fixed TCP port the operator chooses through an environment variable."""

    env_var: str
    default: int
    what: str

    def read(self, environ: Mapping[str, str]) -> int:
        """Return the port from `environ` or the default; ValueError if it is not a port."""
        raw = environ.get(self.env_var, "").strip()
        if not raw:
            return self.default
        if not raw.isdigit() or not 1 <= int(raw) <= 65535:
            raise ValueError(f"{self.env_var}={raw!r} is not a TCP port (1-65535) for {self.what}")
        return int(raw)


KAFKA_PORT = PortSetting("DSGOV_KAFKA_PORT", 9092, "the Kafka broker")
MONGO_PORT = PortSetting("DSGOV_MONGO_PORT", 27017, "the MongoDB server")
CONSOLE_PORT = PortSetting("DSGOV_CONSOLE_PORT", 8000, "the console web app")


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service process of the embedded runtime."""

    name: str
    module: str
    kind: ServiceKind = "consumer"
    secrets: tuple[str, ...] = (DEADLETTER_KEY,)
    env: Mapping[str, str] = field(default_factory=dict, hash=False)
    http_port: PortSetting | None = None

    def __post_init__(self) -> None:
        """Freeze `env` and check that a web service has a port and a consumer has none."""
        object.__setattr__(self, "env", MappingProxyType(dict(self.env)))
        if (self.kind == "web") != (self.http_port is not None):
            raise ValueError(f"service {self.name}: a web service needs http_port, others none")


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        "identity_verification",
        "services.identity_verification",
        secrets=(DEADLETTER_KEY, "DSGOV_IDENTITY_HMAC_KEY"),
        env={"DSGOV_IDENTITY_AUTHORITY_MODE": "simulator"},
    ),
    ServiceSpec("biometric_consent", "services.biometric_consent"),
    ServiceSpec(
        "generation_review",
        "services.generation_review",
        env={"DSGOV_REVIEW_DEMO_LIBRARY": "true"},  # demo data, clearly marked; never in production
    ),
    ServiceSpec("rumour_refutation", "services.rumour_refutation"),
    ServiceSpec("complaints", "services.complaints"),
    ServiceSpec(
        "regulator_reporting",
        "services.regulator_reporting",
        secrets=(DEADLETTER_KEY, "DSGOV_REPORTING_SIGNING_KEY"),  # any token_urlsafe(32) is a valid seed
        env={"DSGOV_REPORTING_KEY_ID": "embedded-1"},
    ),
    ServiceSpec(
        "labeling",
        "services.labeling",
        secrets=(DEADLETTER_KEY, "DSGOV_LABELING_SIGNING_KEY"),
        env={"DSGOV_LABELING_PROVIDER_CODE": "001191110108MA0000000A1DEMO"},
    ),  # fictitious demo code; any token_urlsafe(32) is a valid Ed25519 seed
    ServiceSpec(
        "network_log",
        "services.network_log",
        # any token_urlsafe(32) is a valid Ed25519 seed and a strong encryption secret
        secrets=(DEADLETTER_KEY, "DSGOV_NETLOG_ENCRYPTION_KEY", "DSGOV_NETLOG_SIGNING_KEY"),
        env={"DSGOV_MAX_BATCH": "5000"},  # bigger runs: the log is written in runs per batch
    ),
    ServiceSpec(
        "console",
        "services.console",
        "web",
        secrets=(DEADLETTER_KEY, "DSGOV_CONSOLE_SESSION_SECRET"),
        env={"DSGOV_CONSOLE_INSECURE_COOKIES": "true"},
        http_port=CONSOLE_PORT,
    ),
)
"""Every service `python -m devtools run` starts, in start order."""


def required_secrets(services: tuple[ServiceSpec, ...] = SERVICES) -> tuple[str, ...]:
    """Every secret name any of `services` needs, each once, in first-use order."""
    return tuple(dict.fromkeys(name for spec in services for name in spec.secrets))
