"""Shared fixtures: the embedded broker and store start once per run, and only when a test needs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.testing.embedded import EmbeddedStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStack]:
    """The real embedded Kafka broker (Tansu) and MongoDB wire-protocol server (nx-27017)."""
    workdir: Path = tmp_path_factory.mktemp("embedded")
    embedded = EmbeddedStack(workdir).start()
    try:
        yield embedded
    finally:
        embedded.stop()
