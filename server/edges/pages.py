"""The pages: customer tracking (`/t/{code}`), its embeddable widget (`/embed/{code}`), the
portal (`/track`), the dispatcher's fleet map (`/dispatch`), the courier page (`/driver`), the
API reference (`/docs`), and their static assets (compressed and cached: static_files.py).

The pages are plain HTML and JS modules from `web/` (in a wheel, `server/web`); Leaflet and
its marker-clustering plugin, Swagger UI for `/docs` and signature_pad for the courier's
proof of delivery come from `web/node_modules` (pinned
in `web/package.json`, installed by `npm ci`), served under `/static/vendor/<name>@<version>/`
(immutable; the pages' `/static/vendor/<name>/` URLs are rewritten to it when served) and,
revalidated, `/static/vendor/<name>/`. The page settings (the tile URL, the vendor URLs)
reach the pages as a tiny JS module, `/static/config.js`.

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
}
PAGES = {  # path -> file in web/pages
    "/track": "portal.html",
    "/t/{code}": "track.html",
    "/embed/{code}": "embed.html",  # the tracking widget, for a shop's page (an iframe)
    "/dispatch": "dispatch.html",
    "/driver": "driver.html",
    "/docs": "docs.html",  # the API's OpenAPI document (/openapi.json) in Swagger UI
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
    """Pages load scripts, workers and manifests only from here, connect only here, and
    images from here, the tile server and `blob:` (the courier's photo preview, a local
    object URL). Inline styles stay allowed: Leaflet positions everything with them. Only a
    page given `ancestors` may be framed, and then by those alone."""
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


def config_module(tile_url: str, vendor: dict[str, str] | None = None) -> str:
    """`vendor`: package name -> the URL of its folder (versioned where known), for modules
    that load a package themselves."""
    config: dict[str, Any] = {
        "tileUrl": tile_url,
        "tileAttribution": OSM_ATTRIBUTION if "openstreetmap.org" in tile_url else "",
        "vendor": vendor or {},
    }
    return f"export const config = Object.freeze({json.dumps(config)});\n"


def page_routes(settings: Settings) -> list[BaseRoute]:
    """Routes for the pages and their assets, configured from `settings.tile_url`."""
    tile_url = settings.tile_url or DEFAULT_TILE_URL
    headers = page_headers(tile_url)
    embed_headers = page_headers(tile_url, frame_ancestors(embed_origins(settings.embed_origins)))
    missing = [name for name, folder in VENDOR.items() if not folder.is_dir()]
    if missing:
        log.warning(
            "web/node_modules lacks %s: the pages will work without it (no map, no /docs, "
            "or no signature pad). Run `npm ci` in web/ (./scripts/run.sh and test.sh do it).",
            ", ".join(missing),
        )

    versions = {n: v for n, v in vendor_versions().items() if n not in missing}
    vendor_urls = {n: f"/static/vendor/{n}" for n in VENDOR if n not in missing}
    vendor_urls.update({n: f"/static/vendor/{n}@{v}" for n, v in versions.items()})
    config_js = config_module(tile_url, vendor_urls)
    # The pages name /static/vendor/<name>/…; they are served the versioned, immutable URL.
    versioned = {f"/static/vendor/{n}/": f"{url}/" for n, url in vendor_urls.items()}
    compressed = Compressed()

    def page(url: str, filename: str) -> Route:
        document = Document(WEB_DIR / "pages" / filename, versioned, compressed)
        own = embed_headers if url.startswith("/embed/") else headers
        # A tracking page is nobody's search result.
        own = {**own, "X-Robots-Tag": "noindex"} if "{code}" in url else own

        async def endpoint(request: Request) -> Response:
            return await document.response(Headers(scope=request.scope), own)

        return Route(url, endpoint, methods=["GET", "HEAD"])

    config_etag = f'"{hashlib.sha256(config_js.encode()).hexdigest()[:32]}"'
    config_headers = {
        "Cache-Control": OWN,
        "X-Content-Type-Options": "nosniff",
        "ETag": config_etag,
    }

    async def config(request: Request) -> Response:
        tags = request.headers.get("if-none-match", "")
        if config_etag in [tag.strip().removeprefix("W/") for tag in tags.split(",")]:
            return Response(status_code=304, headers=config_headers)
        return PlainTextResponse(config_js, media_type="text/javascript", headers=config_headers)

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
