"""The self-hosted basemap: `tracker tiles build` on the Porto extract (and on bad input),
and the tiles served from its file: Mapbox Vector Tiles, gzip, caching, bad paths."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import os
import shutil
from pathlib import Path

import asyncpg
import httpx
import mapbox_vector_tile
import pytest

from server.base.settings import Settings
from server.basemap.build import BuildError, build
from server.edges.tiles import MAX_PENDING_READS, Basemap, Busy
from server.store.tiles import TileReader, file_identity
from tests.basemap_data import OUTSIDE_Z14, PORTO_PBF, PORTO_Z14, porto_tiles
from tests.server.harness import run_server
from tests.test_cli import tracker

MVT = "application/vnd.mapbox-vector-tile"


def tiles_settings(settings: Settings, path: Path) -> Settings:
    return dataclasses.replace(settings, tiles_file=str(path), tile_url="")


def url(z: int, x: int, y: int) -> str:
    return f"/tiles/{z}/{x}/{y}.pbf"


async def test_a_porto_tile_is_a_gzipped_vector_tile_with_streets_and_names(
    settings: Settings, db: asyncpg.Connection
) -> None:
    built = porto_tiles()
    assert built.maxzoom == 14 and built.tiles > 10
    async with run_server(tiles_settings(settings, built.path)) as server:
        # Raw bytes as sent: gzip on the wire, said so.
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30.0) as client:
            request = client.build_request("GET", url(*PORTO_Z14))
            response = await client.send(request, stream=True)
            wire = b"".join([chunk async for chunk in response.aiter_raw()])
            await response.aclose()
        assert response.status_code == 200
        assert response.headers["content-type"] == MVT
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert response.headers["cache-control"] == "public, max-age=3600"
        assert wire[:2] == b"\x1f\x8b"
        tile = mapbox_vector_tile.decode(gzip.decompress(wire))
        for layer in ("transportation", "transportation_name", "building"):
            assert tile[layer]["features"], layer
        classes = {f["properties"].get("class") for f in tile["transportation"]["features"]}
        assert {"primary", "minor"} <= classes
        names = {f["properties"]["name"] for f in tile["transportation_name"]["features"]}
        assert any(name.startswith(("Rua", "Avenida", "Praça")) for name in names), names
        assert tile["transportation"]["extent"] == 4096


async def test_caching_encodings_and_tiles_outside_the_extract(
    settings: Settings, db: asyncpg.Connection
) -> None:
    built = porto_tiles()
    async with run_server(tiles_settings(settings, built.path)) as server, server.http() as c:
        first = await c.get(url(*PORTO_Z14))
        etag = first.headers["etag"]
        again = await c.get(url(*PORTO_Z14), headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        other = await c.get(url(14, PORTO_Z14[1] - 1, PORTO_Z14[2]))
        assert other.status_code == 200 and other.headers["etag"] != etag
        # A client that takes no gzip gets the tile inflated (and its own ETag).
        plain = await c.get(url(*PORTO_Z14), headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers
        assert plain.headers["etag"] != etag
        assert mapbox_vector_tile.decode(plain.content)["transportation"]["features"]
        refused = await c.get(url(*PORTO_Z14), headers={"Accept-Encoding": "gzip;q=0"})
        assert "content-encoding" not in refused.headers
        assert refused.content == plain.content == first.content  # httpx inflated `first`
        head = await c.head(url(*PORTO_Z14))
        assert head.status_code == 200 and head.headers["etag"] == etag
        # Nothing there: outside the extract, above and below its zoom levels.
        for z, x, y in (OUTSIDE_Z14, (15, 2 * PORTO_Z14[1], 2 * PORTO_Z14[2]), (2, 1, 1)):
            empty = await c.get(url(z, x, y))
            assert empty.status_code == 204, (z, x, y)
            assert empty.content == b""
        tilejson = (await c.get("/tiles/tiles.json")).json()
        assert tilejson["tiles"] == [f"{server.base_url}/tiles/{{z}}/{{x}}/{{y}}.pbf"] or (
            tilejson["tiles"][0].endswith("/tiles/{z}/{x}/{y}.pbf")
        )
        assert tilejson["maxzoom"] == 14 and tilejson["minzoom"] == built.minzoom
        west, south, east, north = tilejson["bounds"]
        assert west < -8.61 < east and south < 41.148 < north  # Aliados
        assert "OpenStreetMap" in tilejson["attribution"]
        assert {layer["id"] for layer in tilejson["vector_layers"]} >= {"transportation", "water"}
        # The pages use them (no TRACKER_TILE_URL): vector, from here.
        config = (await c.get("/static/config.js")).text
        assert '"tileUrl": "/tiles/{z}/{x}/{y}.pbf"' in config and '"tileKind": "vector"' in config
        assert "OpenStreetMap" in config
        csp = (await c.get("/dispatch")).headers["content-security-policy"]
        assert "connect-src 'self';" in csp and "tile.openstreetmap.org" not in csp


BAD_PATHS = [
    "/tiles/15/32768/0.pbf",  # x beyond 2^15 - 1
    "/tiles/0/0/1.pbf",
    "/tiles/25/0/0.pbf",  # deeper than any tileset
    "/tiles/a/0/0.pbf",
    "/tiles/-1/0/0.pbf",
    "/tiles/1/-0/0.pbf",
    "/tiles/14/7800/6133.5.pbf",
    "/tiles/14/%207800/6133.pbf",
    "/tiles/14/0x1/1.pbf",
    "/tiles/99999999999999999999/0/0.pbf",
    "/tiles/1/" + "1" * 5000 + "/0.pbf",
    "/tiles/%F0%9F%97%BA/0/0.pbf",
]


@pytest.mark.parametrize("path", BAD_PATHS, ids=range(len(BAD_PATHS)))
async def test_bad_tile_paths_are_400(
    settings: Settings, db: asyncpg.Connection, path: str
) -> None:
    async with (
        run_server(tiles_settings(settings, porto_tiles().path)) as server,
        server.http() as client,
    ):
        response = await client.get(path)
        assert response.status_code in (400, 404), path
        if response.status_code == 404:  # not a tile path at all (Starlette's router)
            assert path.count("/") != 4 or not path.endswith(".pbf")
        assert "error" in response.json()
        assert (
            "cache-control" not in response.headers
            or "public" not in response.headers["cache-control"]
        )


async def test_no_tiles_file_means_404_and_openstreetmap_for_the_pages(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    missing = tmp_path / "none.mbtiles"
    async with run_server(tiles_settings(settings, missing)) as server, server.http() as c:
        response = await c.get(url(*PORTO_Z14))
        assert response.status_code == 404
        assert "tracker tiles build" in response.json()["error"]
        assert (await c.get("/tiles/tiles.json")).status_code == 404
        config = (await c.get("/static/config.js")).text
        assert "tile.openstreetmap.org" in config and '"tileKind": "raster"' in config
        assert "OpenStreetMap" in config  # the attribution, always


async def test_a_rebuilt_file_is_picked_up_while_serving(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "basemap.mbtiles"
    async with run_server(tiles_settings(settings, path)) as server, server.http() as c:
        assert (await c.get(url(*PORTO_Z14))).status_code == 404
        shutil.copyfile(porto_tiles().path, tmp_path / "new.mbtiles")
        os.replace(tmp_path / "new.mbtiles", path)  # as the build does
        # The server looks at the file at most once a second: poll until it has, bounded.
        async with asyncio.timeout(10):
            while (response := await c.get(url(*PORTO_Z14))).status_code != 200:
                assert response.status_code == 404
                await asyncio.sleep(0.05)
        assert response.status_code == 200
        assert mapbox_vector_tile.decode(response.content)["transportation"]["features"]


def _build_fails(source: Path, out: Path) -> str:
    before = out.read_bytes()
    inode = out.stat().st_ino
    result = tracker("tiles", "build", str(source), "--out", str(out))
    assert result.returncode == 1, result.stderr
    assert out.read_bytes() == before and out.stat().st_ino == inode  # untouched
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp left
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # a line, no traceback
    return result.stderr


def test_bad_extracts_fail_clearly_and_leave_the_old_tiles(tmp_path: Path) -> None:
    out = tmp_path / "tiles" / "basemap.mbtiles"
    out.parent.mkdir()
    shutil.copyfile(porto_tiles().path, out)
    err = _build_fails(tmp_path / "missing.osm.pbf", out)
    assert "no such file" in err and "left as it was" in err
    truncated = tmp_path / "truncated.osm.pbf"
    truncated.write_bytes(PORTO_PBF.read_bytes()[:300_000])
    assert "tilemaker failed" in _build_fails(truncated, out)
    text = tmp_path / "extract.osm.pbf"
    text.write_text('<?xml version="1.0"?><osm version="0.6"></osm>')
    assert "not an OpenStreetMap PBF" in _build_fails(text, out)
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    assert "too short" in _build_fails(empty, out)
    assert "directory" in _build_fails(tmp_path, out)


def test_build_writes_a_new_file_atomically(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "er" / "basemap.mbtiles"
    built = build(PORTO_PBF, out)
    assert built.path == out and built.tiles == porto_tiles().tiles
    first = out.stat().st_ino
    again = build(PORTO_PBF, out)
    assert again.path.stat().st_ino != first  # a new file renamed over the old one
    assert sorted(p.name for p in out.parent.iterdir()) == ["basemap.mbtiles"]
    store = tmp_path / "store"  # tilemaker's on-disk store: the same tiles, nothing left
    assert build(PORTO_PBF, out, store=store).tiles == built.tiles
    assert list(store.iterdir()) == []
    with pytest.raises(BuildError, match="OSMHeader"):
        bad = tmp_path / "x.pbf"
        bad.write_bytes(b"\x00\x00\x00\x0e\x0a\x07OSMData")
        build(bad, out)


def test_the_demo_routes_make_a_basemap_without_an_extract(tmp_path: Path) -> None:
    """No extract at hand: the demo fleet's streets, written as an OSM PBF file by hand,
    are read by tilemaker like any extract."""
    if shutil.which("tilemaker") is None:
        pytest.skip("no tilemaker (apt-get install tilemaker)")
    out = tmp_path / "demo.mbtiles"
    result = tracker("tiles", "build", "--demo-routes", "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tiles"] > 5 and summary["maxzoom"] == 14
    west, south, east, north = summary["bounds"]
    assert west < -8.61 < east and south < 41.148 < north  # the demo drives around Aliados
    data = TileReader(out).read(file_identity(out) or (0, 0, 0), *PORTO_Z14)
    assert data is not None
    streets = mapbox_vector_tile.decode(gzip.decompress(data))["transportation"]["features"]
    assert len(streets) > 10
    assert {f["properties"]["class"] for f in streets} == {"minor"}
    both = tracker("tiles", "build", str(PORTO_PBF), "--demo-routes", "--out", str(out))
    assert both.returncode == 2 and "give FILE.osm.pbf or --demo-routes" in both.stderr


async def test_an_external_vector_tile_server_is_drawn_and_allowed(
    settings: Settings, db: asyncpg.Connection
) -> None:
    external = "https://tiles.example.org/v1/{z}/{x}/{y}.pbf?key=k"
    # TRACKER_TILE_URL wins over a tiles file that is there.
    chosen = dataclasses.replace(settings, tile_url=external, tiles_file=str(porto_tiles().path))
    async with run_server(chosen) as server, server.http() as client:
        config = (await client.get("/static/config.js")).text
        assert '"tileKind": "vector"' in config and "tiles.example.org" in config
        csp = (await client.get("/t/7KQ2-M9XD-3HVA-PR4T")).headers["content-security-policy"]
        assert "connect-src 'self' https://tiles.example.org;" in csp
        # The server's own tiles are still served to whoever asks.
        assert (await client.get(url(*PORTO_Z14))).status_code == 200


async def test_a_flood_of_tile_reads_is_bounded() -> None:
    """More reads at once than MAX_PENDING_READS: the rest are refused at once (503 at the
    edge), never queued without bound behind the two reader threads."""
    basemap = Basemap(porto_tiles().path, 60)
    try:
        tileset = await basemap.tileset()
        assert tileset is not None
        flood = MAX_PENDING_READS + 36
        results = await asyncio.gather(
            *(basemap.read(tileset, *PORTO_Z14, gunzip=False) for _ in range(flood)),
            return_exceptions=True,
        )
        refused = [r for r in results if isinstance(r, Busy)]
        served = [r for r in results if isinstance(r, bytes)]
        assert len(refused) == 36 and len(served) == MAX_PENDING_READS
        assert len(set(served)) == 1 and served[0][:2] == b"\x1f\x8b"
        assert await basemap.read(tileset, *PORTO_Z14, gunzip=True) == gzip.decompress(served[0])
    finally:
        basemap.close()


async def test_a_damaged_tiles_file_is_no_basemap(
    settings: Settings, db: asyncpg.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damaged = tmp_path / "basemap.mbtiles"
    damaged.write_bytes(b"not sqlite at all" * 100)
    async with run_server(tiles_settings(settings, damaged)) as server, server.http() as c:
        for _ in range(3):
            response = await c.get(url(*PORTO_Z14))
            assert response.status_code == 404 and "error" in response.json()
        config = (await c.get("/static/config.js")).text
        assert '"tileKind": "raster"' in config  # the pages fall back to OpenStreetMap's
    said = [r for r in caplog.records if "basemap tiles unusable" in r.getMessage()]
    assert len(said) == 1  # said once, naming the fix
