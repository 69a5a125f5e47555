"""`tracker osm import FILE.osm.pbf`: an OpenStreetMap extract becomes the routing network.

osmium (the C++ tool, Debian `osmium-tool`) keeps the highways and writes them with their
nodes' locations as OPL lines; geo/road_graph.py turns those into junction-to-junction
edges with costs; server/store/roads.py loads them into new tables and swaps them in, in one
transaction. Anything wrong with the file (missing, truncated, not OSM, no roads) stops the
import before the swap: the network being served stays as it was.

Measured on ../shared/data/osm/porto_center.osm.pbf (README, Routing): osmium 0.1 s, graph
0.2 s, load and swap ~1 s. osm2pgrouting (the other option) reads only .osm XML, so a pbf
goes through `osmium cat` first, and it needs its own XML configuration for classes and
speeds; this way the speed table lives in one Python dict, tested with the rest.
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
    """osmium's highways with node locations, as OPL lines; OsmError if osmium fails."""
    filtered = subprocess.Popen(
        [osmium, "tags-filter", path, "w/highway", "-f", "pbf", "-o", "-", "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    located = subprocess.Popen(
        [
            osmium,
            "add-locations-to-ways",
            "-F",
            "pbf",
            "-",
            "-f",
            "opl",
            "-o",
            "-",
            "--ignore-missing-nodes",
            "--no-progress",
        ],
        stdin=filtered.stdout,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert filtered.stdout is not None and located.stdout is not None
    filtered.stdout.close()  # the second process owns it now
    errors: dict[str, bytes | str] = {}

    def drain(name: str, process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        errors[name] = process.stderr.read()

    drains = [threading.Thread(target=drain, args=(n, p), daemon=True)
              for n, p in (("filter", filtered), ("locate", located))]  # fmt: skip
    for thread in drains:
        thread.start()
    try:
        yield from located.stdout
    finally:
        located.stdout.close()
        codes = (filtered.wait(OSMIUM_TIMEOUT_S), located.wait(OSMIUM_TIMEOUT_S))
        for thread in drains:
            thread.join(10.0)
    if codes != (0, 0):
        said = errors.get("filter") or errors.get("locate") or b""
        text = said.decode(errors="replace") if isinstance(said, bytes) else said
        first = text.strip().splitlines()[:1] or ["no message"]
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
                os.path.basename(path),
                datetime.now(UTC),
            )
        except roads.RoadsUnavailable as exc:
            raise ImportFailed(str(exc)) from None
        except ValueError as exc:
            raise ImportFailed(f"{path}: {exc}") from None
        stale = await roads.stale_tables(conn)
        try:
            await roads.drop_tables(conn, stale)
        except asyncpg.LockNotAvailableError:  # still read: the next import drops them
            log.warning("replaced network tables still in use, kept for now: %s", stale)
    return ImportReport(network, graph.ways_read, read_s, perf_counter() - started, replaced)
