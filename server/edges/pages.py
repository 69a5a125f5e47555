"""The pages: customer tracking (`/t/{code}`), its embeddable widget (`/embed/{code}`), the
portal (`/track`), the dispatcher's fleet map (`/dispatch`) and delivery insights
(`/insights`), the courier page (`/driver`), the API reference (`/docs`), and their static
assets (compressed and cached: static_files.py).

The pages are plain HTML and JS modules from `web/` (in a wheel, `server/web`); Leaflet and
its marker-clustering plugin, Swagger UI for `/docs`, signature_pad for the courier's
proof of delivery and uPlot for the insights' charts come from `web/node_modules` (pinned
in `web/package.json`, installed by `npm ci`), served under `/static/vendor/<name>@<version>/`
(immutable; the pages' `/static/vendor/<name>/` URLs are rewritten to it when served) and,
revalidated, `/static/vendor/<name>/`. The page settings reach the pages as a tiny JS
module, `/static/config.js`: the vendor URLs, and the map's tiles: `TRACKER_TILE_URL` when
set (raster, or vector when it ends in .pbf/.mvt), else the server's own vector basemap
(/tiles, server/edges/tiles.py) while its file exists, else OpenStreetMap's raster tiles;
protomaps-leaflet draws vector tiles.

Only `/embed/{code}` may be framed, and only by the origins in `TRACKER_EMBED_ORIGINS`
(`Content-Security-Policy: frame-ancestors`); every other page says `frame-ancestors 'none'`
and `X-Frame-Options: DENY`. The
pages speak only the public API and sockets (docs/api.md). The courier page's manifest and
service worker: courier_app.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from server.base.settings import Settings
from server.base.settings_rules import embed_origins
from server.edges.courier_app import courier_app_routes
from server.edges.static_files import IMMUTABLE, OWN, CachedStaticFiles, Compressed, Document
from server.edges.tiles import TILE_PATH, Basemap

log = logging.getLogger("tracker.pages")


def _web_dir() -> Path:
    """server/web in an installed wheel (pyproject.toml copies web/ there), else web/ beside
    the package: a checkout or an editable install, whose pages are edited in place."""
    package = Path(__file__).resolve().parents[1]
    candidates = [package / "web", package.parent / "web"]
    return next((c for c in candidates if (c / "pages").is_dir()), candidates[-1])


WEB_DIR = _web_dir()
DEFAULT_TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = (
    '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
)
VENDOR = {  # URL name -> the package's folder of ready-to-serve files
    "leaflet": WEB_DIR / "node_modules" / "leaflet" / "dist",
    "leaflet.markercluster": WEB_DIR / "node_modules" / "leaflet.markercluster" / "dist",
    "swagger-ui": WEB_DIR / "node_modules" / "swagger-ui-dist",  # /docs; the package is its dist
    "signature_pad": WEB_DIR / "node_modules" / "signature_pad" / "dist",  # the courier's proof
    "protomaps-leaflet": WEB_DIR / "node_modules" / "protomaps-leaflet" / "dist",  # vector tiles
    "uplot": WEB_DIR / "node_modules" / "uplot" / "dist",  # /insights' charts
}
PAGES = {  # path -> file in web/pages
    "/track": "portal.html",
    "/t/{code}": "track.html",
    "/embed/{code}": "embed.html",  # the tracking widget, for a shop's page (an iframe)
    "/track/{code}/preferences": "preferences.html",  # the customer's messages, per channel
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


def is_vector(tile_url: str) -> bool:
    """Whether a tile template names vector tiles (Mapbox Vector Tiles: .pbf or .mvt).

    >>> is_vector("https://tiles.example.org/v1/{z}/{x}/{y}.pbf?key=k"), is_vector("/a.png")
    (True, False)
    """
    path = urlsplit(tile_url).path.lower()
    return path.endswith((".pbf", ".mvt"))


def vendor_versions(web_dir: Path = WEB_DIR) -> dict[str, str]:
    """The pinned version of each served npm package, from web/package.json (the wheel carries
    it too); a package without one is served only at its unversioned, revalidated URL."""
    try:
        pins = json.loads((web_dir / "package.json").read_text(encoding="utf-8"))["dependencies"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    name_of = {"swagger-ui": "swagger-ui-dist"}  # URL name -> npm package, where they differ
    versions = {name: pins.get(name_of.get(name, name)) for name in VENDOR}
    return {name: v for name, v in versions.items() if isinstance(v, str) and v[:1].isdigit()}


def frame_ancestors(origins: list[str]) -> str:
    """Who may put the page in a frame: nobody, or this site and the listed origins.

    >>> frame_ancestors([]), frame_ancestors(["https://shop.example"])
    ("'none'", "'self' https://shop.example")
    """
    return " ".join(["'self'", *origins]) if origins else "'none'"


def page_headers(tile_url: str, ancestors: str = "'none'") -> dict[str, str]:
    """Pages load scripts, workers and manifests only from here, connect only here (and to
    a vector tile server), and images from here, the tile server and `blob:` (the courier's
    photo preview, a local object URL). Inline styles stay allowed: Leaflet positions
    everything with them. Only a page given `ancestors` may be framed, and then by those
    alone."""
    source = tile_source(tile_url)
    vector_elsewhere = is_vector(tile_url) and source != "'self'"
    connect = "connect-src 'self'" + (f" {source}" if vector_elsewhere else "")
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {source}",
            connect,
            "worker-src 'self'",
            "manifest-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            f"frame-ancestors {ancestors}",
            "form-action 'self'",
        ]
    )
    # X-Frame-Options, for browsers without frame-ancestors, cannot name a list of origins.
    frame = {"X-Frame-Options": "DENY"} if ancestors == "'none'" else {}
    return {
        **frame,
        "Content-Security-Policy": csp,
        # Tile servers learn the site, never the path (a tracking code is a capability).
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": OWN,
    }


def config_module(
    tile_url: str, tilejson_url: str = "", vendor: dict[str, str] | None = None
) -> str:
    """The pages' settings. `vendor`: package name -> the URL of its folder (versioned where
    known), for modules that load a package themselves. OpenStreetMap's attribution is
    always shown: every tile source here (ours, OpenStreetMap's, an operator's) is drawn
    from its data."""
    config: dict[str, Any] = {
        "tileUrl": tile_url,
        "tileKind": "vector" if is_vector(tile_url) else "raster",
        "tileJson": tilejson_url,  # ours: fetched to tell a missing basemap
        "tileAttribution": OSM_ATTRIBUTION,
        "vendor": vendor or {},
    }
    return f"export const config = Object.freeze({json.dumps(config)});\n"


@dataclass(frozen=True, slots=True)
class TileAnswers:
    """What the pages are served for one choice of tiles."""

    headers: dict[str, str]
    embed_headers: dict[str, str]  # /embed/*: framable by the allowed origins
    config_js: str
    config_etag: str


class PageTiles:
    """Which tiles the pages use: the configured URL, else the server's own basemap while
    its file is there (looked at once a second), else OpenStreetMap's."""

    def __init__(
        self, configured: str, basemap: Basemap, ancestors: str, vendor: dict[str, str]
    ) -> None:
        self.configured = configured
        self.basemap = basemap
        self._answers: dict[str, TileAnswers] = {}
        for url, tilejson in (
            (configured or DEFAULT_TILE_URL, ""),
            (TILE_PATH, "/tiles/tiles.json"),
        ):
            config_js = config_module(url, tilejson, vendor)
            self._answers[url] = TileAnswers(
                page_headers(url),
                page_headers(url, ancestors),
                config_js,
                f'"{hashlib.sha256(config_js.encode()).hexdigest()[:32]}"',
            )

    async def current(self) -> TileAnswers:
        """The pages' headers and config.js, for the tiles in use now."""
        url = self.configured or DEFAULT_TILE_URL
        if not self.configured and await self.basemap.tileset() is not None:
            url = TILE_PATH
        return self._answers[url]


