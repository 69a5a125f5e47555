"""Vector tiles for an OpenStreetMap extract: tilemaker (Debian's `tilemaker` package, 2.x)
with this folder's config.json and process.lua, into an MBTiles file.

The input is checked first (it exists, it is an OSM PBF file: its first block is an
`OSMHeader`), tilemaker writes a temporary file beside the output, the result is checked
(it holds tiles), and only then is it renamed over the output: a failed build leaves the
old tiles in place, and a running server switches to the new ones whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from server.store.tiles import TilesetError, count_tiles, read_info

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "config.json"
PROCESS = HERE / "process.lua"
TILEMAKER = "tilemaker"
INSTALL = "install tilemaker: apt-get install tilemaker (./scripts/setup.sh does it)"


class BuildError(Exception):
    """A build that did not happen, saying why and what to do."""


@dataclass(frozen=True)
class Built:
    path: Path
    tiles: int
    size_bytes: int
    seconds: float
    minzoom: int
    maxzoom: int
    bounds: tuple[float, float, float, float] | None


def check_pbf(path: Path) -> None:
    """BuildError unless `path` looks like an OSM PBF file: a 4-byte big-endian length,
    then a BlobHeader whose type is "OSMHeader" (the format's first block)."""
    try:
        with path.open("rb") as f:
            head = f.read(4)
            if len(head) < 4:
                raise BuildError(f"{path}: empty or too short to be an .osm.pbf file")
            (length,) = struct.unpack(">I", head)
            header = f.read(min(length, 64 * 1024))
    except FileNotFoundError:
        raise BuildError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BuildError(f"{path}: is a directory, not an .osm.pbf file") from None
    except OSError as exc:
        raise BuildError(f"{path}: cannot read it ({exc.strerror})") from None
    # BlobHeader field 1 (type, a string): tag 0x0a, length 9, "OSMHeader".
    if not 0 < length <= 64 * 1024 or not header.startswith(b"\x0a\x09OSMHeader"):
        raise BuildError(
            f"{path}: not an OpenStreetMap PBF extract (it should start with an OSMHeader "
            "block; .osm XML and other formats are not read: convert with osmium cat)"
        )


def tilemaker_path() -> str:
    found = shutil.which(TILEMAKER)
    if found is None:
        raise BuildError(f"tilemaker is not installed: {INSTALL}")
    return found


def build(source: Path, out: Path, *, threads: int = 0, store: Path | None = None) -> Built:
    """Build `out` from `source`; BuildError (with `out` untouched) when it cannot.
    `store`: a folder for tilemaker's node and way store (less memory, for big extracts)."""
    check_pbf(source)
    tilemaker = tilemaker_path()
    out = out.absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"cannot create {out.parent}: {exc.strerror}") from None
    started = time.monotonic()
    # Beside the output (the rename stays on one file system); tilemaker picks MBTiles
    # output by the .mbtiles suffix, and would merge into an existing file: a fresh name.
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".mbtiles", dir=out.parent)
    except OSError as exc:
        raise BuildError(f"cannot write in {out.parent}: {exc.strerror}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        with contextlib.ExitStack() as scratch:
            work = scratch.enter_context(tempfile.TemporaryDirectory(prefix="tiles-build-"))
            command = [tilemaker, "--input", str(source.absolute()), "--output", str(tmp)]
            command += ["--config", str(CONFIG), "--process", str(PROCESS)]
            command += ["--threads", str(threads)]
            if store is not None:  # a fresh folder in it, removed afterwards
                try:
                    store.mkdir(parents=True, exist_ok=True)
                    mine = scratch.enter_context(tempfile.TemporaryDirectory(dir=store))
                except OSError as exc:
                    raise BuildError(f"cannot use --store {store}: {exc.strerror}") from None
                command += ["--store", str(Path(mine) / "store")]
            result = subprocess.run(
                command,
                cwd=work,  # tilemaker may leave scratch files in its working directory
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                check=False,
            )
        if result.returncode != 0:
            tail = (result.stderr.strip() or result.stdout.strip()).splitlines()[-3:]
            raise BuildError(
                f"tilemaker failed on {source} (exit {result.returncode}): "
                + " / ".join(line.strip()[-200:] for line in tail)
                + " (a truncated or damaged extract? download it again)"
            )
        try:
            tiles = count_tiles(tmp)
            info = read_info(tmp)
        except (TilesetError, OSError) as exc:
            raise BuildError(f"tilemaker wrote no usable tiles from {source}: {exc}") from None
        if tiles == 0:
            raise BuildError(f"{source} holds nothing to draw (no streets, water or buildings)")
        tmp.chmod(0o644)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return Built(
        path=out,
        tiles=tiles,
        size_bytes=out.stat().st_size,
        seconds=time.monotonic() - started,
        minzoom=info.minzoom,
        maxzoom=info.maxzoom,
        bounds=info.bounds,
    )
