"""SQL of the bottleneck layers and the hour-of-week heat maps (docs/api.md,
"Bottlenecks"). The layers read only the rollup (server/store/insight_rollup.py); the `late`
heat map counts delivery outcomes in `order_events` (through its partial index by time),
at their exact times, so that zones with half-hour offsets get their own hours.

Every layer answers cells of the rollup's grid as GeoJSON polygons (EPSG:4326, made by
PostGIS from the cell's square in its UTM zone) with the layer's figures, worst first, at
most `limit` of them. The `slow` layer and heat map are weighed against the learned speed
profile, which the database does not hold: SLOW_ROWS_SQL answers the range's travel per
cell and hour of the week as arrays, server/usecases/slow_cells.py ranks them, and
CELL_GEOMETRY_SQL draws only the cells it keeps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from geo.lost_time import CellHours
from server.store import Conn

_CELL_GEOJSON = (
    "ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(ix * $C, iy * $C, (ix + 1) * $C, (iy + 1) * $C,"
    " epsg), 4326), 6)"
)


def _geometry(cell_param: str) -> str:
    return _CELL_GEOJSON.replace("$C", cell_param)


# The rollup hours that the range ($1..$2) or the baseline (the $3 s up to $2) touch.
_IN_RANGE = "hour_at > $1::timestamptz - interval '1 hour' AND hour_at <= $2"
_IN_BASELINE = "hour_at > $2::timestamptz - make_interval(secs => $3)"
_TOUCHED = (
    "hour_at > least($1::timestamptz - interval '1 hour',"
    " $2::timestamptz - make_interval(secs => $3)) AND hour_at <= $2"
)

# $1 from, $2 to, $3 cell_m, $4 limit
DWELL_SQL = f"""
SELECT epsg, ix, iy, count(*) AS stops, count(DISTINCT driver_id) AS drivers,
       sum(dwell_s)::float8 AS total_s,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell_s) AS median_s,
       max(dwell_s)::float8 AS max_s, {_geometry("$3")} AS geometry
FROM insight_dwells
WHERE started_at >= $1 AND started_at <= $2
GROUP BY epsg, ix, iy
ORDER BY total_s DESC, epsg, ix, iy
LIMIT $4"""

# Deliveries and failed attempts in [$1, $2]; late: delivered after the promise (the
# window's end, else promised_by: server/domain/lateness.py's due_by).
_OUTCOMES = """
WITH outcomes AS (
    SELECT e.at, e.status = 'failed' AS failed,
           (e.status = 'delivered' AND e.at > coalesce(o.window_end, o.promised_by)) AS late,
           o.destination AS geom
    FROM order_events e JOIN orders o ON o.id = e.order_id
    WHERE e.status IN ('delivered', 'failed') AND e.at >= $1 AND e.at <= $2
)"""

# $3 cell_m, $4 limit; from the rollup (server/store/insight_rollup.py, OUTCOMES_SQL)
LATE_SQL = f"""
SELECT epsg, ix, iy, sum(delivered)::bigint AS delivered, sum(late)::bigint AS late,
       sum(failed)::bigint AS failed, {_geometry("$3")} AS geometry
FROM insight_outcomes
WHERE hour_at > $1::timestamptz - interval '1 hour' AND hour_at <= $2
GROUP BY epsg, ix, iy
HAVING sum(late) + sum(failed) > 0
ORDER BY sum(late) + sum(failed) DESC, epsg, ix, iy
LIMIT $4"""

# Hour of the week in zone $Z: 0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00.
_HOW = (
    "((extract(isodow FROM {t} AT TIME ZONE $Z)::int - 1) * 24"
    " + extract(hour FROM {t} AT TIME ZONE $Z)::int)"
)


def _how(t: str, zone_param: str) -> str:
    return _HOW.format(t=t).replace("$Z", zone_param)


# $3 zone
LATE_HEAT_SQL = (
    _OUTCOMES
    + f"""
SELECT {_how("at", "$3")} AS how, count(*) FILTER (WHERE late OR failed) AS value,
       count(*) AS count
