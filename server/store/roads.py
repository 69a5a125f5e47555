"""The road network in PostGIS + pgRouting: the import's swap, legs and travel-time matrices.

Each import builds its network into tables named for it (`roads_<profile>_<generation>_
edges` and `_vertices`) inside one transaction, then points `road_networks` at them: a
router reads the register, then those tables, so it sees the old network or the new one,
never half of one. The tables a register no longer names are dropped after the commit.

Routing runs in the database on a subgraph: the edges whose box meets the box around the
points, widened by a margin. Points are snapped to the nearest vertex of the network's main
strongly connected part (reachable from everywhere and back), at most `max_snap_m` away.
Every query runs under a statement timeout (`SET LOCAL`, the transaction's own).
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from server.store import Conn
from server.store.orders import ORDER_COLUMNS, Order, order_of_row

PROFILE_NAMES = ("car", "bike")
_WKB_LINESTRING = struct.Struct("<BII")
M_PER_DEG_LAT = 111_320.0
# pgr_trsp takes a restricted turn only at this cost (s): where no other way exists at all.
FORBIDDEN_TURN_COST = 100_000.0


class RoadsUnavailable(RuntimeError):
    """No network to route on; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Network:
    profile: str
    generation: int
    edges_table: str
    vertices_table: str
    source_file: str
    imported_at: datetime
    edge_count: int
    vertex_count: int
    length_km: float

    @property
    def turns_table(self) -> str:
        """The turns not allowed: (path: from edge, to edge; cost), for pgr_trsp."""
        return self.edges_table.removesuffix("edges") + "turns"


@dataclass(frozen=True, slots=True)
class Snap:
    vertex: int
    lon: float
    lat: float
    distance_m: float


@dataclass(frozen=True, slots=True)
class Piece:
    """One edge of a path, in the direction driven."""

    coords: list[tuple[float, float]]
    cost_s: float
    length_m: float
    edge: int = 0


def line_wkb(coords: Sequence[tuple[float, float]]) -> bytes:
    """A LineString as WKB (little endian), for the import's COPY."""
    head = _WKB_LINESTRING.pack(1, 2, len(coords))
    return head + struct.pack(f"<{2 * len(coords)}d", *(v for c in coords for v in c))


async def pgrouting_version(conn: Conn) -> str | None:
    version = await conn.fetchval("SELECT extversion FROM pg_extension WHERE extname = 'pgrouting'")
    return None if version is None else str(version)


async def ensure_pgrouting(conn: Conn) -> str:
    """Create the extension if the server offers it; RoadsUnavailable if it cannot."""
    version = await pgrouting_version(conn)
    if version is not None:
        return version
    available = await conn.fetchval(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'pgrouting'"
    )
    if available is None:
        raise RoadsUnavailable(
            "pgRouting is not installed on the database server: install it (Debian: "
            "apt-get install postgresql-<major>-pgrouting, or ./scripts/setup.sh) and retry"
        )
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    except asyncpg.InsufficientPrivilegeError as exc:
        raise RoadsUnavailable(
            f"cannot create the pgrouting extension ({exc}): ask a superuser to run "
            "CREATE EXTENSION pgrouting in this database"
        ) from None
    return str(available)


async def network(conn: Conn, profile: str) -> Network | None:
    row = await conn.fetchrow(
        """SELECT profile, generation, edges_table, vertices_table, source_file, imported_at,
                  edge_count, vertex_count, length_km
           FROM road_networks WHERE profile = $1""",
        profile,
    )
    return None if row is None else Network(**dict(row))


