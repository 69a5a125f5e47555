"""SQL of the bottleneck layers and the hour-of-week heat maps (docs/api.md,
"Bottlenecks"). The layers read only the rollup (server/store/insight_rollup.py); the `late`
heat map counts delivery outcomes in `order_events` (through its partial index by time),
at their exact times, so that zones with half-hour offsets get their own hours.

Every layer answers cells of the rollup's grid as GeoJSON polygons (EPSG:4326, made by
PostGIS from the cell's square in its UTM zone) with the layer's figures, worst first, at
most `limit` of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from server.store import Conn

_CELL_GEOJSON = (
    "ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(ix * $C, iy * $C, (ix + 1) * $C, (iy + 1) * $C,"
    " epsg), 4326), 6)"
)


def _geometry(cell_param: str) -> str:
    return _CELL_GEOJSON.replace("$C", cell_param)


# One pass over the rollup hours that the range ($1..$2) or the baseline (the $3 s up to
# $2) touch: the range's travel and the baseline's usual speed per cell, no join.
_IN_RANGE = "hour_at > $1::timestamptz - interval '1 hour' AND hour_at <= $2"
_IN_BASELINE = "hour_at > $2::timestamptz - make_interval(secs => $3)"

# $4 min steps, $5 slow ratio, $6 cell_m, $7 limit
SLOW_SQL = f"""
WITH cells AS (
    SELECT epsg, ix, iy,
           sum(moving_s) FILTER (WHERE {_IN_RANGE})::float8 AS s,
           sum(moving_m) FILTER (WHERE {_IN_RANGE})::float8 AS m,
           sum(steps) FILTER (WHERE {_IN_RANGE})::bigint AS n,
           (sum(moving_m) FILTER (WHERE {_IN_BASELINE}))::float8
               / nullif(sum(moving_s) FILTER (WHERE {_IN_BASELINE}), 0) AS usual_mps
    FROM insight_cells
    WHERE hour_at > least($1::timestamptz - interval '1 hour',
                          $2::timestamptz - make_interval(secs => $3))
      AND hour_at <= $2
    GROUP BY epsg, ix, iy
)
SELECT epsg, ix, iy, n AS steps, s AS driven_s, m AS driven_m, m / s AS driven_mps, usual_mps,
       s - m / usual_mps AS lost_s, {_geometry("$6")} AS geometry
FROM cells
WHERE n >= $4 AND s > 0 AND usual_mps > 0 AND m / s < $5 * usual_mps
ORDER BY lost_s DESC, epsg, ix, iy
LIMIT $7"""

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

# $3 baseline s, $4 zone; per rollup hour: time lost against each cell's usual speed.
SLOW_HEAT_SQL = f"""
WITH usual AS (
    SELECT epsg, ix, iy, sum(moving_m)::float8 / nullif(sum(moving_s), 0) AS mps
    FROM insight_cells WHERE {_IN_BASELINE} AND hour_at <= $2
    GROUP BY epsg, ix, iy
)
SELECT {_how("hour_at", "$4")} AS how, sum(value)::float8 AS value, sum(n)::bigint AS count
FROM (SELECT c.hour_at, sum(c.moving_s - c.moving_m / u.mps) AS value, sum(c.steps) AS n
      FROM insight_cells c JOIN usual u USING (epsg, ix, iy)
      WHERE c.hour_at > $1::timestamptz - interval '1 hour' AND c.hour_at <= $2 AND u.mps > 0
      GROUP BY c.hour_at) hours  -- the zone's hour once per hour, not per cell
GROUP BY 1"""

# $3 zone
DWELL_HEAT_SQL = f"""
SELECT {_how("started_at", "$3")} AS how, sum(dwell_s)::float8 AS value, count(*) AS count
FROM insight_dwells WHERE started_at >= $1 AND started_at <= $2
GROUP BY 1"""


# PostGIS calls make these plans look costly enough for JIT compilation, which then costs
# far more than the query (seconds); they read a small rollup, not the history.
NO_JIT = "SET LOCAL jit = off"


@dataclass(frozen=True, slots=True)
class Cell:
    geometry: str  # GeoJSON text
    figures: dict[str, Any]


async def layer(
    conn: Conn,
    name: str,
    from_at: datetime,
    to_at: datetime,
    cell_m: float,
    limit: int,
    baseline: timedelta,
    min_steps: int,
    slow_ratio: float,
) -> list[Cell]:
    """Up to `limit` cells of layer `name` (slow, dwell or late), worst first."""
    async with conn.transaction():
        await conn.execute(NO_JIT)
        return _cells(await _layer_rows(conn, name, from_at, to_at, cell_m, limit, baseline,
                                        min_steps, slow_ratio))  # fmt: skip


async def _layer_rows(
    conn: Conn,
    name: str,
    from_at: datetime,
    to_at: datetime,
    cell_m: float,
    limit: int,
    baseline: timedelta,
    min_steps: int,
    slow_ratio: float,
) -> list[Any]:
    if name == "slow":
        rows = await conn.fetch(
            SLOW_SQL, from_at, to_at, baseline.total_seconds(), min_steps, slow_ratio, cell_m,
            limit,
        )  # fmt: skip
    elif name == "dwell":
        rows = await conn.fetch(DWELL_SQL, from_at, to_at, cell_m, limit)
    elif name == "late":
        rows = await conn.fetch(LATE_SQL, from_at, to_at, cell_m, limit)
    else:
        raise ValueError(f"unknown layer {name!r}")
    return list(rows)


def _cells(rows: list[Any]) -> list[Cell]:
    cells = []
    for row in rows:
        figures = dict(row)
        cells.append(Cell(figures.pop("geometry"), figures))
    return cells


async def heat(
    conn: Conn, metric: str, from_at: datetime, to_at: datetime, zone: str, baseline: timedelta
) -> dict[int, tuple[float, int]]:
    """Hour of the week (0..167 from Monday 00:00 in `zone`) -> (value, count)."""
    async with conn.transaction():
        await conn.execute(NO_JIT)
        rows = await _heat_rows(conn, metric, from_at, to_at, zone, baseline)
    return {int(r["how"]): (float(r["value"] or 0.0), int(r["count"])) for r in rows}


async def _heat_rows(
    conn: Conn, metric: str, from_at: datetime, to_at: datetime, zone: str, baseline: timedelta
) -> list[Any]:
    if metric == "late":
        rows = await conn.fetch(LATE_HEAT_SQL, from_at, to_at, zone)
    elif metric == "slow":
        rows = await conn.fetch(SLOW_HEAT_SQL, from_at, to_at, baseline.total_seconds(), zone)
    elif metric == "dwell":
        rows = await conn.fetch(DWELL_HEAT_SQL, from_at, to_at, zone)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    return list(rows)
