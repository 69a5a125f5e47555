"""`tracker osm import FILE.osm.pbf [--profile car|bike]`: load a road network for routing
(server/usecases/osm_import.py; README, Routing)."""

from __future__ import annotations

import argparse
import asyncio
import json
from time import perf_counter

from server import exit_codes
from server.exit_codes import fail


def cmd_osm_import(args: argparse.Namespace) -> int:
    import asyncpg

    from server.cli import _check_database
    from server.cli_tools import settings_from_env
    from server.store import roads
    from server.store.pool import create_pool
    from server.usecases.osm_import import ImportFailed, import_file, read_graph

    settings = _check_database(settings_from_env())
    started = perf_counter()
    try:
        graph = read_graph(args.file, args.profile)
    except ImportFailed as exc:
        fail(exit_codes.FAILURE, f"osm import: {exc}; the current network is unchanged")
    read_s = perf_counter() - started

    async def run() -> dict[str, object]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            if not await roads.migrated(conn):
                raise ImportFailed("the database is not migrated: run `tracker migrate` first")
        finally:
            await conn.close()
        pool = await create_pool(settings)
        try:
            report = await import_file(pool, args.file, args.profile, graph, read_s)
        finally:
            await pool.close()
        net = report.network
        return {
            "profile": net.profile,
            "generation": net.generation,
            "edges": net.edge_count,
            "vertices": net.vertex_count,
            "length_km": round(net.length_km, 1),
            "ways_read": report.ways_read,
            "forbidden_turns": len(graph.restrictions),
            "read_s": round(report.read_s, 2),
            "load_s": round(report.load_s, 2),
            "total_s": round(perf_counter() - started, 2),
        }

    try:
        print(json.dumps(asyncio.run(run())))
    except ImportFailed as exc:
        fail(exit_codes.FAILURE, f"osm import: {exc}; the current network is unchanged")
    return 0


def cmd_osm_bench(args: argparse.Namespace) -> int:
    from server.bench import routing
    from server.cli import _check_database
    from server.cli_tools import settings_from_env

    settings = _check_database(settings_from_env())
    figures = asyncio.run(routing.run(settings, args.legs, args.runs, args.stops, args.seed))
    print(json.dumps(figures, indent=1))
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    osm = sub.add_parser("osm", help="OpenStreetMap road networks for routing").add_subparsers(
        dest="osm", required=True
    )
    imp = osm.add_parser(
        "import",
        help="load FILE.osm.pbf's roads as the routing network (replaces the current one "
        "atomically, while serving); prints what was loaded and how long it took",
    )
    imp.add_argument("file", help="an OpenStreetMap extract (.osm.pbf, or anything osmium reads)")
    imp.add_argument(
        "--profile", choices=["car", "bike"], default="car", help="vehicle (default car)"
    )
    imp.set_defaults(func=cmd_osm_import)
    bench = osm.add_parser(
        "bench",
        help="time legs (p50/p95 of ~5 km legs) and stop orders (matrix + order) on the "
        "imported network; prints JSON",
    )
    bench.add_argument("--legs", type=int, default=100, help="4-6 km legs to time (default 100)")
    bench.add_argument("--runs", type=int, default=5, help="stop orders to time (default 5)")
    bench.add_argument("--stops", type=int, default=30, help="stops per order (default 30)")
    bench.add_argument("--seed", type=int, default=19)
    bench.set_defaults(func=cmd_osm_bench)
