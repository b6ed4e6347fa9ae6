"""Fixtures of the browser tests: Debian's Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Playwright, async_playwright

CHROMIUM = os.environ.get("DSGOV_CHROMIUM", "/usr/bin/chromium")
# As root in a sandbox with no network but the registries: no sandbox, no background traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """The browser binary; a missing one fails (it is installed by `make test`), never skips."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (Debian), or set DSGOV_CHROMIUM"
        )
    return CHROMIUM


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    """A headless Chromium for one test module."""
    playwright: Playwright = await async_playwright().start()
    try:
        chromium = await playwright.chromium.launch(
            executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        await chromium.close()
    finally:
        await playwright.stop()
