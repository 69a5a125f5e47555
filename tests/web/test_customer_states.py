"""The customer's page, phone first (issue 17): what is above the fold on a 390x844 phone
and on a desktop, the states (waiting, N stops before you, arrived, delivered with its
photo, failed, cancelled), and which script each state loads (no map code without a map).

Each state's script bytes land in build/web-screenshots/track-script-bytes.json, with the
screenshots, for people to read: figures, not asserts."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import asyncpg
from playwright.async_api import Browser, Page, Route, ViewportSize, expect

from server.base.settings import Settings
from tests.server import images
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.web.conftest import ARTIFACTS, browsing, web_settings

DEG_PER_KM = 0.01407  # of longitude at lat 50.30
LAT = 50.30
PHONE: ViewportSize = {"width": 390, "height": 844}

SCRIPTS = """() => performance.getEntriesByType("resource")
  .filter((entry) => new URL(entry.name).pathname.endsWith(".js"))
  .map((entry) => [new URL(entry.name).pathname, entry.decodedBodySize])"""


def east(km: float) -> float:
    return 11.90 + km * DEG_PER_KM


async def above_the_fold(page: Page, *selectors: str) -> None:
    """Each element is shown whole inside the viewport, without scrolling."""
    viewport = page.viewport_size
    assert viewport is not None
    for selector in selectors:
        await expect(page.locator(selector)).to_be_visible()
        box = await page.locator(selector).bounding_box()
        assert box is not None, selector
        assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], (selector, box)
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], (selector, box)


async def scripts(page: Page) -> dict[str, int]:
    return {path: size for path, size in await page.evaluate(SCRIPTS)}


def record(state: str, loaded: dict[str, int]) -> None:
    path = ARTIFACTS / "track-script-bytes.json"
    figures: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    figures[state] = {"total": sum(loaded.values()), "files": loaded}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2, sort_keys=True))


async def courier_post(server: RunningServer, token: str, path: str, **kwargs: Any) -> Any:
    async with server.http() as client:
        response = await client.post(
            path,
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"key-{path}"},
            **kwargs,
        )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_phone_and_desktop_show_status_eta_and_map_without_scrolling(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        orders = [await dispatch.order(lon=east(km), lat=LAT) for km in (1.0, 2.0, 3.0)]
        for order in orders:
            await dispatch.out_for_delivery(order["id"], driver_id)
        code = orders[2]["tracking_code"]
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, now() - timedelta(seconds=5), east(0.2), LAT, speed=9.0,
                                   heading=90.0))  # fmt: skip
            await courier.wait_acked({1})
            page = b.page
            await page.set_viewport_size(PHONE)
            await page.goto(f"{server.base_url}/t/{code}")
            await expect(page.locator("#stops-before")).to_have_text("2 stops before yours")
            await expect(page.locator("#eta-in")).to_contain_text("to go")
            marker = page.locator(".courier-marker")
            await expect(marker).to_have_attribute("data-heading", "90")
            await above_the_fold(page, "#status-text", "#stops-before", "#eta-time", "#eta-in")
            await above_the_fold(page, "#map", ".courier-marker")
            await b.shot("customer-phone-stops-before", page)
            loaded = await scripts(page)
            # The versioned, immutable URL that /static/config.js names.
            assert any(
                re.fullmatch(r"/static/vendor/leaflet@[\w.]+/leaflet\.js", u) for u in loaded
            )
            record("out_for_delivery", loaded)

            # The first stop done: one stop before yours, said on the next position.
            await dispatch.status(orders[0]["id"], "delivered")
            await courier.send(fix(2, now(), east(0.25), LAT, speed=9.0))
            await courier.wait_acked({2})
            await expect(page.locator("#stops-before")).to_have_text("1 stop before yours")

            await page.set_viewport_size({"width": 1280, "height": 800})
            await above_the_fold(page, "#status-text", "#eta-time", "#map")
            text = await page.locator("#summary").bounding_box()
            shown = await page.locator("#map").bounding_box()
            assert text is not None and shown is not None
            assert text["x"] + text["width"] <= shown["x"], "desktop: the text beside the map"
            await b.shot("customer-desktop-stops-before", page)


async def test_waiting_and_cancelled_load_no_map_code(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        order = await dispatch.order(lon=east(1.0), lat=LAT, reference="W-1")
        await dispatch.status(order["id"], "processing")
        async with browsing(browser) as b:
            page = b.page
            await page.set_viewport_size(PHONE)
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator("#status-text")).to_have_text("Being prepared")
            await expect(page.locator("#connection")).to_have_text("Live")
            await expect(page.locator("#map-section")).to_be_hidden()
            await expect(page.locator("#eta-section")).to_be_hidden()  # off a run: no time
            await above_the_fold(page, "#status-text")
            loaded = await scripts(page)
            assert not [p for p in loaded if "leaflet" in p or "mapview" in p or "map.js" in p]
            record("waiting", loaded)
            await b.shot("customer-waiting", page)

            await dispatch.status(order["id"], "cancelled")
            await expect(page.locator("#status-text")).to_have_text("Cancelled")
            await expect(page.locator("#state-detail")).to_have_text(
                "This order was cancelled: nothing will be delivered."
            )
            await expect(page.locator("#summary")).to_have_attribute("data-outcome", "ended")
            await expect(page.locator("#timeline li.current")).to_have_class(
                "step current outcome-ended"
            )
            await expect(page.locator("#timeline li.upcoming")).to_have_count(0)
            assert not [p for p in await scripts(page) if "leaflet" in p]
            await b.shot("customer-cancelled", page)


async def test_arrived_at_the_door_then_delivered_with_the_photo(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=east(1.0), lat=LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        t0 = now() - timedelta(seconds=60)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(0, t0, east(0.99), LAT, speed=0.0))
            await courier.wait_acked({0})
            page = b.page
            await page.set_viewport_size(PHONE)
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator("#eta-in")).to_contain_text("any minute now")
            await expect(page.locator("#eta-window")).to_have_text("")  # not "between X and X"
            await expect(page.locator("#state-detail")).to_be_hidden()
            # Standing at the door past the dwell time: the tracker says it, not the clock.
            for seq, seconds in ((1, 15), (2, 30)):
                await courier.send(fix(seq, t0 + timedelta(seconds=seconds), east(1.0), LAT,
                                       speed=0.0))  # fmt: skip
            await courier.wait_acked({1, 2})
            await expect(page.locator("#state-detail")).to_have_text("Your courier has arrived")
            await expect(page.locator("#eta-section")).to_be_hidden()
            await expect(page.locator("#summary")).to_have_attribute("data-outcome", "arrived")
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            await expect(page.locator(".courier-marker")).to_have_count(1)
            await above_the_fold(page, "#state-detail", "#map")
            await b.shot("customer-arrived", page)

            files = {"photo": ("door.jpg", images.phone_photo(), "image/jpeg")}
            await courier_post(server, token, f"/api/orders/{order['id']}/proof", files=files)
            await courier_post(
                server, token, f"/api/orders/{order['id']}/status", json={"status": "delivered"}
            )
            await expect(page.locator("#status-text")).to_have_text("Delivered")
            await expect(page.locator("#state-detail")).to_contain_text("Delivered ")
            await expect(page.locator("#summary")).to_have_attribute("data-outcome", "good")
            photo = page.locator("#proof-photo")
            await expect(photo).to_be_visible()
            width = await photo.evaluate("img => img.decode().then(() => img.naturalWidth)")
            assert width > 0
            await expect(page.locator("#map-section")).to_be_hidden()
            await expect(page.locator("#rating-form")).to_be_visible()
            await b.shot("customer-delivered-photo", page)
            await page.reload()
            await expect(page.locator("#proof-photo")).to_be_visible()
            loaded = await scripts(page)
            assert not [p for p in loaded if "leaflet" in p or "mapview" in p]
            record("delivered", loaded)


async def test_a_failed_delivery_says_what_happens_next_without_the_old_promise(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        promised = (now() + timedelta(hours=2)).isoformat()
        order = await dispatch.order(lon=east(1.0), lat=LAT, promised_by=promised)
        await dispatch.out_for_delivery(order["id"], driver_id)
        async with browsing(browser) as b:
            page = b.page
            await page.set_viewport_size(PHONE)
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator("#promise")).to_contain_text("Promised by")
            await dispatch.status(order["id"], "failed")
            await expect(page.locator("#status-text")).to_have_text("Delivery attempt failed")
            await expect(page.locator("#state-detail")).to_contain_text("another attempt")
            await expect(page.locator("#summary")).to_have_attribute("data-outcome", "bad")
            await expect(page.locator("#timeline li.current")).to_have_class(
                "step current outcome-bad"
            )
            await expect(page.locator("#promise")).to_have_text("")
            await expect(page.locator("#eta-section")).to_be_hidden()
            await expect(page.locator("#map-section")).to_be_hidden()
            await above_the_fold(page, "#state-detail")
            await expect(page.locator("#reattempt-form")).to_be_visible()
            await b.shot("customer-failed", page)
            await page.reload()  # opened after the failure: no map code at all
            await expect(page.locator("#reattempt-form")).to_be_visible()
            loaded = await scripts(page)
            assert not [p for p in loaded if "leaflet" in p or "mapview" in p]
            record("failed", loaded)


async def test_the_status_and_eta_do_not_wait_for_the_map_library(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    async with run_server(web_settings(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=east(1.0), lat=LAT)
        await dispatch.out_for_delivery(order["id"], driver_id)
        held: list[Route] = []
        asked = asyncio.Event()

        async def hold(route: Route) -> None:  # a slow network, for Leaflet only
            held.append(route)
            asked.set()

        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, now() - timedelta(seconds=5), east(0.2), LAT, speed=9.0))
            await courier.wait_acked({1})
            page = b.page
            await page.route("**/static/vendor/leaflet*/leaflet.js", hold)
            await page.set_viewport_size(PHONE)
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await asyncio.wait_for(asked.wait(), 20)
            await expect(page.locator("#status-text")).to_have_text("Out for delivery")
            await expect(page.locator("#eta-in")).to_contain_text("to go")
            await expect(page.locator("#map-section")).to_be_visible()  # its room, kept
            assert await page.evaluate("typeof window.L") == "undefined"
            await expect(page.locator(".courier-marker")).to_have_count(0)
            for route in held:
                await route.continue_()
            await expect(page.locator(".courier-marker")).to_have_count(1)
