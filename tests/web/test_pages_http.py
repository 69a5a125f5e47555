"""The pages and their assets over plain HTTP: served, configured, locked down."""

from __future__ import annotations

import re

import asyncpg

from server.base.settings import Settings
from tests.server.harness import run_server
from tests.web.conftest import TILE_URL, web_settings


async def test_pages_assets_and_config_are_served(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(web_settings(settings)) as server, server.http() as client:
        for path in (
            "/track",
            "/t/7KQ2-M9XD-3HVA-PR4T",
            "/dispatch",
            "/driver",
            "/docs",
            "/insights",
        ):
            page = await client.get(path)
            assert page.status_code == 200, path
            assert page.headers["content-type"].startswith("text/html")
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "http://tiles.invalid" in csp
            assert page.headers["referrer-policy"] == "strict-origin-when-cross-origin"
            # Every page names its icon (browsers ask for /favicon.ico otherwise: a 404).
            icon = re.search(r'<link rel="icon" href="([^"]+)"', page.text)
            assert icon is not None, path
            served = await client.get(icon.group(1))
            assert served.status_code == 200, (path, icon.group(1))
            assert served.headers["content-type"].startswith("image/"), path
        tracking = await client.get("/t/7KQ2-M9XD-3HVA-PR4T")
        assert tracking.headers["x-robots-tag"] == "noindex"
        config = await client.get("/static/config.js")
        assert config.headers["content-type"].startswith("text/javascript")
        assert TILE_URL in config.text
        for asset in (
            "/static/js/track.js",
            "/static/js/track/main.js",
            "/static/track.css",
            "/static/js/dispatch/main.js",  # the modules in a folder are served too
            "/static/app.css",
            "/static/vendor/leaflet/leaflet.js",
            "/static/vendor/leaflet/leaflet.css",
            "/static/vendor/leaflet.markercluster/leaflet.markercluster.js",
            "/static/vendor/uplot/uPlot.esm.js",  # /insights' charts
            "/static/vendor/uplot/uPlot.min.css",
        ):
            assert (await client.get(asset)).status_code == 200, asset
        # Only the pages' own folder and the packages' dist folders are public.
        for private in ("/static/package.json", "/static/node_modules/leaflet/package.json"):
            assert (await client.get(private)).status_code == 404, private
