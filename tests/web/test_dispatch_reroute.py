"""The dispatcher page redraws a driver's run when the courier is re-routed (issue 19): the
live `rerouted` alert makes the open detail fetch the run's lines again. A real re-route:
the Porto network, a courier driving away from the routed leg."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from server.store import roads
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.test_routed_run import AWAY, FIRST, START, along, routed, routing_of
from tests.web.conftest import browsing, web_settings
from tests.web.dispatching import open_driver, sign_in

LINE = "() => document.querySelector('#map path.route-line')?.getAttribute('d') ?? ''"


async def test_a_reroute_redraws_the_open_run(
    settings: Settings,
    db: asyncpg.Connection,
    browser: Browser,
    porto_roads: roads.Network,
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        routing = routing_of(server)
        driver_id, token = await server.create_driver("Ana")
        detour, note = await routing.router.leg(START, AWAY)
        assert detour is not None, note
        points = along(detour["geometry"]["coordinates"], step_m=40.0)
        order = await dispatch.order(lon=FIRST[0], lat=FIRST[1], reference="R-1")
        t0 = now() - timedelta(minutes=10)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(0, t0, *START, speed=8.0))
            await courier.wait_acked({0})
            await dispatch.out_for_delivery(order["id"], driver_id)
            await routed(dispatch, routing, order["id"])
            page = b.page
            await sign_in(page, server.base_url)
            await open_driver(page, driver_id, "Ana")
            await expect(page.locator("#map path.route-line")).to_have_count(1)
            before = await page.evaluate(LINE)
            for seq, point in enumerate(points, 1):
                await courier.send(fix(seq, t0 + timedelta(seconds=5 * seq), *point, speed=8.0))
                await courier.wait_acked({seq})
            await routing.idle()
            assert routing.reroutes == 1
            await page.wait_for_function(f"({LINE})() !== {before!r}")
            await expect(page.locator("#alerts")).to_contain_text("has a new route to")
    assert before