async def replace_network(
    conn: Conn,
    profile: str,
    edges: Iterable[tuple[int, int, int, float, float, float, str, bytes]],
    vertices: Iterable[tuple[int, float, float]],
    turns: Iterable[tuple[int, int]],
    source_file: str,
    at: datetime,
) -> tuple[Network, list[str]]:
    """Build the new network's tables and swap them in, in one transaction. Returns the new
    network and the tables it replaced (for `drop_tables`, after the commit)."""
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}")
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(19, 0)")  # one import at a time
        generation = await conn.fetchval(
            "SELECT coalesce(max(generation), 0) + 1 FROM road_networks WHERE profile = $1",
            profile,
        )
        e, v = f"roads_{profile}_{generation}_edges", f"roads_{profile}_{generation}_vertices"
        t = f"roads_{profile}_{generation}_turns"
        await conn.execute(
            """CREATE TEMP TABLE roads_edges_in (id integer, source bigint, target bigint,
                 cost_s float8, reverse_cost_s float8, length_m float8, road_class text,
                 wkb bytea) ON COMMIT DROP;
               CREATE TEMP TABLE roads_vertices_in (id bigint, lon float8, lat float8)
                 ON COMMIT DROP;
               CREATE TEMP TABLE roads_turns_in (from_edge bigint, to_edge bigint)
                 ON COMMIT DROP"""
        )
        await conn.copy_records_to_table("roads_edges_in", records=edges)
        await conn.copy_records_to_table("roads_vertices_in", records=vertices)
        await conn.copy_records_to_table("roads_turns_in", records=turns)
        await conn.execute(
            f"""DROP TABLE IF EXISTS {e}, {v}, {t};
            CREATE TABLE {t} AS SELECT row_number() OVER () AS id,
                ARRAY[from_edge, to_edge] AS path, {FORBIDDEN_TURN_COST}::float8 AS cost
              FROM roads_turns_in;
            CREATE TABLE {e} AS SELECT id, source, target, cost_s, reverse_cost_s, length_m,
                road_class, ST_GeomFromWKB(wkb, 4326)::geometry(LineString, 4326) AS geom
              FROM roads_edges_in;
            ALTER TABLE {e} ADD PRIMARY KEY (id);
            CREATE INDEX ON {e} USING gist (geom);
            CREATE TABLE {v} AS SELECT id,
                ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geometry(Point, 4326) AS geom,
                false AS main
              FROM roads_vertices_in;
            ALTER TABLE {v} ADD PRIMARY KEY (id);
            WITH parts AS (
              SELECT component, node FROM pgr_strongComponents(
                'SELECT id, source, target, cost_s AS cost, reverse_cost_s AS reverse_cost
                 FROM {e}')),
            biggest AS (
              SELECT component FROM parts GROUP BY component ORDER BY count(*) DESC LIMIT 1)
            UPDATE {v} SET main = true
              WHERE id IN (SELECT node FROM parts JOIN biggest USING (component));
            CREATE INDEX ON {v} USING gist (geom) WHERE main;
            ANALYZE {e}; ANALYZE {v}"""
        )
        counts = await conn.fetchrow(
            f"""SELECT (SELECT count(*) FROM {e}) AS edges,
                       (SELECT count(*) FROM {v} WHERE main) AS main,
                       (SELECT count(*) FROM {v}) AS vertices,
                       (SELECT coalesce(sum(length_m), 0) / 1000 FROM {e}) AS km,
                       (SELECT ST_AsEWKT(ST_Envelope(ST_Collect(geom))) FROM {v}) AS bbox"""
        )
        assert counts is not None
        if counts["main"] == 0:
            raise ValueError("the file holds no connected roads for this profile")
        old = await conn.fetchrow(
            "SELECT edges_table, vertices_table FROM road_networks WHERE profile = $1 FOR UPDATE",
            profile,
        )
        await conn.execute(
            """INSERT INTO road_networks (profile, generation, edges_table, vertices_table,
                 source_file, imported_at, edge_count, vertex_count, length_km, bbox)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ST_GeomFromEWKT($10))
               ON CONFLICT (profile) DO UPDATE SET generation = EXCLUDED.generation,
                 edges_table = EXCLUDED.edges_table, vertices_table = EXCLUDED.vertices_table,
                 source_file = EXCLUDED.source_file, imported_at = EXCLUDED.imported_at,
                 edge_count = EXCLUDED.edge_count, vertex_count = EXCLUDED.vertex_count,
                 length_km = EXCLUDED.length_km, bbox = EXCLUDED.bbox""",
            profile,
            generation,
            e,
            v,
            source_file,
            at,
            counts["edges"],
            counts["vertices"],
            float(counts["km"]),
            counts["bbox"],
        )
    replaced = [old["edges_table"], old["vertices_table"]] if old is not None else []
    net = Network(profile, generation, e, v, source_file, at, counts["edges"],
                  counts["vertices"], float(counts["km"]))  # fmt: skip
    return net, replaced


