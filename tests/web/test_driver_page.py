"""The courier page, in a real browser with an emulated position, against a real server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import asyncpg
from playwright.async_api import Browser, Page, expect

from server.base.settings import Settings
from tests.server.harness import run_server
from tests.web.conftest import WAIT_MS, browsing, web_settings

# A street in Porto; each step ~25 m north, well inside every plausibility rule.
LON = -8.61
LATS = [41.1500 + i * 0.000225 for i in range(6)]


async def until(probe: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll the database (no event to wait on) against a deadline."""
    try:
        async with asyncio.timeout(WAIT_MS / 1000):
            # The database has no event to wait on; poll it against the deadline.
            while not await probe():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def stored_lats(db: asyncpg.Connection, driver_id: int) -> list[float]:
    rows = await db.fetch(
        "SELECT ST_Y(geom) AS lat FROM positions WHERE driver_id = $1 ORDER BY recorded_at",
        driver_id,
    )
    return [round(float(r["lat"]), 6) for r in rows]


async def move(page: Page, lat: float) -> None:
    await page.context.set_geolocation({"latitude": lat, "longitude": LON, "accuracy": 8})


async def test_courier_page_streams_fixes_and_loses_none_offline(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server:
        driver_id, token = await server.create_driver("Ana")

        async def has(*lats: float) -> bool:
            stored = await stored_lats(db, driver_id)
            return all(round(lat, 6) in stored for lat in lats)

        geolocation = {"latitude": LATS[0], "longitude": LON, "accuracy": 8}
        async with browsing(browser, geolocation=geolocation, permissions=["geolocation"]) as b:
            page = b.page
            await page.goto(f"{server.base_url}/driver")
            await page.get_by_label("Your driver token").fill(token)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("button", name="Start shift").click()
            await expect(page.locator("#shift-state")).to_have_text("on")
            await expect(page.locator("#connection")).to_have_text("Connected")
            await until(lambda: has(LATS[0]), "the first fix in the database")
            await move(page, LATS[1])
            await until(lambda: has(LATS[1]), "the second fix in the database")
            await expect(page.locator("#pending")).to_have_text("0")
            await b.shot("driver-on-shift")

            # A tunnel: fixes wait on the phone, counted, and nothing reaches the server...
            await b.context.set_offline(True)
            await expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
            await move(page, LATS[2])
            await expect(page.locator("#pending")).to_have_text("1")
            await move(page, LATS[3])
            await expect(page.locator("#pending")).to_have_text("2")
            await b.shot("driver-offline")
            assert not await has(LATS[2]) and not await has(LATS[3])
            # ...until the signal is back: then all of them are stored and acked.
            await b.context.set_offline(False)
            await until(lambda: has(LATS[2], LATS[3]), "the fixes queued while offline")
            await expect(page.locator("#pending")).to_have_text("0")

            # Offline again, then the page is closed: the queue survives in IndexedDB and
            # the next page (signed in, shift resumed) sends it.
            await b.context.set_offline(True)
            await expect(page.locator("#connection")).to_have_attribute("data-state", "offline")
            await move(page, LATS[4])
            await expect(page.locator("#pending")).to_have_text("1")
            await page.close()
            closed_at = datetime.now(UTC)
            await b.context.set_offline(False)
            assert not await has(LATS[4])
            again = await b.new_page()
            await again.goto(f"{server.base_url}/driver")
            await expect(again.locator("#shift-state")).to_have_text("on")
            await until(lambda: has(LATS[4]), "the fix queued before the page closed")
            rows = await db.fetch(
                "SELECT ST_Y(geom) AS lat, recorded_at FROM positions WHERE driver_id = $1",
                driver_id,
            )
            assert any(
                round(r["lat"], 6) == round(LATS[4], 6) and r["recorded_at"] < closed_at
                for r in rows
            ), "the fix taken before the page closed was not the one stored"
            await expect(again.locator("#pending")).to_have_text("0")
            await again.get_by_role("button", name="Stop shift").click()
            await expect(again.locator("#shift-state")).to_have_text("off")
            await b.shot("driver-after-reload", again)
