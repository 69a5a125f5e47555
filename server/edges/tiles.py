"""The self-hosted basemap: `GET /tiles/{z}/{x}/{y}.pbf` (Mapbox Vector Tiles) and
`GET /tiles/tiles.json` (TileJSON 3.0), read from the MBTiles file `TRACKER_TILES_FILE`
names (`tracker tiles build` writes it; server/basemap/).

Public (the customer's page draws its map with them) and cheap for anyone: the path is
checked before anything is read; reads run in two worker threads (SQLite, one indexed row
each), at most `MAX_PENDING_READS` waiting, beyond that `503`; the ETag comes from the
file's identity, so a revalidation (`If-None-Match`) is answered without a read. Stored
tiles are gzip-compressed: sent as they are with `Content-Encoding: gzip`, or inflated (in
the worker) for a client that does not accept gzip. A tile the file does not hold (outside
the extract, or beyond its zoom levels: clients draw those from the parent) is `204`.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import math
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.edges.responses import error_response, json_response
from server.store.tiles import (
    GZIP_MAGIC,
    TileReader,
    TilesetError,
    TilesetInfo,
    file_identity,
    read_info,
)

log = logging.getLogger("tracker.tiles")

MAX_ZOOM = 24  # deeper than any tileset; the bound keeps 1 << z small
MAX_PENDING_READS = 64  # tile reads waiting for a worker; beyond: 503
RECHECK_S = 1.0  # how often the file is looked at (a rebuild renames a new one into place)
MVT = "application/vnd.mapbox-vector-tile"
TILE_PATH = "/tiles/{z}/{x}/{y}.pbf"


@dataclass(frozen=True)
class Tileset:
    """The file as last seen: its identity (a new one after a rebuild) and metadata."""

    identity: tuple[int, int, int]
    info: TilesetInfo
    etag_base: str


class Basemap:
    """The tiles file for one app: looked at no more than once a second, read in threads."""

    def __init__(self, path: Path, max_age_s: float) -> None:
        self.path = path
        self.cache_control = f"public, max-age={int(max_age_s)}"
        self._reader = TileReader(path)
        self._workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="tiles")
        self._pending = 0
        self._checked_at = -math.inf
        self._current: Tileset | None = None
        self._unusable: tuple[int, int, int] | None = None
        self._lock = asyncio.Lock()

    def recheck(self) -> None:
        self._checked_at = -math.inf

    def close(self) -> None:
        self._workers.shutdown(wait=False, cancel_futures=True)

    async def tileset(self) -> Tileset | None:
        """The current tileset, or None when there is no usable file."""
        if time.monotonic() - self._checked_at < RECHECK_S:
            return self._current
        async with self._lock:  # one look at a time; the others take its answer
            if time.monotonic() - self._checked_at >= RECHECK_S:
                self._current = await self._look()
                self._checked_at = time.monotonic()
        return self._current

    async def _look(self) -> Tileset | None:
        loop = asyncio.get_running_loop()
        identity = await loop.run_in_executor(self._workers, file_identity, self.path)
        if identity is None:
            return None
        if self._current is not None and self._current.identity == identity:
            return self._current
        if identity == self._unusable:  # said once; looked at again when it changes
            return None
        try:
            info = await loop.run_in_executor(self._workers, read_info, self.path)
        except TilesetError as exc:
            log.warning("basemap tiles unusable: %s (rebuild: tracker tiles build)", exc)
            self._unusable = identity
            return None
        digest = hashlib.sha256(repr(identity).encode()).hexdigest()[:16]
        log.info("basemap tiles: %s, zoom %d-%d", self.path, info.minzoom, info.maxzoom)
        return Tileset(identity, info, digest)

    async def read(self, tileset: Tileset, z: int, x: int, y: int, gunzip: bool) -> bytes | None:
        """The tile's bytes as they will be sent; None: no tile there. Raises Busy."""
        if self._pending >= MAX_PENDING_READS:
            raise Busy
        self._pending += 1
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._workers, self._read, tileset.identity, z, x, y, gunzip
            )
        finally:
            self._pending -= 1

    def _read(
        self, identity: tuple[int, int, int], z: int, x: int, y: int, gunzip: bool
    ) -> bytes | None:
        data = self._reader.read(identity, z, x, y)
        if data is not None and gunzip and data.startswith(GZIP_MAGIC):
            return gzip.decompress(data)
        return data