async def stale_tables(conn: Conn) -> list[str]:
    """Network tables no register row names (replaced, or left by a failed drop)."""
    rows = await conn.fetch(
        r"""SELECT tablename FROM pg_tables
            WHERE schemaname = current_schema()
              AND tablename ~ '^roads_[a-z]+_\d+_(edges|vertices|turns)$'
              AND tablename NOT IN (SELECT edges_table FROM road_networks
                                    UNION ALL SELECT vertices_table FROM road_networks
                                    UNION ALL SELECT regexp_replace(edges_table, 'edges$', 'turns')
                                              FROM road_networks)"""
    )
    return [r["tablename"] for r in rows]


async def drop_tables(conn: Conn, names: Sequence[str], lock_timeout_ms: int = 5_000) -> None:
    """Drop replaced network tables (waits at most `lock_timeout_ms` for routers still
    reading them)."""
    for name in names:
        if not name.startswith("roads_"):
            raise ValueError(f"not a network table: {name!r}")
        async with conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            await conn.execute(f'DROP TABLE IF EXISTS "{name}"')


def edges_sql(net: Network, box: tuple[float, float, float, float] | None, by: str) -> str:
    """pgRouting's edges query: the network's edges (within `box`, if given), costed by
    travel time (`by="time"`) or length (`"length"`)."""
    if by == "time":
        costs = "cost_s AS cost, reverse_cost_s AS reverse_cost"
    else:
        costs = (
            "length_m AS cost, "
            "CASE WHEN reverse_cost_s < 0 THEN -1 ELSE length_m END AS reverse_cost"
        )
    where = ""
    if box is not None:
        w, s, e, n = (float(x) for x in box)
        if not all(math.isfinite(x) for x in box):
            raise ValueError("box must be finite")
        where = f" WHERE geom && ST_MakeEnvelope({w!r}, {s!r}, {e!r}, {n!r}, 4326)"
    return f"SELECT id, source, target, {costs} FROM {net.edges_table}{where}"


def box_around(
    points: Sequence[tuple[float, float]], margin_m: float
) -> tuple[float, float, float, float]:
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    dlat = margin_m / M_PER_DEG_LAT
    dlon = margin_m / (M_PER_DEG_LAT * max(math.cos(math.radians(max(map(abs, lats)))), 0.01))
    return min(lons) - dlon, min(lats) - dlat, max(lons) + dlon, max(lats) + dlat


async def snap(conn: Conn, net: Network, points: Sequence[tuple[float, float]]) -> list[Snap]:
    """The nearest main vertex to each point (lon, lat), in order."""
    rows = await conn.fetch(
        f"""SELECT v.id, ST_X(v.geom) AS lon, ST_Y(v.geom) AS lat,
                   ST_Distance(v.geom::geography, p.g::geography) AS d
            FROM (SELECT i, ST_SetSRID(ST_MakePoint(x, y), 4326) AS g
                  FROM unnest($1::float8[], $2::float8[]) WITH ORDINALITY AS t(x, y, i)) p
            CROSS JOIN LATERAL (SELECT id, geom FROM {net.vertices_table} WHERE main
                                ORDER BY geom <-> p.g LIMIT 1) v
            ORDER BY p.i""",
        [p[0] for p in points],
        [p[1] for p in points],
    )
    return [Snap(r["id"], r["lon"], r["lat"], r["d"]) for r in rows]


