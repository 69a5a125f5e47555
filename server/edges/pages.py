"""The pages: customer tracking (`/t/{code}`), the portal (`/track`), the dispatcher's fleet
map (`/dispatch`) and delivery insights (`/insights`), the courier page (`/driver`), the API
reference (`/docs`), and their static assets.

The pages are plain HTML and JS modules from `web/` (in a wheel, `server/web`); Leaflet and
its marker-clustering plugin, Swagger UI for `/docs`, signature_pad for the courier's
proof of delivery and uPlot for the insights' charts come from `web/node_modules` (pinned
in `web/package.json`, installed by `npm ci`), served under `/static/vendor/`. The one page
setting, the map tile URL, reaches the pages as a tiny JS module, `/static/config.js`. The
pages speak only the public API and sockets (docs/api.md). The courier page's manifest and
service worker: courier_app.py.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from server.base.settings import Settings
from server.edges.courier_app import courier_app_routes

log = logging.getLogger("tracker.pages")


def _web_dir() -> Path:
    """server/web in an installed wheel (pyproject.toml copies web/ there), else web/ beside
    the package: a checkout or an editable install, whose pages are edited in place."""
    package = Path(__file__).resolve().parents[1]
    candidates = [package / "web", package.parent / "web"]
    return next((c for c in candidates if (c / "pages").is_dir()), candidates[-1])


WEB_DIR = _web_dir()
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>'
VENDOR = {  # URL name -> the package's folder of ready-to-serve files
    "leaflet": WEB_DIR / "node_modules" / "leaflet" / "dist",
    "leaflet.markercluster": WEB_DIR / "node_modules" / "leaflet.markercluster" / "dist",
    "swagger-ui": WEB_DIR / "node_modules" / "swagger-ui-dist",  # /docs; the package is its dist
    "signature_pad": WEB_DIR / "node_modules" / "signature_pad" / "dist",  # the courier's proof
    "uplot": WEB_DIR / "node_modules" / "uplot" / "dist",  # /insights' charts
}
PAGES = {  # path -> file in web/pages
    "/track": "portal.html",
    "/t/{code}": "track.html",
    "/dispatch": "dispatch.html",
    "/driver": "driver.html",
    "/docs": "docs.html",  # the API's OpenAPI document (/openapi.json) in Swagger UI
    "/insights": "insights.html",  # delivery performance, for dispatchers (issue 18)
}


def tile_source(tile_url: str) -> str:
    """The CSP source that lets the pages load tiles from `tile_url`.

    >>> tile_source("https://{s}.tile.example.org/{z}/{x}/{y}.png")
    'https://*.tile.example.org'
    >>> tile_source("/tiles/{z}/{x}/{y}.png")
    "'self'"
    """
    parts = urlsplit(tile_url.replace("{s}", "subdomain"))
    if not parts.scheme or not parts.netloc:
        return "'self'"
    host = parts.netloc.replace("subdomain", "*")
    return f"{parts.scheme}://{host}"


def page_headers(tile_url: str) -> dict[str, str]:
    """Pages load scripts, workers and manifests only from here, connect only here, and
    images from here, the tile server and `blob:` (the courier's photo preview, a local
    object URL). Inline styles stay allowed: Leaflet positions everything with them."""
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {tile_source(tile_url)}",
            "connect-src 'self'",
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )
    return {
        "Content-Security-Policy": csp,
        # Tile servers learn the site, never the path (a tracking code is a capability).
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "no-cache",
    }


def config_module(tile_url: str) -> str:
    config: dict[str, Any] = {
        "tileUrl": tile_url,
        "tileAttribution": OSM_ATTRIBUTION if "openstreetmap.org" in tile_url else "",
    }
    return f"export const config = Object.freeze({json.dumps(config)});\n"


def page_routes(settings: Settings) -> list[BaseRoute]:
    """Routes for the pages and their assets, configured from `settings.tile_url`."""
    tile_url = settings.tile_url or DEFAULT_TILE_URL
    headers = page_headers(tile_url)
    config_js = config_module(tile_url)
    missing = [name for name, folder in VENDOR.items() if not folder.is_dir()]
    if missing:
        log.warning(
            "web/node_modules lacks %s: the pages will work without it (no map, no /docs, no "
            "signature pad, or no charts). Run `npm ci` in web/ (./scripts/run.sh and test.sh "
            "do it).",
            ", ".join(missing),
        )

    def page(url: str, filename: str) -> Route:
        path = WEB_DIR / "pages" / filename
        # A tracking page is nobody's search result.
        own = {**headers, "X-Robots-Tag": "noindex"} if "{code}" in url else headers

        async def endpoint(request: Request) -> Response:
            return FileResponse(path, media_type="text/html", headers=own)

        return Route(url, endpoint, methods=["GET", "HEAD"])

    async def config(request: Request) -> Response:
        return PlainTextResponse(
            config_js,
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
        )

    routes: list[BaseRoute] = [page(url, filename) for url, filename in PAGES.items()]
    routes.append(Route("/static/config.js", config, methods=["GET", "HEAD"]))
    served = {name: folder for name, folder in VENDOR.items() if name not in missing}
    routes.extend(courier_app_routes(WEB_DIR, served))
    for name, folder in VENDOR.items():
        if name not in missing:
            routes.append(Mount(f"/static/vendor/{name}", StaticFiles(directory=folder)))
    if (WEB_DIR / "static").is_dir():
        routes.append(Mount("/static", StaticFiles(directory=WEB_DIR / "static")))
    else:
        log.error("no web/ folder found (looked at %s): the pages cannot be served", WEB_DIR)
    return routes
