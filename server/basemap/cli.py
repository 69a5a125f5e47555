"""`tracker tiles build FILE.osm.pbf [--out PATH]`: the self-hosted basemap's tiles."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from server import exit_codes


def cmd_tiles_build(args: argparse.Namespace) -> int:
    import tempfile

    from server.basemap.build import BuildError, build
    from server.basemap.demo_extract import write_demo_extract
    from server.cli_tools import settings_from_env
    from server.sim.fleet import RUNS_FILE

    if (args.file is None) == (not args.demo_routes):
        exit_codes.fail(exit_codes.USAGE, "tiles build: give FILE.osm.pbf or --demo-routes")
    out = Path(args.out) if args.out else Path(settings_from_env().tiles_file)
    try:
        if args.demo_routes:
            with tempfile.TemporaryDirectory(prefix="tracker-demo-extract-") as work:
                source = Path(work) / "demo_routes.osm.pbf"
                write_demo_extract(RUNS_FILE, source)
                built = build(source, out, threads=args.threads, store=args.store)
        else:
            built = build(Path(args.file), out, threads=args.threads, store=args.store)
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


def cmd_tiles_bench(args: argparse.Namespace) -> int:
    from server.basemap.bench import run
    from server.cli_tools import settings_from_env

    tiles_file = Path(args.file) if args.file else Path(settings_from_env().tiles_file)
    if not tiles_file.is_file():
        exit_codes.fail(exit_codes.FAILURE, f"tiles bench: no tiles file at {tiles_file}")
    result = run(args.url, tiles_file, args.requests, args.concurrency)
    for p in result["passes"]:
        print(
            f"{p['pass']:>17}: {p['requests']} requests, {p['per_s']}/s, "
            f"p50 {p['p50_ms']} ms, p95 {p['p95_ms']} ms, p99 {p['p99_ms']} ms, "
            f"{p['mean_wire_bytes']} B/tile on the wire, statuses {p['statuses']}",
            file=sys.stderr,
        )
    print(json.dumps(result))
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
    build.add_argument("file", nargs="?", help="an OpenStreetMap extract, FILE.osm.pbf")
    build.add_argument(
        "--demo-routes",
        action="store_true",
        help="instead of an extract: the streets the demo fleet drives (server/sim/data), "
        "for a demo without an extract at hand",
    )
    build.add_argument(
        "--out",
        help="the MBTiles file to write (default TRACKER_TILES_FILE, "
        ".local/tiles/basemap.mbtiles); replaced only once the new one is complete",
    )
    build.add_argument(
        "--threads", type=int, default=0, help="tilemaker's threads (default 0: one per core)"
    )
    build.add_argument(
        "--store",
        type=Path,
        help="a folder for tilemaker's node and way store on disk: far less memory, for "
        "country-sized extracts (a temporary file in it, removed afterwards)",
    )
    build.set_defaults(func=cmd_tiles_build)

    bench = tiles.add_parser(
        "bench",
        help="ask a running server for every tile of its file (then revalidate them) and "
        "print requests/s and latency p50/p95/p99",
    )
    bench.add_argument("--url", default="http://127.0.0.1:8000", help="the server")
    bench.add_argument("--file", help="the tiles file it serves (default TRACKER_TILES_FILE)")
    bench.add_argument("--requests", type=int, default=2000)
    bench.add_argument("--concurrency", type=int, default=8, help="clients at once")
    bench.set_defaults(func=cmd_tiles_bench)
