"""Page tests: the real app under uvicorn, driven in headless Debian Chromium by Playwright.

Browser downloads are impossible here, so Playwright drives the system's Chromium
(`apt-get install chromium`; ./scripts/test.sh installs it). Without it these tests skip,
saying why, except in CI (CI=true), where a missing browser is a failure. Nothing leaves
the machine: every request not to the test server is aborted and recorded, and map tiles
point at an unreachable host, so the pages are exercised exactly as with tiles down.
Screenshots of each page land in build/web-screenshots/ (TRACKER_WEB_ARTIFACTS).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright, expect

from server.base.settings import Settings

CHROMIUM = Path(os.environ.get("TRACKER_CHROMIUM", "/usr/bin/chromium"))
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
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TRACKER_WEB_ARTIFACTS", ROOT / "build" / "web-screenshots"))
TILE_URL = "http://tiles.invalid/{z}/{x}/{y}.png"  # never answers: tiles down
LOCAL = re.compile(r"^(https?|wss?)://127\.0\.0\.1[:/]")
WAIT_MS = 20_000

expect.set_options(timeout=WAIT_MS)


def web_settings(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, tile_url=TILE_URL, fleet_interval_ms=100.0, **changes)


def require_chromium() -> None:
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: apt-get install chromium (./scripts/test.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@dataclass
class Browsing:
    """A browser context and its first page, with what went wrong in them."""

    context: BrowserContext
    page: Page
    errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)

    async def new_page(self) -> Page:
        page = await self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    async def shot(self, name: str, page: Page | None = None) -> None:
        """A screenshot for people to look at (Playwright creates the folder)."""
        await (page or self.page).screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)

    def check(self) -> None:
        assert not self.errors, f"uncaught errors in the page: {self.errors}"
        others = [url for url in self.outside if not url.startswith("http://tiles.invalid/")]
        assert not others, f"the pages fetched from outside the server: {others[:5]}"


@contextlib.asynccontextmanager
async def browsing(browser: Browser, **context_options: Any) -> AsyncIterator[Browsing]:
    options = {"viewport": {"width": 1280, "height": 860}, "locale": "en-GB", **context_options}
    context = await browser.new_context(**options)
    outside: list[str] = []

    async def block(route: Route) -> None:
        outside.append(route.request.url)
        await route.abort()

    await context.route(lambda url: not LOCAL.match(url), block)
    page = await context.new_page()
    session = Browsing(context, page, outside=outside)
    page.on("pageerror", lambda error: session.errors.append(str(error)))
    try:
        yield session
        session.check()
    finally:
        await context.close()
