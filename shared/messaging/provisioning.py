"""Create dsgov's topics from the one declaration in `infra/kafka/topics.toml`."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

log = structlog.get_logger(__name__)

_RELATIVE = Path("infra") / "kafka" / "topics.toml"


def declaration_path() -> Path:
    """Where the topic declaration is: $DSGOV_TOPICS_FILE, the source tree, or ./infra (images)."""
    if env := os.environ.get("DSGOV_TOPICS_FILE"):
        return Path(env)
    in_tree = Path(__file__).resolve().parents[2] / _RELATIVE
    return in_tree if in_tree.exists() else Path.cwd() / _RELATIVE


@dataclass(frozen=True)
class TopicDeclaration:
    """A topic as declared in infra/kafka/topics.toml."""

    name: str
    partitions: int
    replication_factor: int
    retention_ms: int
    sensitive: bool

    def configs(self) -> dict[str, str]:
        """Topic-level configs sent on creation."""
        return {"retention.ms": str(self.retention_ms)}


def load_declarations(path: Path | None = None) -> list[TopicDeclaration]:
    """Parse the topic declaration file."""
    path = path or declaration_path()
    raw: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults: dict[str, Any] = raw.get("defaults", {})
    out = []
    for name, spec in raw.get("topics", {}).items():
        merged = {**defaults, **spec}
        out.append(
            TopicDeclaration(
                name=name,
                partitions=int(merged["partitions"]),
                replication_factor=int(merged["replication_factor"]),
                retention_ms=int(merged["retention_ms"]),
                sensitive=bool(merged.get("sensitive", False)),
            )
        )
    return out


def sensitive_topics(path: Path | None = None) -> frozenset[str]:
    """Names of topics whose payloads may carry personal identifiers."""
    return frozenset(d.name for d in load_declarations(path) if d.sensitive)


TOPIC_ALREADY_EXISTS = 36


def _raise_on_errors(response: Any) -> None:
    # A concurrent provisioner may have created a topic between list and create: that is fine.
    errors = [
        (name, code, msg)
        for name, code, *rest in getattr(response, "topic_errors", [])
        for msg in [rest[0] if rest else ""]
        if code not in (0, TOPIC_ALREADY_EXISTS)
    ]
    if errors:
        raise RuntimeError(f"topic creation failed: {errors}")


async def provision_topics(bootstrap: str, *, prefix: str = "", path: Path | None = None) -> list[str]:
    """Create every declared topic that does not exist yet; return the names created.

    `prefix` namespaces the topics (used by tests to isolate runs on one broker).
    """
    wanted = {prefix + d.name: d for d in load_declarations(path)}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="dsgov-provisioning")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=d.partitions,
                replication_factor=d.replication_factor,
                topic_configs=d.configs(),
            )
            for name, d in wanted.items()
            if name not in existing
        ]
        if missing:
            response = await admin.create_topics(missing)
            _raise_on_errors(response)
        created = [n.name for n in missing]
        log.info("topics.provisioned", created=created, already_present=len(wanted) - len(created))
        return created
    finally:
        await admin.close()
