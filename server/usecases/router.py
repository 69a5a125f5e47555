"""Routing questions to the road network in PostGIS: a leg between two points, a travel-time
matrix between many. Every answer comes from the database (pgRouting on a bounded
subgraph, server/store/roads.py) under a statement timeout, with at most
`routing_concurrency` queries at once: never on the event loop, never unbounded.

A leg that cannot be routed comes back as None with a reason a dispatcher can act on (no
network imported, pgRouting missing, a point off the network, no path, too slow); the
caller keeps its provisional line.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from geo.legs import leg_route
from server.base.settings import Settings
from server.store import Conn, roads

log = logging.getLogger("tracker.routing")
NETWORK_RECHECK_S = 5.0  # a re-import is picked up within this
NO_NETWORK = "no road network: import one with `tracker osm import FILE.osm.pbf`"
NO_PGROUTING = "pgRouting is not installed in the database (README, Routing)"
NOWHERE = frozenset({NO_NETWORK, NO_PGROUTING})  # notes that hold for every leg
LegAnswer = tuple[dict[str, Any] | None, str | None]  # (the leg as GeoJSON, or why not)


@dataclass(frozen=True, slots=True)
class Matrix:
    """Times (s) and lengths (m) between points, math.inf where there is no path; `note`
    says why the matrix is empty."""

    time_s: list[list[float]]
    length_m: list[list[float]]
    note: str | None = None


class Router:
    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self._pool = pool
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.routing_concurrency)
        self._network: tuple[float, roads.Network | None, str | None] | None = None

    async def _current(self, conn: Conn) -> tuple[roads.Network | None, str | None]:
        cached = self._network
        if cached is not None and time.monotonic() - cached[0] < NETWORK_RECHECK_S:
            return cached[1], cached[2]
        net: roads.Network | None = None
        note: str | None = NO_PGROUTING
        if await roads.pgrouting_version(conn) is not None:
            net = await roads.network(conn, self._settings.routing_profile)
            note = None if net is not None else NO_NETWORK
        self._network = (time.monotonic(), net, note)
        return net, note

    async def leg(self, start: tuple[float, float], end: tuple[float, float]) -> LegAnswer:
        """The fastest leg from `start` to `end` (lon, lat) with per-vertex times, or why
        there is none."""
        known = self._known_absent()
        if known is not None:
            return None, known
        for attempt in (1, 2):
            try:
                answer: LegAnswer = await self._guarded(self._leg, start, end)
                return answer
            except asyncpg.UndefinedTableError:  # a re-import dropped what we read of
                self._network = None
                if attempt == 2:
                    return None, "the road network was being replaced; try again"
        raise AssertionError("unreachable")

    async def matrix(self, points: Sequence[tuple[float, float]]) -> Matrix:
        known = self._known_absent()
        if known is not None:
            return _empty(len(points), known)
        try:
            matrix: Matrix = await self._guarded(self._matrix, points)
            return matrix
        except asyncpg.UndefinedTableError:
            self._network = None
            return _empty(len(points), "the road network was being replaced; try again")

    def _known_absent(self) -> str | None:
        """Why there is no network, if that was found out within NETWORK_RECHECK_S: a
        server without one answers every leg at once, without a database round trip."""
        cached = self._network
        if cached is None or cached[1] is not None:
            return None
        return cached[2] if time.monotonic() - cached[0] < NETWORK_RECHECK_S else None

    async def _guarded(self, work: Any, *args: Any) -> Any:
        timeout_s = self._settings.routing_timeout_s
        async with self._slots:
            try:
                async with asyncio.timeout(timeout_s + 1.0):
                    async with self._pool.acquire() as conn, conn.transaction():
                        await roads.set_statement_timeout(conn, int(timeout_s * 1000))
                        return await work(conn, *args)
            except asyncpg.QueryCanceledError:
                return self._failed(work, args, f"routing took longer than {timeout_s:g} s")
            except asyncpg.UndefinedFunctionError:
                self._network = None
                return self._failed(work, args, NO_PGROUTING)
            except asyncpg.UndefinedTableError:
                raise
            except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
                log.warning("routing failed: %r", exc)
                return self._failed(work, args, f"routing failed ({type(exc).__name__})")

    def _failed(self, work: Any, args: tuple[Any, ...], note: str) -> Any:
        return _empty(len(args[0]), note) if work == self._matrix else (None, note)

    async def _leg(
        self, conn: Conn, start: tuple[float, float], end: tuple[float, float]
    ) -> LegAnswer:
        net, note = await self._current(conn)
        if net is None:
            return None, note
        snaps = await roads.snap(conn, net, [start, end])
        far = self._off_network(snaps)
        if far is not None:
            return None, far
        a, b = snaps
        pieces: list[roads.Piece] = []
        if a.vertex != b.vertex:
            margin = self._settings.routing_margin_m
            for widen in (1.0, 4.0):
                box = roads.box_around([start, end], margin * widen)
                pieces = await roads.path(conn, net, a.vertex, b.vertex, box)
                if pieces:
                    break
            if not pieces:
                return None, "no road path between the points on the network"
        parts = [(p.coords, p.cost_s, p.length_m) for p in pieces]
        if sum(len(p.coords) for p in pieces) > 500:  # a long leg: joined off the loop
            return await asyncio.to_thread(leg_route, start, end, parts, profile=net.profile), None
        return leg_route(start, end, parts, profile=net.profile), None

    def _off_network(self, snaps: Sequence[roads.Snap]) -> str | None:
        limit = self._settings.routing_max_snap_m
        start, destination = snaps
        if destination.distance_m > limit:  # the same whatever the start: one note per order
            return (f"the destination is {destination.distance_m:.0f} m from the nearest road "
                    f"of the network (limit {limit:g} m): outside the imported area?")  # fmt: skip
        if start.distance_m > limit:
            return (f"the start is more than {limit:g} m from the nearest road of the "
                    "network: outside the imported area?")  # fmt: skip
        return None

    async def _matrix(self, conn: Conn, points: Sequence[tuple[float, float]]) -> Matrix:
        net, note = await self._current(conn)
        if net is None:
            return _empty(len(points), note)
        snaps = await roads.snap(conn, net, points)
        limit = self._settings.routing_max_snap_m
        off = [i for i, s in enumerate(snaps) if s.distance_m > limit]
        if off:
            return _empty(len(points), f"points {off} are more than {limit:g} m from the network")
        box = roads.box_around(points, self._settings.routing_margin_m)
        vertices = [s.vertex for s in snaps]
        times = await roads.matrix(conn, net, vertices, box, "time")
        lengths = await roads.matrix(conn, net, vertices, box, "length")
        n = len(points)
        time_s = [[0.0] * n for _ in range(n)]
        length_m = [[0.0] * n for _ in range(n)]
        speed = 3.0  # the connectors: as geo/legs.py
        for i, si in enumerate(snaps):
            for j, sj in enumerate(snaps):
                if i == j:
                    continue
                connect_m = si.distance_m + sj.distance_m
                if si.vertex == sj.vertex:
                    t, d = 0.0, 0.0
                else:
                    t = times.get((si.vertex, sj.vertex), math.inf)
                    d = lengths.get((si.vertex, sj.vertex), math.inf)
                time_s[i][j] = t + connect_m / speed
                length_m[i][j] = d + connect_m
        return Matrix(time_s, length_m)


def _empty(n: int, note: str | None) -> Matrix:
    return Matrix([[math.inf] * n for _ in range(n)], [[math.inf] * n for _ in range(n)], note)
