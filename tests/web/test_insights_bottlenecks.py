"""The bottleneck layers and the hour-of-week heat map on /insights (issue 18), in real
Chromium against a real server: a usual day and a slow day of a courier stored by the COPY
writer and rolled up by the real job, and deliveries made late through the order API (as
for the fleet map's layers, tests/web/test_dispatch_bottlenecks.py). Each layer, alone,
paints its colour on the map (a screenshot against the map without layers); the heat map's
numbers are the API's, read here independently for the instants the summary counted; the
panel says when a period has no layer chosen, no cells, or is refused; 768 px: no sideways
scroll."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from playwright.async_api import Browser, Page, Route, expect

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server import bottleneck_trips as trips
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.test_bottlenecks_api import _rolled_up
from tests.server.test_insight_rollup import store
from tests.web.conftest import browsing, web_settings
from tests.web.test_dispatch_bottlenecks import COLOURS, _tinted
from tests.web.test_insights_page import read_api, sign_in

LAYER_LABELS = {"slow": "Slow roads", "dwell": "Long stops", "late": "Late or failed deliveries"}


def figure(metric: str, value: float) -> str:
    """A heat map cell as the page writes it (bottleneck-layers.js heatFigure)."""
    if value <= 0:
        return ""
    return str(round(value) if metric == "late" else round(value / 60))


async def check_heatmap(page: Page, metric: str, answer: dict[str, Any]) -> None:
    cells = page.locator("#heatmap tbody td")
    await expect(cells).to_have_count(7 * 24)
    want = [figure(metric, v) for row in answer["values"] for v in row]
    await expect(cells).to_have_text(want)
    assert any(want), f"no {metric} in the seeded period"


async def only(page: Page, layer: str | None) -> None:
    for name, label in LAYER_LABELS.items():
        box = page.get_by_label(label)
        if name == layer:
            await box.check()
        else:
            await box.uncheck()


async def test_layers_legend_heat_map_and_states(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    usual = trips.day(now - timedelta(days=4), slow_mps=10.0, stop_s=60)
    slow = trips.day(now - timedelta(hours=6), slow_mps=1.5, stop_s=900)
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
        await _rolled_up(server, datetime.now(UTC))
        # Yesterday and today (operator days, UTC here): the slow day, not the usual one.
        today = datetime.now(UTC).date()
        days = {"from": str(today - timedelta(days=1)), "to": str(today)}
        summary = await read_api(server, "/api/insights/summary", **days)
        instants = {"from": summary["current"]["from_at"], "to": summary["current"]["to_at"]}
        heat = {
            m: await read_api(server, "/api/insights/heatmap", metric=m, **instants)
            for m in ("late", "dwell")
        }
        async with browsing(browser, timezone_id="UTC") as b:
            page = b.page
            query = f"?from={days['from']}&to={days['to']}"
            await sign_in(page, server.base_url, ADMIN_TOKEN, query)
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            state = page.locator("#bottlenecks-state")
            await expect(state).to_have_attribute("data-state", "ready")
            for layer in LAYER_LABELS:  # all three drawn by default, each in the legend
                await expect(page.locator(f"path.bottleneck.{layer}").first).to_be_attached()
                await expect(page.locator(f"#legend-{layer}")).to_contain_text(
                    f"{LAYER_LABELS[layer]}: "
                )
            await expect(page.locator("#legend-late")).to_contain_text("1 cell.")
            await page.locator("#bottlenecks").scroll_into_view_if_needed()
            await b.shot("insights-bottlenecks")

            the_map = page.locator("#bottlenecks-map")
            await only(page, None)
            await expect(state).to_have_text("Choose a layer to draw.")
            await expect(page.locator("path.bottleneck")).to_have_count(0)
            bare = await the_map.screenshot()
            for layer in LAYER_LABELS:
                await only(page, layer)
                await expect(state).to_have_attribute("data-state", "ready")
                await expect(page.locator(f"path.bottleneck.{layer}").first).to_be_visible()
                await expect(page.locator("path.bottleneck")).to_have_count(
                    await page.locator(f"path.bottleneck.{layer}").count()
                )
                shot = await the_map.screenshot()
                painted = _tinted(shot, COLOURS[layer]) - _tinted(bare, COLOURS[layer])
                assert painted > 300, (layer, painted)
            await page.locator("path.bottleneck.late").first.hover()
            await expect(page.locator(".leaflet-tooltip")).to_contain_text("3 late")

            # The heat map: the API's values, as counts (late) and minutes (dwell).
            await check_heatmap(page, "late", heat["late"])
            hot = page.locator("#heatmap tbody tr").nth(now.weekday()).locator("td")
            await expect(hot.nth(datetime.now(UTC).hour)).to_have_attribute("data-value", "3")
            await page.get_by_label("Show").select_option("dwell")
            await check_heatmap(page, "dwell", heat["dwell"])
            await expect(page.locator("#heatmap caption")).to_have_text("minutes; hours in UTC")

            # The tablet, upright: the map and the heat map fit (the table scrolls in its box).
            await page.set_viewport_size({"width": 768, "height": 1024})
            await expect(page.locator("#heatmap tbody tr")).to_have_count(7)
            widths = await page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1], f"horizontal scroll at 768 px: {widths}"
            await page.locator("#heatmap").scroll_into_view_if_needed()
            await b.shot("insights-bottlenecks-tablet")

            # No cells: the layers' real answers without their features.
            async def emptied(route: Route) -> None:
                answer = await route.fetch()
                body = await answer.json()
                body["features"] = []
                await route.fulfill(response=answer, body=json.dumps(body))

            await page.route("**/api/insights/bottlenecks*", emptied)
            await only(page, "slow")
            await expect(state).to_have_text(
                "No bottlenecks in this period on the layers chosen: no cells to draw."
            )
            await expect(page.locator("path.bottleneck")).to_have_count(0)
            await page.unroute("**/api/insights/bottlenecks*", emptied)

            # A period the insights accept (366 days) but the layers refuse (92): said so.
            start = today - timedelta(days=120)
            await page.goto(f"{server.base_url}/insights?from={start}&to={today}")
            await expect(page.locator("#state")).to_have_attribute("data-state", "ready")
            await expect(state).to_have_attribute("data-state", "error")
            await expect(state).to_contain_text("could not be loaded")
            await expect(state).to_contain_text("TRACKER_BOTTLENECK_MAX_RANGE_DAYS")
            await expect(page.locator("#heatmap-state")).to_have_attribute("data-state", "error")
