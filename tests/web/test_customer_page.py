"""The customer's tracking page and the portal, in a real browser against a real server."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
from playwright.async_api import Browser, expect

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings

# A straight street east along lat 50.30, 2 km long: 1 km per 0.01407 degrees of longitude.
DEG_PER_KM = 0.01407
START = (11.90, 50.30)
ROUTE = {"type": "LineString", "coordinates": [list(START), [11.90 + 2 * DEG_PER_KM, 50.30]]}
DESTINATION = (11.90 + 2 * DEG_PER_KM, 50.30)

# Records the courier marker's displayed longitude on every animation frame.
SAMPLE_FRAMES = """() => {
  window.__samples = [];
  const sample = () => {
    const marker = document.querySelector('.courier-marker');
    if (marker && marker.dataset.lon) window.__samples.push(Number(marker.dataset.lon));
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
}"""


async def test_a_fix_glides_the_courier_and_moves_the_eta(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1], reference="A-1001")
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        t0 = now() - timedelta(seconds=40)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, t0, *START, speed=10.0, acc=5.0))
            await courier.wait_acked({1})
            page = b.page
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            marker = page.locator(".courier-marker")
            await expect(marker).to_have_attribute("data-lon", f"{START[0]:.7f}")
            await expect(page.locator("#eta-in")).to_contain_text("2.0 km to go")
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            await expect(page.locator("#connection")).to_have_text("Live")
            await expect(page.locator("path.route-line")).to_have_count(1)
            await expect(page.locator("#tiles-note")).to_be_visible()  # tiles are down...
            await expect(page.locator(".dest-marker")).to_have_count(1)  # ...the map is not
            await b.shot("customer-out-for-delivery")

            await page.evaluate(SAMPLE_FRAMES)
            moved_lon = START[0] + 0.3 * DEG_PER_KM  # 300 m along in 10 s
            await courier.send(fix(2, t0 + timedelta(seconds=10), moved_lon, START[1], speed=30.0))
            await expect(marker).to_have_attribute("data-lon", f"{moved_lon:.7f}")
            await expect(page.locator("#eta-in")).to_contain_text("1.7 km to go")
            samples: list[float] = await page.evaluate("window.__samples")
            between = {s for s in samples if START[0] + 1e-7 < s < moved_lon - 1e-7}
            assert len(between) >= 3, f"the marker jumped instead of gliding: {samples[:20]}"
            assert samples == sorted(samples), "the marker went backwards while gliding"
            await b.shot("customer-after-fix")
            await page.set_viewport_size({"width": 390, "height": 844})  # a phone
            await b.shot("customer-phone")


async def test_the_page_reconnects_and_resyncs_after_network_loss(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1])
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        t0 = now() - timedelta(seconds=40)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, t0, *START))
            await courier.wait_acked({1})
            page = b.page
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            connection = page.locator("#connection")
            await expect(connection).to_have_text("Live")
            await b.context.set_offline(True)
            await expect(connection).to_have_attribute("data-state", "offline")
            # Missed while offline: a fix; the fresh snapshot after reconnecting brings it.
            moved_lon = START[0] + 0.5 * DEG_PER_KM
            await courier.send(fix(2, t0 + timedelta(seconds=30), moved_lon, START[1]))
            await courier.wait_acked({2})
            await b.context.set_offline(False)
            await expect(connection).to_have_text("Live")
            await expect(page.locator(".courier-marker")).to_have_attribute(
                "data-lon", f"{moved_lon:.7f}"
            )
            await expect(page.locator("#eta-in")).to_contain_text("1.5 km to go")


async def test_no_courier_before_dispatch_or_after_delivery(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1])
        await dispatch.assign(order["id"], driver_id, route=ROUTE)  # on the run, not yet out
        await dispatch.status(order["id"], "processing", "packed")
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, now() - timedelta(seconds=5), *START))
            await courier.wait_acked({1})  # the courier is out there, driving
            page = b.page
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator("#status-text")).to_have_text("Packed")
            timeline = page.locator("#timeline li")
            await expect(timeline).to_have_count(6)  # 3 done + shipped, out, delivered to come
            await expect(page.locator("#timeline li.current")).to_contain_text("Packed")
            await expect(page.locator("#timeline li.upcoming").first).to_contain_text("Shipped")
            await expect(page.locator(".courier-marker")).to_have_count(0)
            await expect(page.locator("#map-section")).to_be_hidden()
            # On a run, not yet out: the expected time, as an estimate; no map code loaded.
            await expect(page.locator("#eta-confidence")).to_contain_text("An estimate")
            await expect(page.locator("#eta-in")).to_have_text("")
            assert await page.evaluate("typeof window.L") == "undefined"
            await b.shot("customer-packed")

            # Out for delivery: now (and only now) the courier shows.
            await dispatch.status(order["id"], "shipped", "out_for_delivery")
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            await expect(page.locator(".courier-marker")).to_have_attribute(
                "data-lon", f"{START[0]:.7f}"
            )
            await expect(page.locator("#announcer")).to_contain_text("Out for delivery")

            await dispatch.status(order["id"], "delivered")
            await expect(page.locator("#status-text")).to_have_text("Delivered")
            await expect(page.locator(".courier-marker")).to_have_count(0)
            await expect(page.locator("#map-section")).to_be_hidden()
            await expect(page.locator("#timeline li.current")).to_contain_text("Delivered")
            await expect(page.locator("#expiry")).to_contain_text("This link works until")
            await b.shot("customer-delivered")


async def test_portal_forgives_format_and_explains_wrong_numbers(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        order = await dispatch.order(reference="P-7")
        code = str(order["tracking_code"])
        sloppy = " " + code.lower().replace("-", " - ") + " "
        async with browsing(browser) as b:
            page = b.page
            await page.goto(f"{server.base_url}/track")
            await page.get_by_label("Tracking number").fill("0000-0000-0000-0000")
            await page.get_by_role("button", name="Track").click()
            await expect(page.get_by_role("alert")).to_contain_text("could not find")
            await page.get_by_label("Tracking number").fill("abc")
            await page.get_by_role("button", name="Track").click()
            await expect(page.get_by_role("alert")).to_contain_text("16 letters and digits")
            await b.shot("portal-wrong-number")
            await page.get_by_label("Tracking number").fill(sloppy)
            await page.get_by_role("button", name="Track").click()
            await page.wait_for_url(f"**/t/{code}")
            await expect(page.locator("#status-text")).to_have_text("Order confirmed")
            await expect(page.locator("#reference")).to_have_text("(P-7)")

            await page.goto(f"{server.base_url}/t/0000-0000-0000-0000")
            await expect(page.locator("#problem")).to_contain_text("cannot find")


async def test_the_courier_at_the_door_stays_on_the_map(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1])
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        near_door = DESTINATION[0] - 0.01 * DEG_PER_KM  # 10 m short of it
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, now() - timedelta(seconds=5), near_door, DESTINATION[1]))
            await courier.wait_acked({1})
            page = b.page
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            # The courier says so from their own token (a courier action).
            response = await dispatch.client.post(
                f"/api/orders/{order['id']}/status",
                json={"status": "arrived"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "at-door"},
            )
            assert response.status_code == 200, response.text
            await expect(page.locator("#status-text")).to_have_text("Courier has arrived")
            await expect(page.locator("#timeline li.current")).to_contain_text(
                "Courier has arrived"
            )
            await expect(page.locator("#timeline li.upcoming")).to_contain_text("Delivered")
            await expect(page.locator(".courier-marker")).to_have_count(1)
            await expect(page.locator("#map-section")).to_be_visible()
