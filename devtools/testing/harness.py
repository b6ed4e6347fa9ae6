"""A service under test: one real process in its own topic namespace and database."""

from __future__ import annotations

import uuid
from pathlib import Path

from devtools.testing.embedded import EmbeddedStack, ServiceProcess, service_env
from devtools.testing.kafka import Recorder
from shared.messaging.provisioning import provision_topics


class ServiceHarness:
    """Runs `module` against the embedded stack, isolated by a topic prefix and a database.

    Subclasses add what their tests need (store reads, CLI calls); `restart_with` starts a new
    process on the same namespace and store, and `""` as a value removes a setting.
    """

    def __init__(
        self,
        stack: EmbeddedStack,
        tmp: Path,
        module: str,
        *,
        database: str,
        env: dict[str, str] | None = None,
        provider_id: str = "provider-test",
        prefix: str | None = None,
    ) -> None:
        """Prepare (not start) the process; the database name gets a unique suffix.

        Pass another harness's `prefix` to run several services in one topic namespace (a flow).
        """
        self.stack = stack
        self.tmp = tmp
        self.module = module
        self.prefix = prefix or f"it-{uuid.uuid4().hex[:8]}."
        self.database = f"{database}_{uuid.uuid4().hex[:8]}"
        self.env = service_env(stack, prefix=self.prefix, database=self.database, provider_id=provider_id)
        self.env |= env or {}
        self.service = self._process()

    def _process(self) -> ServiceProcess:
        return ServiceProcess(self.module, self.env, self.tmp / f"{self.prefix}{uuid.uuid4().hex[:4]}.log")

    def restart_with(self, **env: str) -> ServiceProcess:
        """A new (not yet started) process with changed settings, on the same namespace and store."""
        self.env = {k: v for k, v in {**self.env, **env}.items() if v != ""}
        self.service = self._process()
        return self.service

    def topic(self, name: str) -> str:
        """The physical name of a contract topic in this namespace."""
        return self.prefix + name

    async def provision(self) -> None:
        """Create this namespace's topics."""
        await provision_topics(self.stack.bootstrap, prefix=self.prefix)

    def recorder(self, *topics: str) -> Recorder:
        """A (not yet started) recorder of these contract topics in this namespace."""
        return Recorder(self.stack.bootstrap, [self.topic(t) for t in topics], strip_prefix=self.prefix)
