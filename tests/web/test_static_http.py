"""Static files and pages over real HTTP: brotli/gzip by Accept-Encoding, cache headers by
kind (our modules revalidated, versioned npm files immutable), 304 on If-None-Match, and who
may frame which page (issue 17)."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass

import asyncpg
import brotli
import httpx

from server.base.settings import Settings
from server.edges.pages import WEB_DIR
from tests.server.harness import run_server
from tests.web.conftest import web_settings

TRACK_JS = "/static/js/track/main.js"  # the tracking page's entry module
LEAFLET_JS = "leaflet.js"
SHOP = "https://shop.example"


def leaflet_version() -> str:
    package = json.loads((WEB_DIR / "package.json").read_text(encoding="utf-8"))
    return str(package["dependencies"]["leaflet"])


@dataclass
class Got:
    status_code: int
    headers: httpx.Headers
    content: bytes  # as sent: httpx would decode br/gzip, and we check the bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8")


async def get(client: httpx.AsyncClient, path: str, **headers: str) -> Got:
    request = client.build_request("GET", path, headers=headers)
    response = await client.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return Got(response.status_code, response.headers, raw)


async def test_our_modules_are_compressed_and_revalidated(
    settings: Settings, db: asyncpg.Connection
) -> None:
    source = (WEB_DIR / "static" / "js" / "track" / "main.js").read_bytes()
    async with run_server(web_settings(settings)) as server, server.http() as client:
        plain = await get(client, TRACK_JS, **{"Accept-Encoding": "identity"})
        assert plain.status_code == 200
        assert "content-encoding" not in plain.headers
        assert plain.content == source
        assert plain.headers["cache-control"] == "no-cache"
        assert plain.headers["vary"] == "Accept-Encoding"
        assert plain.headers["content-type"].startswith("text/javascript")
        etag = plain.headers["etag"]
        assert plain.headers["last-modified"]

        br = await get(client, TRACK_JS, **{"Accept-Encoding": "gzip, deflate, br, zstd"})
        assert br.headers["content-encoding"] == "br"
        assert brotli.decompress(br.content) == source
        assert int(br.headers["content-length"]) == len(br.content) < len(source) / 2
        assert br.headers["etag"] == f"W/{etag}"
        assert br.headers["cache-control"] == "no-cache"
        assert br.headers["vary"] == "Accept-Encoding"

        gz = await get(client, TRACK_JS, **{"Accept-Encoding": "gzip"})
        assert gz.headers["content-encoding"] == "gzip"
        assert gzip.decompress(gz.content) == source
        none = await get(client, TRACK_JS)  # httpx sends its own; say nothing at all
        assert none.headers.get("content-encoding") in (None, "br", "gzip")
        refused = await get(client, TRACK_JS, **{"Accept-Encoding": "br;q=0, gzip;q=0"})
        assert "content-encoding" not in refused.headers and refused.content == source

        # Revalidation: the same file answers 304 to either ETag, with the caching headers.
        for tag, encoding in ((etag, "br"), (f"W/{etag}", "br"), (f"W/{etag}", "identity")):
            again = await get(
                client, TRACK_JS, **{"If-None-Match": tag, "Accept-Encoding": encoding}
            )
            assert again.status_code == 304, (tag, encoding)
            assert again.content == b""
            assert again.headers["cache-control"] == "no-cache"
        stale = await get(client, TRACK_JS, **{"If-None-Match": '"something-else"'})
        assert stale.status_code == 200

        # Styles, icons (SVG) and catalogs too; a tiny file is not worth compressing.
        for path in ("/static/app.css", "/static/icons/tracker.svg", "/static/i18n/de.js"):
            got = await get(client, path, **{"Accept-Encoding": "br"})
            assert got.status_code == 200, path
            assert got.headers["cache-control"] == "no-cache", path
            big = (WEB_DIR / path.removeprefix("/")).stat().st_size >= 512
            assert got.headers.get("content-encoding") == ("br" if big else None), path
        config = await get(client, "/static/config.js")
        assert config.headers["cache-control"] == "no-cache"
        tag = config.headers["etag"]
        assert (await get(client, "/static/config.js", **{"If-None-Match": tag})).status_code == 304
        # Nothing outside the folders, whatever the encoding.
        for private in ("/static/../package.json", "/static/%2e%2e/package.json"):
            assert (await get(client, private, **{"Accept-Encoding": "br"})).status_code == 404


async def test_vendored_files_are_immutable_under_their_version(
    settings: Settings, db: asyncpg.Connection
) -> None:
    version = leaflet_version()
    source = (WEB_DIR / "node_modules" / "leaflet" / "dist" / LEAFLET_JS).read_bytes()
    async with run_server(web_settings(settings)) as server, server.http() as client:
        versioned = f"/static/vendor/leaflet@{version}/{LEAFLET_JS}"
        got = await get(client, versioned, **{"Accept-Encoding": "br"})
        assert got.status_code == 200
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert brotli.decompress(got.content) == source
        # The unversioned URL still works, revalidated (a page not rewritten, an old link).
        plain = await get(client, f"/static/vendor/leaflet/{LEAFLET_JS}")
        assert plain.status_code == 200
        assert plain.headers["cache-control"] == "no-cache"
        # Another version is not this one: nothing is served under a version we do not have.
        assert (await get(client, f"/static/vendor/leaflet@0.0.1/{LEAFLET_JS}")).status_code == 404
        # Pages are served with the versioned URLs, and say where to find them in config.js.
        page = await get(client, "/dispatch", **{"Accept-Encoding": "identity"})
        assert f"/static/vendor/leaflet@{version}/leaflet.js" in page.text
        assert "/static/vendor/leaflet/" not in page.text
        config = (await get(client, "/static/config.js")).text
        assert f'"leaflet": "/static/vendor/leaflet@{version}"' in config


async def test_pages_are_compressed_and_revalidated(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(web_settings(settings)) as server, server.http() as client:
        for path in ("/track", "/t/7KQ2-M9XD-3HVA-PR4T", "/embed/7KQ2-M9XD-3HVA-PR4T"):
            plain = await get(client, path, **{"Accept-Encoding": "identity"})
            assert plain.status_code == 200, path
            assert plain.headers["cache-control"] == "no-cache"
            etag = plain.headers["etag"]
            br = await get(client, path, **{"Accept-Encoding": "br"})
            assert br.headers["content-encoding"] == "br", path
            assert brotli.decompress(br.content) == plain.content
            again = await get(client, path, **{"If-None-Match": br.headers["etag"]})
            assert again.status_code == 304, path
            assert again.headers["etag"] == etag


def frame_ancestors(response: httpx.Response) -> str:
    found = re.search(r"frame-ancestors ([^;]+)", response.headers["content-security-policy"])
    assert found is not None
    return found.group(1).strip()


async def test_only_the_widget_may_be_framed_and_only_by_the_listed_origins(
    settings: Settings, db: asyncpg.Connection
) -> None:
    listed = web_settings(settings, embed_origins=f"{SHOP}, http://127.0.0.1:8081")
    async with run_server(listed) as server, server.http() as client:
        widget = await client.get("/embed/7KQ2-M9XD-3HVA-PR4T")
        assert frame_ancestors(widget) == f"'self' {SHOP} http://127.0.0.1:8081"
        assert "x-frame-options" not in widget.headers  # it cannot name a list
        assert widget.headers["x-robots-tag"] == "noindex"
        for path in ("/track", "/t/7KQ2-M9XD-3HVA-PR4T", "/dispatch", "/driver", "/docs"):
            page = await client.get(path)
            assert frame_ancestors(page) == "'none'", path
            assert page.headers["x-frame-options"] == "DENY", path
    async with run_server(web_settings(settings)) as server, server.http() as client:
        widget = await client.get("/embed/7KQ2-M9XD-3HVA-PR4T")  # no list: nobody may
        assert frame_ancestors(widget) == "'none'"
        assert widget.headers["x-frame-options"] == "DENY"
