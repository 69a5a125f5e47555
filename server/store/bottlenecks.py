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

from geo.lost_time import CellHours, cell_hours
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


def _packed(**columns: str) -> str:
    """Each `name=send(expression)` as one bytea of its rows' binary values, big-endian
    (numpy reads it without a Python object per value; every aggregate of a query sees
    the rows in the same order)."""
    return ", ".join(
        f"coalesce(string_agg({send}, ''::bytea), ''::bytea) AS {name}"
        for name, send in columns.items()
    )


_EPOCH_2000_S = 946_684_800  # PostgreSQL's binary timestamps count from 2000-01-01 UTC
_CELL_COLUMNS = {"epsg": "int4send(epsg)", "ix": "int4send(ix)", "iy": "int4send(iy)"}

# $3 baseline s, $4 least steps in the range: the cells with at least $4 steps in the range,
# with their travel in it, and each one's usual speed over the baseline (0: none). One pass.
SLOW_CELLS_SQL = f"""
SELECT {_packed(**_CELL_COLUMNS, s="float8send(s)", m="float8send(m)", n="int8send(n)",
                usual_mps="float8send(usual_mps)")}
FROM (SELECT epsg, ix, iy, sum(moving_s) FILTER (WHERE {_IN_RANGE})::float8 AS s,
             sum(moving_m) FILTER (WHERE {_IN_RANGE})::float8 AS m,
             sum(steps) FILTER (WHERE {_IN_RANGE})::int8 AS n,
             coalesce(sum(moving_m) FILTER (WHERE {_IN_BASELINE})::float8
                      / nullif(sum(moving_s) FILTER (WHERE {_IN_BASELINE}), 0), 0) AS usual_mps
      FROM insight_cells WHERE {_TOUCHED}
      GROUP BY epsg, ix, iy) cells
WHERE n >= $4 AND s > 0"""  # fmt: skip

# The range's travel per cell and UTC hour (its start in µs since 2000, PostgreSQL's binary
# timestamptz: no arithmetic per row): no join, no grouping;
# geo/lost_time.py's cell_hours matches them to the cells and their hours of the week.
SLOW_HOURS_SQL = f"""
SELECT {_packed(**_CELL_COLUMNS, hour="timestamptz_send(hour_at)",
                s="float4send(moving_s)", m="float4send(moving_m)", n="int4send(steps)")}
FROM insight_cells WHERE {_IN_RANGE}"""  # fmt: skip

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
    zone: str | None = "UTC",
) -> CellHours:
    """The range's travel per cell and hour of the week (`zone`'s, and UTC's) of the cells
    with at least `min_steps` steps in it, each with its usual speed over the baseline.
    With `zone` None, one row per cell (the range's total, hour 0): enough without a
    profile, and one pass over the rollup instead of two."""
    async with conn.transaction():
        await conn.execute(NO_JIT)
        cells = await conn.fetchrow(
            SLOW_CELLS_SQL, from_at, to_at, baseline.total_seconds(), min_steps
        )
        hours = None if zone is None else await conn.fetchrow(SLOW_HOURS_SQL, from_at, to_at)
    assert cells is not None
    cell = (_read(cells, "epsg", ">i4"), _read(cells, "ix", ">i4"), _read(cells, "iy", ">i4"))
    usual_mps = _read(cells, "usual_mps", ">f8")
    if hours is None or zone is None:
        return cell_hours(
            cell, usual_mps, cell, np.zeros(len(cell[0]), np.int64),
            (_read(cells, "s", ">f8"), _read(cells, "m", ">f8")), _read(cells, "n", ">i8"),
            "UTC",
        )  # fmt: skip
    return cell_hours(
        cell, usual_mps,
        (_read(hours, "epsg", ">i4"), _read(hours, "ix", ">i4"), _read(hours, "iy", ">i4")),
        _read(hours, "hour", ">i8") // 1_000_000 + _EPOCH_2000_S,
        (_read(hours, "s", ">f4"), _read(hours, "m", ">f4")), _read(hours, "n", ">i4"),
        zone,
    )  # fmt: skip


def _read(row: Any, name: str, dtype: str) -> Any:
    """A packed column (`_packed`) as a native numpy array (int64 or float64)."""
    values = np.frombuffer(row[name], dtype)
    return values.astype(np.int64 if dtype[1] == "i" else np.float64)


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
