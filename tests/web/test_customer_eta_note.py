"""The note when the ETA moves (issue 17): it says which way against what the customer was
last told (the position message before it already carries the new ETA), and it goes away
after a minute instead of staying up."""

from __future__ import annotations

import re
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
DESTINATION = (11.90 + 3 * DEG_PER_KM, 50.30)
ROUTE = {"type": "LineString", "coordinates": [list(START), list(DESTINATION)]}
NOTE_S = 60


async def test_a_later_eta_says_later_and_the_note_goes_away(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(*DESTINATION)
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        t0 = now() - timedelta(seconds=400)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, t0, *START, speed=10.0))
            await courier.wait_acked({1})
            page = b.page
            await page.clock.install()
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator("#connection")).to_have_text("Live")
            eta_time = page.locator("#eta-time")
            await expect(eta_time).to_have_text(re.compile(r"^\d\d:\d\d$"))
            was = await eta_time.inner_text()
            # Stuck where it was for minutes: the ETA moves later, materially.
            await courier.send(fix(2, t0 + timedelta(seconds=390), START[0] + 0.00002, START[1],
                                   speed=0.0))  # fmt: skip
            await courier.wait_acked({2})
            note = page.locator("#eta-change")
            await expect(note).to_be_visible()
            await expect(note).to_have_text(
                re.compile(rf"^Later by \d+ min \(was {was}\)\.( The courier [^.]+\.)?$")
            )
            await expect(note).to_have_attribute("data-direction", "later")
            await expect(eta_time).not_to_have_text(was)
            await b.shot("customer-eta-later")
            await page.clock.run_for((NOTE_S - 5) * 1000)
            await expect(note).to_be_visible()
            await page.clock.run_for(10 * 1000)
            await expect(note).to_be_hidden()