def page_routes(settings: Settings, basemap: Basemap) -> list[BaseRoute]:
    """Routes for the pages and their assets, configured from `settings.tile_url`, the
    basemap's file and the embedding origins."""
    missing = [name for name, folder in VENDOR.items() if not folder.is_dir()]
    if missing:
        log.warning(
            "web/node_modules lacks %s: the pages will work without it (no map, no /docs, no "
            "signature pad, or no charts). Run `npm ci` in web/ (./scripts/run.sh and test.sh "
            "do it).",
            ", ".join(missing),
        )

    versions = {n: v for n, v in vendor_versions().items() if n not in missing}
    vendor_urls = {n: f"/static/vendor/{n}" for n in VENDOR if n not in missing}
    vendor_urls.update({n: f"/static/vendor/{n}@{v}" for n, v in versions.items()})
    ancestors = frame_ancestors(embed_origins(settings.embed_origins))
    tiles = PageTiles(settings.tile_url, basemap, ancestors, vendor_urls)
    # The pages name /static/vendor/<name>/…; they are served the versioned, immutable URL.
    versioned = {f"/static/vendor/{n}/": f"{url}/" for n, url in vendor_urls.items()}
    compressed = Compressed()

    def page(url: str, filename: str) -> Route:
        document = Document(WEB_DIR / "pages" / filename, versioned, compressed)
        embed = url.startswith("/embed/")
        # A tracking page is nobody's search result.
        extra = {"X-Robots-Tag": "noindex"} if "{code}" in url else {}

        async def endpoint(request: Request) -> Response:
            answers = await tiles.current()
            own = answers.embed_headers if embed else answers.headers
            return await document.response(Headers(scope=request.scope), {**own, **extra})

        return Route(url, endpoint, methods=["GET", "HEAD"])

    async def config(request: Request) -> Response:
        answers = await tiles.current()
        headers = {"Cache-Control": OWN, "X-Content-Type-Options": "nosniff"}
        headers["ETag"] = answers.config_etag
        tags = request.headers.get("if-none-match", "")
        if answers.config_etag in [tag.strip().removeprefix("W/") for tag in tags.split(",")]:
            return Response(status_code=304, headers=headers)
        js = answers.config_js
        return PlainTextResponse(js, media_type="text/javascript", headers=headers)

    routes: list[BaseRoute] = [page(url, filename) for url, filename in PAGES.items()]
    routes.append(Route("/static/config.js", config, methods=["GET", "HEAD"]))
    served = {name: folder for name, folder in VENDOR.items() if name not in missing}
    routes.extend(courier_app_routes(WEB_DIR, served))
    for name, folder in served.items():
        if name in versions:
            files = CachedStaticFiles(folder, IMMUTABLE, compressed)
            routes.append(Mount(f"/static/vendor/{name}@{versions[name]}", files))
        routes.append(Mount(f"/static/vendor/{name}", CachedStaticFiles(folder, OWN, compressed)))
    if (WEB_DIR / "static").is_dir():
        static = CachedStaticFiles(WEB_DIR / "static", OWN, compressed)
        routes.append(Mount("/static", static))
    else:
        log.error("no web/ folder found (looked at %s): the pages cannot be served", WEB_DIR)
    return routes