class Busy(Exception):
    """Too many tile reads waiting."""


def parse_tile(z: str, x: str, y: str) -> tuple[int, int, int] | str:
    """(z, x, y) as integers, or what is wrong with them.

    >>> parse_tile("14", "7800", "6135")
    (14, 7800, 6135)
    >>> parse_tile("2", "4", "0")
    'x and y must be 0..3 at zoom 2'
    """
    if not (z.isdigit() and x.isdigit() and y.isdigit()) or max(len(z), len(x), len(y)) > 8:
        return "z, x and y must be whole numbers"
    zi, xi, yi = int(z), int(x), int(y)
    if zi > MAX_ZOOM:
        return f"z must be 0..{MAX_ZOOM}"
    side = 1 << zi
    if xi >= side or yi >= side:
        return f"x and y must be 0..{side - 1} at zoom {zi}"
    return zi, xi, yi


def accepts_gzip(request: Request) -> bool:
    """Whether Accept-Encoding allows gzip (`gzip;q=0` refuses it)."""
    for part in request.headers.get("accept-encoding", "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.strip().removeprefix("q=").strip()
            try:
                return not q or float(q) > 0
            except ValueError:
                return False
    return False


def tile_routes(basemap: Basemap, base_url: str) -> list[BaseRoute]:
    """The tile and TileJSON routes; `base_url`: where clients reach this server."""
    no_tiles = "no basemap tiles on this server (tracker tiles build FILE.osm.pbf makes them)"

    async def tile(request: Request) -> Response:
        params = request.path_params
        parsed = parse_tile(params["z"], params["x"], params["y"])
        if isinstance(parsed, str):
            return error_response(400, parsed)
        tileset = await basemap.tileset()
        if tileset is None:
            return error_response(404, no_tiles)
        z, x, y = parsed
        gzip_ok = accepts_gzip(request)
        etag = f'"{tileset.etag_base}-{z}-{x}-{y}{"" if gzip_ok else "-identity"}"'
        headers = {"ETag": etag, "Cache-Control": basemap.cache_control, "Vary": "Accept-Encoding"}
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        if z < tileset.info.minzoom or z > tileset.info.maxzoom:
            return Response(status_code=204, headers=headers)
        try:
            data = await basemap.read(tileset, z, x, y, gunzip=not gzip_ok)
        except Busy:
            return error_response(503, "too many tile requests; try again", {"Retry-After": "1"})
        except TilesetError as exc:  # the file went away or was damaged since the look
            log.warning("basemap tile %d/%d/%d unreadable: %s", z, x, y, exc)
            basemap.recheck()
            return error_response(404, no_tiles)
        except (OSError, zlib.error, EOFError) as exc:
            log.warning("basemap tile %d/%d/%d unreadable: %s", z, x, y, exc)
            return error_response(500, "the tile could not be read")
        if not data:
            return Response(status_code=204, headers=headers)
        if gzip_ok and data.startswith(GZIP_MAGIC):
            headers["Content-Encoding"] = "gzip"
        return Response(data, media_type=MVT, headers=headers)

    async def tilejson(request: Request) -> Response:
        tileset = await basemap.tileset()
        if tileset is None:
            return error_response(404, no_tiles)
        headers = {"Cache-Control": "no-cache", "ETag": f'"{tileset.etag_base}"'}
        if headers["ETag"] in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return json_response(tile_json(tileset.info, base_url), headers=headers)

    return [
        Route("/tiles/tiles.json", tilejson, methods=["GET", "HEAD"]),
        Route("/tiles/{z}/{x}/{y}.pbf", tile, methods=["GET", "HEAD"]),
    ]


def tile_json(info: TilesetInfo, base_url: str) -> dict[str, Any]:
    """TileJSON 3.0.0 for the tileset, its tiles under `base_url`."""
    doc: dict[str, Any] = {
        "tilejson": "3.0.0",
        "name": info.name,
        "scheme": "xyz",
        "tiles": [base_url.rstrip("/") + TILE_PATH],
        "minzoom": info.minzoom,
        "maxzoom": info.maxzoom,
        "attribution": info.attribution,
        "vector_layers": info.vector_layers,
    }
    if info.bounds:
        doc["bounds"] = list(info.bounds)
    if info.center:
        doc["center"] = list(info.center)
    return doc
