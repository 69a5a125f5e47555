"""The customer's page redraws the line when a `route` message brings a new leg (issue 19:
routed on the road network, or re-routed after the courier left it; the server's side is
tests/server/test_routed_run.py)."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from server.transport.hub import order_topic
from server.wire import live as wire
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings

DEG_PER_KM = 0.01407  # of longitude at lat 50.30
DEG_LAT_PER_KM = 0.008993
END = (11.90 + 2 * DEG_PER_KM, 50.30)
EAST = {"type": "LineString", "coordinates": [[11.90, 50.30], list(END)]}
# The new leg: from where the courier went, 1 km north, back down to the same door.
DETOUR = {
    "type": "Feature",
    "geometry": {
        "type": "LineString",
        "coordinates": [
            [11.90 + 0.5 * DEG_PER_KM, 50.30 + DEG_LAT_PER_KM],
            [END[0], 50.30 + DEG_LAT_PER_KM],
            list(END),
        ],
    },
    "properties": {"provisional": False},
}
ROUTE_HEIGHT_PX = "() => document.querySelector('path.route-line').getBBox().height"


async def test_a_route_message_redraws_the_line(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=END[0], lat=END[1])
        await dispatch.out_for_delivery(order["id"], driver_id, route=EAST)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, now() - timedelta(seconds=5), 11.90, 50.30 + 0.001))
            await courier.wait_acked({1})
            page = b.page
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator(".courier-marker")).to_have_count(1)
            await expect(page.locator("path.route-line")).to_have_count(1)
            flat = await page.evaluate(ROUTE_HEIGHT_PX)
            message = wire.RouteMessage(DETOUR)
            server.services.live.hub.publish(order_topic(order["id"]), wire.encode(message))
            await page.wait_for_function(f"({ROUTE_HEIGHT_PX})() > {flat} + 40")
            tall = await page.evaluate(ROUTE_HEIGHT_PX)
    assert flat < 5 < 40 < tall  # a line due east, then one that comes down from the north
