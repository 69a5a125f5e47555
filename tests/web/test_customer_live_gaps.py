"""Gaps in the live picture (issue 17): an order appended without a route to a courier
already driving, and a server restarted before the courier's next fix. The page shows the
courier it knows of, and never "waiting for the courier's position" while it does."""

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
LAT = 50.30


def east(km: float) -> float:
    return 11.90 + km * DEG_PER_KM


async def test_an_order_appended_without_a_route_shows_the_live_courier(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        first = await dispatch.order(lon=east(1.0), lat=LAT)
        await dispatch.out_for_delivery(first["id"], driver_id)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, now() - timedelta(seconds=20), east(0.1), LAT, speed=8.0))
            await courier.wait_acked({1})
            second = await dispatch.order(lon=east(2.0), lat=LAT)
            page = b.page
            await page.goto(f"{server.base_url}/t/{second['tracking_code']}")
            await expect(page.locator("#status-text")).to_have_text("Order confirmed")
            await dispatch.out_for_delivery(second["id"], driver_id)  # no route given
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            await expect(page.locator(".courier-marker")).to_have_count(1)
            await expect(page.locator("#eta-in")).to_contain_text("to go")
            await expect(page.locator("#stops-before")).to_have_text("1 stop before yours")
            await page.reload()
            await expect(page.locator("#eta-in")).to_contain_text("to go")
            await expect(page.locator(".courier-marker")).to_have_count(1)


async def test_after_a_restart_the_page_shows_the_last_known_position(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    settings = web_settings(settings)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=east(1.0), lat=LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, now() - timedelta(seconds=5), east(0.1), LAT, speed=8.0))
            await courier.wait_acked({1})
    async with run_server(settings) as server, browsing(browser) as b:  # no fix since
        page = b.page
        await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
        await expect(page.locator("#status-text")).to_have_text("Out for delivery")
        marker = page.locator(".courier-marker")
        await expect(marker).to_have_attribute("data-lon", f"{east(0.1):.7f}")
        await expect(page.locator("#eta-in")).not_to_be_empty()
        await expect(page.locator("#eta-in")).not_to_contain_text("Waiting for the courier")
        await b.shot("customer-after-restart")
