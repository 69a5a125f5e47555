"""Bottleneck layers and the heat map on the dispatcher page, in real Chromium against a real
server: two days of a courier stored by the COPY writer (a usual day, and one with a slow
stretch and a long stop), rolled up by the real job, and deliveries made late through the
order API. Each layer's toggle draws its cells on the map (checked in a screenshot: the
layer's colour appears where the background was) and says how many it drew."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import asyncpg
import numpy as np
from PIL import Image
from playwright.async_api import Browser, Page, expect

from server.base.settings import Settings
from tests.server import bottleneck_trips as trips
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.test_bottlenecks_api import _rolled_up
from tests.server.test_insight_rollup import store
from tests.web.conftest import browsing, web_settings
from tests.web.dispatching import sign_in

# The layers' colours (web/static/js/dispatch/bottlenecks.js), as RGB.
COLOURS = {"slow": (0xD6, 0x27, 0x28), "dwell": (0x7B, 0x32, 0x94), "late": (0xFF, 0x7F, 0x0E)}


def _tinted(png: bytes, colour: tuple[int, int, int]) -> int:
    """Pixels of the map in the layer's colour at its fill opacity (55 %) over the map's
    background without tiles (Leaflet's #ddd)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    mixed = 0.55 * np.array(colour, dtype=float) + 0.45 * 221.0
    return int((np.abs(pixels - mixed).max(axis=2) < 25).sum())


async def _map_png(page: Page) -> bytes:
    return await page.locator("#map").screenshot()


async def test_layers_draw_their_cells_and_the_heat_map_its_hours(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    usual = trips.day(now - timedelta(days=3), slow_mps=10.0, stop_s=60)
    slow = trips.day(now - timedelta(hours=6), slow_mps=1.5, stop_s=900)  # in the last 24 h
    driver_id = await store(db, usual)
    await store(db, slow)
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        await _rolled_up(server, slow[-1].t + timedelta(seconds=400))
        x, y = slow[len(slow) // 3].x, slow[len(slow) // 3].y
        lon, lat = trips.TO_LONLAT.transform(x, y + 400)
        past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
        for _ in range(3):
            order = await dispatch.order(lon, lat, promised_by=past)
            await dispatch.out_for_delivery(order["id"], driver_id)
            await dispatch.status(order["id"], "delivered")
        await _rolled_up(server, datetime.now(UTC))  # the deliveries' outcomes too
        async with browsing(browser, timezone_id="UTC") as b:
            page = b.page
            await sign_in(page, server.base_url)
            await page.get_by_text("Bottlenecks").click()
            # The last 24 hours against the usual speed (which counts the 3-day-old trip).
            await page.get_by_label("Period").select_option("1")
            status = page.locator("#bottlenecks-status")
            drawn: dict[str, int] = {}
            for layer, label, words in (
                ("slow", "Slow roads", "Slow roads: "),
                ("dwell", "Long stops", "Long stops: 1 cell."),
                ("late", "Late or failed deliveries", "Late or failed deliveries: 1 cell."),
            ):
                before = await _map_png(page)
                await page.get_by_label(label).check()
                await expect(status).to_contain_text(words)
                await expect(page.locator(f"path.bottleneck.{layer}").first).to_be_visible()
                after = await _map_png(page)
                drawn[layer] = _tinted(after, COLOURS[layer]) - _tinted(before, COLOURS[layer])
                await b.shot(f"dispatch-bottlenecks-{layer}")
                await page.get_by_label(label).uncheck()
                await expect(page.locator(f"path.bottleneck.{layer}")).to_have_count(0)
            assert all(n > 300 for n in drawn.values()), drawn  # each layer painted its cells

            await page.get_by_label("Slow roads").check()
            slow_cells = page.locator("path.bottleneck.slow")
            await expect(slow_cells.first).to_be_visible()
            assert await slow_cells.count() >= 3  # the slow stretch spans several cells
            await slow_cells.first.hover()
            await expect(page.locator(".leaflet-tooltip")).to_contain_text("(this place's history)")

            await page.get_by_label("When").select_option("late")
            await page.get_by_role("button", name="Show heat map").click()
            table = page.locator("#heatmap")
            await expect(table.locator("tbody tr")).to_have_count(7)
            now = datetime.now(UTC)
            row = table.locator("tbody tr").nth(now.weekday())
            hot = row.locator("td").nth(now.hour)
            await expect(hot).to_have_attribute("data-value", "3")
            await expect(table).to_contain_text("hours in UTC")
            await table.scroll_into_view_if_needed()
            await b.shot("dispatch-heatmap")