FROM outcomes GROUP BY 1"""
)

# $3 zone
DWELL_HEAT_SQL = f"""
SELECT {_how("started_at", "$3")} AS how, sum(dwell_s)::float8 AS value, count(*) AS count
FROM insight_dwells WHERE started_at >= $1 AND started_at <= $2
GROUP BY 1"""

# $3 baseline s, $4 least steps in the range, $5 zone. The range's travel per cell and hour
# of the week (in UTC, the speed profile's, and in zone $5) of the cells with at least $4
# steps in the range, each with its usual speed over the baseline (0: none): one row of
# arrays (geo/lost_time.py's CellHours), one pass over the rollup hours touched.
SLOW_ROWS_SQL = f"""
WITH touched AS MATERIALIZED (
    SELECT epsg, ix, iy, hour_at, moving_s, moving_m, steps, {_IN_RANGE} AS ranged,
           {_IN_BASELINE} AS based
    FROM insight_cells WHERE {_TOUCHED}
), cells AS (
    SELECT epsg, ix, iy,
           coalesce(sum(moving_m) FILTER (WHERE based)::float8
                    / nullif(sum(moving_s) FILTER (WHERE based), 0), 0) AS usual_mps
    FROM touched GROUP BY epsg, ix, iy
    HAVING coalesce(sum(steps) FILTER (WHERE ranged), 0) >= $4
       AND sum(moving_s) FILTER (WHERE ranged) > 0
), hours AS (  -- each hour of the range once, not once per cell
    SELECT h AS hour_at, {_how("h", "'UTC'")} AS utc_how, {_how("h", "$5")} AS how
    FROM generate_series(date_trunc('hour', $1::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
                         $2::timestamptz, interval '1 hour') h
), cell_hours AS (
    SELECT t.epsg, t.ix, t.iy, hours.utc_how, hours.how, sum(t.moving_s)::float8 AS s,
           sum(t.moving_m)::float8 AS m, sum(t.steps)::bigint AS n, min(c.usual_mps) AS usual_mps
    FROM touched t JOIN cells c USING (epsg, ix, iy) JOIN hours USING (hour_at)
    GROUP BY t.epsg, t.ix, t.iy, hours.utc_how, hours.how
)
SELECT coalesce(array_agg(epsg), '{{}}') AS epsg, coalesce(array_agg(ix), '{{}}') AS ix,
       coalesce(array_agg(iy), '{{}}') AS iy, coalesce(array_agg(utc_how), '{{}}') AS utc_how,
       coalesce(array_agg(how), '{{}}') AS how, coalesce(array_agg(s), '{{}}') AS s,
       coalesce(array_agg(m), '{{}}') AS m, coalesce(array_agg(n), '{{}}') AS n,
       coalesce(array_agg(usual_mps), '{{}}') AS usual_mps
FROM cell_hours"""

# $1 zones, $2 ix, $3 iy (arrays), $4 cell_m: each cell's polygon, in the order given.
CELL_GEOMETRY_SQL = f"""
SELECT {_geometry("$4::float8")} AS geometry
FROM unnest($1::int[], $2::int[], $3::int[]) WITH ORDINALITY AS c(epsg, ix, iy, i)
ORDER BY i"""


# PostGIS calls make these plans look costly enough for JIT compilation, which then costs
# far more than the query (seconds); they read a small rollup, not the history.
NO_JIT = "SET LOCAL jit = off"


@dataclass(frozen=True, slots=True)
class Cell:
    geometry: str  # GeoJSON text
    figures: dict[str, Any]


async def layer(
    conn: Conn, name: str, from_at: datetime, to_at: datetime, cell_m: float, limit: int
) -> list[Cell]:
    """Up to `limit` cells of layer `name` (dwell or late), worst first. (The slow layer is
    ranked in Python: `slow_rows`, then `cell_geometries` of the cells it keeps.)"""
    if name == "dwell":
        sql = DWELL_SQL
    elif name == "late":
        sql = LATE_SQL
    else:
        raise ValueError(f"unknown layer {name!r}")
    async with conn.transaction():
        await conn.execute(NO_JIT)
        rows = await conn.fetch(sql, from_at, to_at, cell_m, limit)
    cells = []
    for row in rows:
        figures = dict(row)
        cells.append(Cell(figures.pop("geometry"), figures))
    return cells


async def slow_rows(
    conn: Conn,
    from_at: datetime,
    to_at: datetime,
    baseline: timedelta,
    min_steps: int,
    zone: str = "UTC",
) -> CellHours:
    """The range's travel per cell and hour of the week (SLOW_ROWS_SQL), as arrays."""
    async with conn.transaction():
        await conn.execute(NO_JIT)
        row = await conn.fetchrow(
            SLOW_ROWS_SQL, from_at, to_at, baseline.total_seconds(), min_steps, zone
        )
    assert row is not None
    return CellHours(
        epsg=np.array(row["epsg"], np.int64),
        ix=np.array(row["ix"], np.int64),
        iy=np.array(row["iy"], np.int64),
        utc_hour=np.array(row["utc_how"], np.int64),
        hour=np.array(row["how"], np.int64),
        driven_s=np.array(row["s"], np.float64),
        driven_m=np.array(row["m"], np.float64),
        steps=np.array(row["n"], np.int64),
        history_mps=np.array(row["usual_mps"], np.float64),
    )


async def cell_geometries(
    conn: Conn, cells: Sequence[tuple[int, int, int]], cell_m: float
) -> list[str]:
    """Each (epsg, ix, iy) cell's square as GeoJSON (EPSG:4326), in the order given."""
    if not cells:
        return []
    epsg, ix, iy = (list(column) for column in zip(*cells, strict=True))
    async with conn.transaction():
        await conn.execute(NO_JIT)
        rows = await conn.fetch(CELL_GEOMETRY_SQL, epsg, ix, iy, cell_m)
    return [str(r["geometry"]) for r in rows]


async def heat(
    conn: Conn, metric: str, from_at: datetime, to_at: datetime, zone: str
) -> dict[int, tuple[float, int]]:
    """Hour of the week (0..167 from Monday 00:00 in `zone`) -> (value, count), for `late`
    or `dwell` (the slow heat map is summed in Python from `slow_rows`)."""
    if metric == "late":
        sql = LATE_HEAT_SQL
    elif metric == "dwell":
        sql = DWELL_HEAT_SQL
    else:
        raise ValueError(f"unknown metric {metric!r}")
    async with conn.transaction():
        await conn.execute(NO_JIT)
        rows = await conn.fetch(sql, from_at, to_at, zone)
    return {int(r["how"]): (float(r["value"] or 0.0), int(r["count"])) for r in rows}
