"""`tracker osm import FILE.osm.pbf`: an OpenStreetMap extract becomes the routing network.

osmium (the C++ tool, Debian `osmium-tool`) keeps the highways and writes them with their
nodes' locations as OPL lines; geo/road_graph.py turns those into junction-to-junction
edges with costs; server/store/roads.py loads them into new tables and swaps them in, in one
transaction. Anything wrong with the file (missing, truncated, not OSM, no roads) stops the
import before the swap: the network being served stays as it was.

Measured on ../shared/data/osm/porto_center.osm.pbf (README, Routing): read 0.7 s, load and
swap 0.3 s, 87 MB peak. osm2pgrouting, the other option, reads only .osm XML (`osmium cat`
first: 0.6 s) and then took 5.7 s and 103 MB for the same file, with its road classes and
speeds in an XML file of its own; here the speed table is one Python dict, tested with the
rest.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from time import perf_counter

import asyncpg

from geo.road_graph import PROFILES, OsmError, RoadGraph
from server.store import roads

log = logging.getLogger("tracker.osm")
OSMIUM_TIMEOUT_S = 3_600.0


class ImportFailed(RuntimeError):
    """The import did not happen; the message says why and what to do. Nothing changed."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    network: roads.Network
    ways_read: int
    read_s: float
    load_s: float
    replaced: list[str]


def read_graph(path: str, profile: str) -> RoadGraph:
    """The file's road graph for `profile` (blocking: run it on a thread)."""
    if profile not in PROFILES:
        raise ImportFailed(f"unknown profile {profile!r}: one of {', '.join(PROFILES)}")
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ImportFailed(f"{path}: no such readable file (an .osm.pbf extract, e.g. from "
                           "download.geofabrik.de)")  # fmt: skip
    osmium = shutil.which("osmium")
    if osmium is None:
        raise ImportFailed(
            "osmium is not installed: apt-get install osmium-tool (./scripts/setup.sh does)"
        )
    try:
        graph = RoadGraph.build(_opl_lines(osmium, path), profile)
    except OsmError as exc:
        raise ImportFailed(f"{path}: {exc}") from None
    if not graph.edges:
        raise ImportFailed(
            f"{path}: no roads for the {profile} profile ({graph.ways_read} highways read): "
            "is it the right extract?"
        )
    return graph


def _opl_lines(osmium: str, path: str) -> Iterator[str]:
    """The file's ways with their nodes' locations, as OPL lines (untagged nodes left out);
    OsmError if osmium fails. One pass, no `tags-filter` before it: that took 850 MB and
    1.4 s on the Porto extract (its id sets), this 31 MB and 0.4 s; the ways that are no
    road are skipped in geo/road_graph.py at the cost of a substring test each."""
    located = subprocess.Popen(
        [
            osmium,
            "add-locations-to-ways",
            path,
            "-f",
            "opl",
            "-o",
            "-",
            "--ignore-missing-nodes",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert located.stdout is not None and located.stderr is not None
    stderr = located.stderr
    errors: list[str] = []
    drain = threading.Thread(target=lambda: errors.append(stderr.read()), daemon=True)
    drain.start()
    try:
        yield from located.stdout
    finally:
        located.stdout.close()
        code = located.wait(OSMIUM_TIMEOUT_S)
        drain.join(10.0)
        stderr.close()
    if code != 0:
        first = "".join(errors).strip().splitlines()[:1] or ["no message"]
        raise OsmError(f"not a readable OSM file (osmium: {first[0]})")


def _edge_records(
    graph: RoadGraph,
) -> Iterator[tuple[int, int, int, float, float, float, str, bytes]]:
    for e in graph.edges:
        yield (e.id, e.source, e.target, e.cost_s, e.reverse_cost_s, e.length_m, e.road_class,
               roads.line_wkb(e.coords))  # fmt: skip


async def import_file(
    pool: asyncpg.Pool, path: str, profile: str, graph: RoadGraph, read_s: float
) -> ImportReport:
    """Load `graph` (read from `path`) as the profile's network, replacing the current one."""
    started = perf_counter()
    async with pool.acquire() as conn:
        try:
            await roads.ensure_pgrouting(conn)
            network, replaced = await roads.replace_network(
                conn,
                profile,
                _edge_records(graph),
                ((node, lon, lat) for node, (lon, lat) in graph.vertices.items()),
                graph.restrictions,
                os.path.basename(path),
                datetime.now(UTC),
            )
        except roads.RoadsUnavailable as exc:
            raise ImportFailed(str(exc)) from None
        except asyncpg.UndefinedTableError:
            raise ImportFailed(
                "the database has no road_networks table: run `tracker migrate` first"
            ) from None
        except ValueError as exc:
            raise ImportFailed(f"{path}: {exc}") from None
        stale = await roads.stale_tables(conn)
        try:
            await roads.drop_tables(conn, stale)
        except asyncpg.LockNotAvailableError:  # still read: the next import drops them
            log.warning("replaced network tables still in use, kept for now: %s", stale)
    return ImportReport(network, graph.ways_read, read_s, perf_counter() - started, replaced)
