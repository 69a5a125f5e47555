"""`tracker tiles build FILE.osm.pbf [--out PATH]`: the self-hosted basemap's tiles."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server import exit_codes


def cmd_tiles_build(args: argparse.Namespace) -> int:
    from server.basemap.build import BuildError, build
    from server.cli_tools import settings_from_env

    out = Path(args.out) if args.out else Path(settings_from_env().tiles_file)
    try:
        built = build(Path(args.file), out, threads=args.threads)
    except BuildError as exc:
        exit_codes.fail(exit_codes.FAILURE, f"tiles build: {exc}; {out} left as it was")
    print(
        f"tiles: {built.tiles} tiles, zoom {built.minzoom}-{built.maxzoom}, "
        f"{built.size_bytes / 1e6:.1f} MB in {built.seconds:.1f} s -> {built.path}",
        file=sys.stderr,
    )
    print(
        json.dumps(
            {
                "path": str(built.path),
                "tiles": built.tiles,
                "size_bytes": built.size_bytes,
                "build_s": round(built.seconds, 3),
                "minzoom": built.minzoom,
                "maxzoom": built.maxzoom,
                "bounds": built.bounds,
            }
        )
    )
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tiles = sub.add_parser("tiles", help="the self-hosted basemap").add_subparsers(
        dest="tiles", required=True
    )
    build = tiles.add_parser(
        "build",
        help="make vector tiles (MBTiles) for an OpenStreetMap extract with tilemaker; the "
        "server serves them at /tiles/{z}/{x}/{y}.pbf and the pages draw them",
    )
    build.add_argument("file", help="an OpenStreetMap extract, FILE.osm.pbf")
    build.add_argument(
        "--out",
        help="the MBTiles file to write (default TRACKER_TILES_FILE, "
        ".local/tiles/basemap.mbtiles); replaced only once the new one is complete",
    )
    build.add_argument(
        "--threads", type=int, default=0, help="tilemaker's threads (default 0: one per core)"
    )
    build.set_defaults(func=cmd_tiles_build)
