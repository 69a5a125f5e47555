"""The pages draw the server's own basemap (vector tiles from /tiles, protomaps-leaflet)
in Chromium with no network beyond the server: every other host is blocked, and the map
area of a screenshot, couriers, routes and controls hidden, must show streets."""

from __future__ import annotations

import dataclasses
import io
from datetime import timedelta
from pathlib import Path

import asyncpg
from PIL import Image
from playwright.async_api import Browser, Page, expect

from server.base.settings import Settings
from tests.basemap_data import porto_tiles
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.web.conftest import ARTIFACTS, browsing, web_settings

ALIADOS = (-8.6110, 41.1480)  # the order's door
SANTA_CATARINA = (-8.6063, 41.1467)  # the courier
ROUTE = {"type": "LineString", "coordinates": [list(SANTA_CATARINA), list(ALIADOS)]}
# Only the tiles are left to see: what the pages draw over them is hidden for the count.
HIDE_OVERLAYS = """
.leaflet-marker-pane, .leaflet-overlay-pane, .leaflet-shadow-pane, .leaflet-tooltip-pane,
.leaflet-popup-pane, .leaflet-control-container, .tiles-note { visibility: hidden !important; }
"""
TILES_DRAWN = ".leaflet-tile-pane canvas.leaflet-tile-loaded"


def local_tiles(settings: Settings, tiles_file: Path, tile_url: str = "") -> Settings:
    """The page tests' settings, but with no TRACKER_TILE_URL: the server's own tiles."""
    return dataclasses.replace(
        web_settings(settings), tiles_file=str(tiles_file), tile_url=tile_url
    )


async def drawn_fraction(page: Page, name: str) -> float:
    """The share of the map's pixels that differ from its commonest colour (the land), with
    everything but the tiles hidden; the screenshot is kept for people to look at."""
    await page.add_style_tag(content=HIDE_OVERLAYS)
    png = await page.locator("#map").screenshot(path=ARTIFACTS / f"{name}.png")
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts: list[tuple[int, tuple[int, int, int]]] = list(
        image.getcolors(maxcolors=image.width * image.height) or []  # type: ignore[arg-type]
    )
    _, land = max(counts)
    differ = sum(
        n for n, rgb in counts if max(abs(a - b) for a, b in zip(rgb, land, strict=True)) > 8
    )
    return differ / (image.width * image.height)


async def test_the_customer_page_shows_streets_from_the_server_alone(
    settings: Settings, db: asyncpg.Connection, browser: Browser
) -> None:
    tiles = porto_tiles().path
    async with run_server(local_tiles(settings, tiles)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=ALIADOS[0], lat=ALIADOS[1], reference="P-1")
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
            await courier.send(fix(1, now() - timedelta(seconds=5), *SANTA_CATARINA))
            await courier.wait_acked({1})
            page = b.page
            served: list[str] = []
            page.on(
                "response",
                lambda r: served.append(r.url) if "/tiles/" in r.url and r.ok else None,
            )
            await page.goto(f"{server.base_url}/t/{order['tracking_code']}")
            await expect(page.locator(".courier-marker")).to_have_count(1)
            await expect(page.locator("path.route-line")).to_have_count(1)
            await expect(page.locator(TILES_DRAWN).first).to_be_attached()
            await expect(page.locator(".leaflet-control-attribution")).to_contain_text(
                "OpenStreetMap contributors"
            )
            await expect(page.locator("#tiles-note")).to_be_hidden()
            await b.shot("customer-basemap")
            assert any("/tiles/14/" in u for u in served), served
            assert not b.outside, b.outside  # nothing but the server, tiles included
            fraction = await drawn_fraction(page, "customer-basemap-tiles-only")
            assert fraction > 0.15, f"the map shows little but land: {fraction:.1%} drawn"


async def test_the_dispatcher_page_shows_streets_and_a_blank_map_is_told_apart(
    settings: Settings, db: asyncpg.Connection, browser: Browser, tmp_path: Path
) -> None:
    tiles = porto_tiles().path
    for tiles_file, name in ((tiles, "dispatch-basemap"), (tmp_path / "none", "dispatch-none")):
        # Without a tiles file: a vector tile server that never answers, so the same
        # renderer runs and the count must find nothing (the count is no formality).
        changes = (
            {} if tiles_file == tiles else {"tile_url": "http://tiles.invalid/{z}/{x}/{y}.pbf"}
        )
        async with run_server(local_tiles(settings, tiles_file, **changes)) as server:
            _, token = await server.create_driver("Ana")
            async with Courier(server.ws_url, token) as courier, browsing(browser) as b:
                await courier.send(fix(1, now() - timedelta(seconds=5), *SANTA_CATARINA))
                await courier.wait_acked({1})
                page = b.page
                await page.goto(f"{server.base_url}/dispatch")
                await page.get_by_label("Dispatcher API key").fill(ADMIN_TOKEN)
                await page.get_by_role("button", name="Sign in").click()
                # (the second round's two couriers stand together: a cluster)
                await expect(page.locator(".driver-marker, .marker-cluster")).to_have_count(1)
                await expect(page.locator(TILES_DRAWN).first).to_be_attached()
                await b.shot(name)
                fraction = await drawn_fraction(page, f"{name}-tiles-only")
                if tiles_file == tiles:
                    assert not b.outside, b.outside
                    assert fraction > 0.05, f"{fraction:.1%} of the map drawn"
                else:
                    assert b.outside and all("tiles.invalid" in u for u in b.outside)
                    assert fraction < 0.01, f"{fraction:.1%} drawn with no tiles at all"
