"""Shared fixtures: the embedded broker and store start once per run, and only when a test needs them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from devtools.testing.embedded import EmbeddedStack
from devtools.testing.kafka import start_producer


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """The real embedded Kafka broker (Tansu) and MongoDB wire-protocol server (nx-27017)."""
    workdir: Path = tmp_path_factory.mktemp("embedded")
    embedded = EmbeddedStack(workdir).start()
    try:
        yield embedded
    finally:
        embedded.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def producer(stack: EmbeddedStack) -> AsyncIterator[AIOKafkaProducer]:
    """A producer for the platform's and the regulator's side of the tests."""
    p = await start_producer(stack.bootstrap)
    yield p
    await p.stop()