async def path(
    conn: Conn,
    net: Network,
    source: int,
    target: int,
    box: tuple[float, float, float, float] | None,
) -> list[Piece]:
    """The fastest path's edges from vertex `source` to `target`, in order, each oriented
    as driven; [] when there is none within the box."""
    rows = await conn.fetch(
        f"""SELECT e.id, e.length_m,
                   CASE WHEN p.node = e.source THEN e.cost_s ELSE e.reverse_cost_s END AS cost_s,
                   ST_AsGeoJSON(CASE WHEN p.node = e.source THEN e.geom
                                     ELSE ST_Reverse(e.geom) END, 7) AS line
            FROM pgr_trsp($1, $4, $2::bigint, $3::bigint, true) p
            JOIN {net.edges_table} e ON e.id = p.edge
            ORDER BY p.seq""",
        edges_sql(net, box, "time"),
        source,
        target,
        f"SELECT id, path, cost FROM {net.turns_table}",
    )
    return [
        Piece(
            [(c[0], c[1]) for c in json.loads(r["line"])["coordinates"]],
            r["cost_s"],
            r["length_m"],
            r["id"],
        )
        for r in rows
    ]


async def matrix(
    conn: Conn,
    net: Network,
    vertices: Sequence[int],
    box: tuple[float, float, float, float] | None,
    by: str,
) -> dict[tuple[int, int], float]:
    """Travel time (s) or length (m) between every ordered pair of distinct `vertices`
    that are connected within the box."""
    rows = await conn.fetch(
        "SELECT start_vid, end_vid, agg_cost FROM pgr_dijkstraCostMatrix($1, $2::bigint[], true)",
        edges_sql(net, box, by),
        sorted(set(vertices)),
    )
    return {(r["start_vid"], r["end_vid"]): r["agg_cost"] for r in rows}


async def set_statement_timeout(conn: Conn, timeout_ms: int) -> None:
    """Inside a transaction: this transaction's statements stop after `timeout_ms`."""
    await conn.execute(f"SET LOCAL statement_timeout = {int(timeout_ms)}")


async def set_leg(conn: Conn, order_id: int, driver_id: int, was: Any, route: Any) -> Order | None:
    """Put a routed leg (None: none, back to the provisional line) on the order, if it is
    still on the driver's run with the route it was routed for (`was`): a change made
    meanwhile (a dispatcher's route, another process's leg) wins. None if not changed."""
    row = await conn.fetchrow(
        f"""UPDATE orders SET route = $3::jsonb
            WHERE id = $1 AND driver_id = $2 AND stop_index IS NOT NULL
              AND route IS NOT DISTINCT FROM $4::jsonb AND route IS DISTINCT FROM $3::jsonb
            RETURNING {ORDER_COLUMNS}""",
        order_id,
        driver_id,
        route,
        was,
    )
    return None if row is None else order_of_row(row)


async def remove_network(conn: Conn, profile: str) -> None:
    """Forget the profile's network and drop its tables (legs become provisional)."""
    async with conn.transaction():
        row = await conn.fetchrow(
            "DELETE FROM road_networks WHERE profile = $1 RETURNING edges_table, vertices_table",
            profile,
        )
        if row is not None:
            turns = str(row[0]).removesuffix("edges") + "turns"
            await conn.execute(f'DROP TABLE IF EXISTS "{row[0]}", "{row[1]}", "{turns}"')


async def main_vertices(conn: Conn, net: Network) -> list[tuple[float, float]]:
    """Every routable vertex (lon, lat): for benchmarks' random legs."""
    rows = await conn.fetch(
        f"SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM {net.vertices_table} WHERE main"
    )
    return [(r["lon"], r["lat"]) for r in rows]


async def migrated(conn: Conn) -> bool:
    """The database has the networks' register (migration 0017)."""
    return bool(await conn.fetchval("SELECT to_regclass('road_networks') IS NOT NULL"))
