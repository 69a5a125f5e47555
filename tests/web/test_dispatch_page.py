"""The dispatcher's fleet page, in a real browser against a real server."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings

ROUTE = {"type": "LineString", "coordinates": [[11.90, 50.30], [11.93, 50.30]]}


async def test_dispatcher_signs_in_sees_the_fleet_and_its_changes(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        ana, ana_token = await server.create_driver("Ana", vehicle="van 7")
        bruno, bruno_token = await server.create_driver("Bruno")
        order = await dispatch.order(lon=11.93, lat=50.30, reference="R-1")
        await dispatch.out_for_delivery(order["id"], ana, route=ROUTE)
        # (A driver joins the live fleet with a run or a connection, not at creation.)
        await dispatch.assign((await dispatch.order(reference="R-2"))["id"], bruno)
        async with (
            Courier(server.ws_url, ana_token) as ana_courier,
            browsing(browser) as b,
        ):
            await ana_courier.send(fix(1, now() - timedelta(seconds=5), 11.90, 50.30))
            await ana_courier.wait_acked({1})
            page = b.page
            await page.goto(f"{server.base_url}/dispatch")
            await page.get_by_label("Dispatcher API key").fill("not-a-key")
            await page.get_by_role("button", name="Sign in").click()
            await expect(page.locator("#signin-error")).to_contain_text("not accepted")
            await page.get_by_label("Dispatcher API key").fill(ADMIN_TOKEN)
            await page.get_by_role("button", name="Sign in").click()

            rows = page.locator("#driver-list li")
            ana_row = page.locator(f'#driver-list li[data-driver-id="{ana}"]')
            bruno_row = page.locator(f'#driver-list li[data-driver-id="{bruno}"]')
            await expect(rows).to_have_count(2)
            await expect(ana_row).to_contain_text("delivering")
            await expect(ana_row).to_contain_text("R-1")
            await expect(ana_row).to_contain_text("van 7")
            await expect(bruno_row).to_contain_text("offline")
            await expect(page.locator(".driver-marker")).to_have_count(1)  # Bruno: no position
            await expect(page.locator("#connection")).to_have_text("Live")

            # Filters: offline shows Bruno only; a search finds Ana by her order.
            await page.get_by_label("offline only").check()
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("Bruno")
            await expect(page.locator("#list-summary")).to_have_text("1 of 2 drivers")
            await page.get_by_label("offline only").uncheck()
            await page.get_by_label("Stop status").select_option("out_for_delivery")
            await expect(rows).to_have_count(1)
            await expect(rows.first).to_contain_text("Ana")
            await page.get_by_label("Stop status").select_option("")
            await page.get_by_label("offline only").check()

            # Bruno starts driving: the list and the map follow, and the feed says so.
            async with Courier(server.ws_url, bruno_token) as bruno_courier:
                await bruno_courier.send(fix(1, now(), 11.901, 50.301))
                await bruno_courier.wait_acked({1})
                await expect(rows).to_have_count(0)  # nobody is offline now
                await page.get_by_label("offline only").uncheck()
                await expect(bruno_row).to_contain_text("idle")
                # Two drivers 140 m apart: one cluster of two on the map.
                await expect(page.locator(".marker-cluster")).to_have_text("2")
                await expect(page.locator(".driver-marker")).to_have_count(0)
                await expect(page.locator("#alerts")).to_contain_text("Bruno is back online")

                await page.get_by_label("Search name, vehicle, order").fill("r-1")
                await expect(rows).to_have_count(1)
                await expect(rows.first).to_contain_text("Ana")

                # Ana's detail: her stop with its ETA, its route on the map, her trail.
                await rows.first.get_by_role("button").click()
                detail = page.locator("#detail")
                await expect(detail.get_by_role("heading", name="Ana")).to_be_visible()
                await expect(page.locator("#detail-stops")).to_contain_text("R-1")
                await expect(page.locator("#detail-stops")).to_contain_text("ETA")
                await expect(page.locator("path.route-line")).to_have_count(1)
                await expect(page.locator(".stop-marker")).to_have_count(1)
                await ana_courier.send(fix(2, now(), 11.9015, 50.30))  # 107 m on
                await ana_courier.wait_acked({2})
                await expect(page.locator("#detail-trail")).to_contain_text("2 positions")
                await expect(page.locator("path.trail-line")).to_have_count(1)
                await b.shot("dispatch")
