"""The customer's page trims the route the courier has driven past, between snapshots."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings

DEG_PER_KM = 0.01407  # of longitude at lat 50.30
START = (11.90, 50.30)
END = (11.90 + 2 * DEG_PER_KM, 50.30)
# A street east, a vertex every 100 m.
ROUTE = {
    "type": "LineString",
    "coordinates": [[11.90 + m / 1000 * DEG_PER_KM, 50.30] for m in range(0, 2001, 100)],
}
ROUTE_WIDTH_PX = "() => document.querySelector('path.route-line').getBBox().width"


async def test_the_route_behind_the_courier_is_trimmed(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=END[0], lat=END[1])
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        t0 = now() - timedelta(seconds=120)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, t0, 11.90 + 0.5 * DEG_PER_KM, 50.30, speed=10.0))
            await courier.wait_acked({1})
            page = b.page
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            marker = page.locator(".courier-marker")
            await expect(marker).to_have_count(1)
            await expect(page.locator("path.route-line")).to_have_count(1)
            before = await page.evaluate(ROUTE_WIDTH_PX)
            moved_lon = 11.90 + 1.5 * DEG_PER_KM  # 1 km further on: half the rest is left
            await courier.send(fix(2, t0 + timedelta(seconds=100), moved_lon, 50.30, speed=10.0))
            await expect(marker).to_have_attribute("data-lon", f"{moved_lon:.7f}")
            await page.wait_for_function(f"({ROUTE_WIDTH_PX})() < {before} * 0.4")
            after = await page.evaluate(ROUTE_WIDTH_PX)
    assert before > 0 and after < before * 0.4
