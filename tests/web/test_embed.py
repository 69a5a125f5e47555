"""The tracking widget on a shop's page, in Chromium, from ANOTHER origin (a second HTTP server
on another 127.0.0.1 port): shown where TRACKER_EMBED_ORIGINS lists the shop, blocked where
it does not, and the tracking page itself never framable (issue 17)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import asyncpg
from playwright.async_api import Browser, Frame, Page, Response, expect

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import browsing, web_settings

DEG_PER_KM = 0.01407
START = (11.90, 50.30)
ROUTE = {"type": "LineString", "coordinates": [list(START), [11.90 + 2 * DEG_PER_KM, 50.30]]}
DESTINATION = (11.90 + 2 * DEG_PER_KM, 50.30)


class Shop:
    """A shop's web server: its own origin, serving the pages it is given."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path, "not found").encode()
                self.send_response(200 if self.path in pages else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Shop]:
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(timeout=10)


def order_page(tracker: str, code: str) -> str:
    """How docs/pages.md tells a shop to embed the widget: a div and the loader script."""
    return f"""<!doctype html><html lang="en"><head><title>Order 1001</title></head>
<body><h1>Your order 1001</h1>
<div id="tracking" data-tracking-code="{code}"></div>
<script src="{tracker}/static/js/embed-loader.js" async></script>
</body></html>"""


def iframe_page(src: str) -> str:
    """A plain iframe; the shop's page notes when the frame has loaded (or failed to)."""
    return f"""<!doctype html><html lang="en"><head><title>Order</title></head>
<body><iframe id="widget" title="Tracking" src="{src}"
  onload="document.body.dataset.loaded = 'yes'"></iframe></body></html>"""


async def child_frame(page: Page) -> Frame:
    await expect(page.locator("body")).to_have_attribute("data-loaded", "yes")
    frames = [frame for frame in page.frames if frame.parent_frame is page.main_frame]
    assert len(frames) == 1
    return frames[0]


async def test_an_allowed_shop_shows_the_live_widget(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    with Shop().running() as shop:
        allowed = web_settings(settings, embed_origins=shop.origin)
        async with run_server(allowed) as server, Dispatch(server) as dispatch:
            driver_id, token = await server.create_driver()
            order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1], reference="1001")
            await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
            code = order["tracking_code"]
            shop.pages["/order"] = order_page(server.base_url, code)
            async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
                await courier.send(fix(1, now() - timedelta(seconds=20), *START, speed=10.0))
                await courier.wait_acked({1})
                page = b.page
                await page.goto(f"{shop.origin}/order")
                widget = page.frame_locator("iframe[data-tracker-embed]")
                await expect(widget.locator("#status-text")).to_have_text("Out for delivery")
                await expect(widget.locator("#eta-in")).to_contain_text("2.0 km to go")
                await expect(widget.locator("#connection")).to_have_text("Live")
                # The map library came only now, for the map; the courier is on it.
                marker = widget.locator(".courier-marker")
                await expect(marker).to_have_attribute("data-lon", f"{START[0]:.7f}")
                await expect(widget.locator("#full-link")).to_have_attribute("href", f"/t/{code}")
                # The loader sized the iframe to the widget (it asked, with its height).
                iframe = page.locator("iframe[data-tracker-embed]")
                await expect(iframe).not_to_have_attribute("style", "height: 320px")
                height = await iframe.evaluate("(f) => f.getBoundingClientRect().height")
                inner = await widget.locator("html").evaluate("(h) => h.scrollHeight")
                assert abs(height - inner) <= 2, (height, inner)
                # What the widget reveals is the public view's: no address, no other order.
                text = await widget.locator("body").inner_text()
                assert "Cleo" not in text and "cleo@example.com" not in text
                await b.shot("embed-on-shop-page")

                # Live: the next fix moves the courier in the shop's page too.
                moved = START[0] + 0.5 * DEG_PER_KM
                await courier.send(fix(2, now() - timedelta(seconds=5), moved, START[1]))
                await expect(marker).to_have_attribute("data-lon", f"{moved:.7f}")
                await expect(widget.locator("#eta-in")).to_contain_text("1.5 km to go")

                # The full tracking page is not framable, even by an allowed shop.
                shop.pages["/framed-track"] = iframe_page(f"{server.base_url}/t/{code}")
                await page.goto(f"{shop.origin}/framed-track")
                framed = await child_frame(page)
                assert await framed.locator("#status-text").count() == 0
                assert not framed.url.startswith(server.base_url), framed.url


async def test_a_shop_not_listed_cannot_frame_the_widget(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    with Shop().running() as listed, Shop().running() as other:
        only_listed = web_settings(settings, embed_origins=listed.origin)
        async with run_server(only_listed) as server, Dispatch(server) as dispatch:
            order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1])
            src = f"{server.base_url}/embed/{order['tracking_code']}"
            for shop in (listed, other):
                shop.pages["/order"] = iframe_page(src)
            async with browsing(browser) as b:
                page = b.page
                served: list[int] = []

                def record(response: Response) -> None:
                    if response.url == src:
                        served.append(response.status)

                page.on("response", record)
                # The same page on the listed shop: the widget is there (a control).
                await page.goto(f"{listed.origin}/order")
                shown = await child_frame(page)
                await expect(shown.locator("#status-text")).to_have_text("Order confirmed")
                # On a shop not listed the server answered, and the browser refused to show it.
                await page.goto(f"{other.origin}/order")
                blocked = await child_frame(page)
                assert served == [200, 200]
                assert await blocked.locator("#status-text").count() == 0
                assert not blocked.url.startswith(server.base_url), blocked.url
