"""The basemap's vector tiles, read from an MBTiles file (SQLite; `tracker tiles build`
writes it). Synchronous on purpose: the edge runs these calls in worker threads, never on
the event loop.

One read-only connection per thread, reopened when the file is replaced (the build renames
a finished file over the old one, so a reader either sees the whole old tileset or the
whole new one). MBTiles counts rows from the bottom (TMS); callers pass XYZ rows.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class TilesetInfo:
    """What the file says about itself (its `metadata` table), for TileJSON."""

    name: str
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float] | None  # west, south, east, north
    center: tuple[float, float, float] | None  # lon, lat, zoom
    attribution: str
    vector_layers: list[dict[str, Any]] = field(default_factory=list)


class TilesetError(Exception):
    """The file is not a readable MBTiles tileset."""


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime in ns) of the file, or None when it is missing: a rebuilt file
    has a new identity (it is a new inode, renamed into place)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _connect(path: Path) -> sqlite3.Connection:
    # mode=ro: never writes, never creates an empty database where none was.
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


def read_info(path: Path) -> TilesetInfo:
    """The tileset's metadata; TilesetError when the file is not an MBTiles tileset."""
    try:
        conn = _connect(path)
    except sqlite3.Error as exc:
        raise TilesetError(f"{path}: cannot open ({exc})") from None
    try:
        rows = conn.execute("SELECT name, value FROM metadata").fetchall()
        meta = {str(k): str(v) for k, v in rows}
        zooms = conn.execute("SELECT min(zoom_level), max(zoom_level) FROM tiles").fetchone()
    except sqlite3.Error as exc:
        raise TilesetError(f"{path}: not an MBTiles tileset ({exc})") from None
    finally:
        conn.close()
    if zooms is None or zooms[0] is None:
        raise TilesetError(f"{path}: the tileset holds no tiles")
    return TilesetInfo(
        name=meta.get("name", "basemap"),
        minzoom=int(zooms[0]),
        maxzoom=int(zooms[1]),
        bounds=_floats(meta.get("bounds"), 4),  # type: ignore[arg-type]
        center=_floats(meta.get("center"), 3),  # type: ignore[arg-type]
        attribution=meta.get("attribution", ""),
        vector_layers=_vector_layers(meta.get("json")),
    )


def count_tiles(path: Path) -> int:
    """How many tiles the file holds; TilesetError when it is no MBTiles tileset."""
    try:
        conn = _connect(path)
        try:
            return int(conn.execute("SELECT count(*) FROM tiles").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise TilesetError(f"{path}: not an MBTiles tileset ({exc})") from None


def tile_coords(path: Path) -> list[tuple[int, int, int]]:
    """Every tile the file holds, as XYZ (z, x, y)."""
    conn = _connect(path)
    try:
        rows = conn.execute("SELECT zoom_level, tile_column, tile_row FROM tiles").fetchall()
    finally:
        conn.close()
    return [(int(z), int(x), (1 << int(z)) - 1 - int(row)) for z, x, row in rows]


def _floats(raw: str | None, n: int) -> tuple[float, ...] | None:
    try:
        values = tuple(float(v) for v in (raw or "").split(","))
    except ValueError:
        return None
    return values if len(values) == n else None


def _vector_layers(raw: str | None) -> list[dict[str, Any]]:
    try:
        layers = json.loads(raw or "{}").get("vector_layers", [])
    except (ValueError, AttributeError):
        return []
    if not isinstance(layers, list):
        return []
    return [layer for layer in layers if isinstance(layer, dict)]


class TileReader:
    """Reads tiles from one MBTiles path, from any number of threads (a connection each)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def read(self, identity: tuple[int, int, int], z: int, x: int, y: int) -> bytes | None:
        """The stored tile (usually gzip-compressed MVT), or None where the file has none.
        `identity` is the file's, as the caller last saw it: a new one reopens the file."""
        try:
            conn = self._connection(identity)
            row = conn.execute(
                "SELECT tile_data FROM tiles"
                " WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, (1 << z) - 1 - y),
            ).fetchone()
        except sqlite3.Error as exc:
            self._local.identity = None  # reopen next time
            raise TilesetError(f"{self.path}: {exc}") from None
        return None if row is None else bytes(row[0])

    def _connection(self, identity: tuple[int, int, int]) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "identity", None) != identity:
            old = getattr(local, "conn", None)
            if old is not None:
                old.close()
            local.conn = _connect(self.path)
            local.identity = identity
        conn: sqlite3.Connection = local.conn
        return conn
