"""SQL of the bottleneck rollup (server/usecases/insight_rollup.py runs it): positions
recorded since the watermark, one slice at a time, turned into travel per cell and UTC hour
(`insight_cells`), couriers' stops (`insight_dwells`) and delivery outcomes by destination
cell (`insight_outcomes`, from order events), and the watermark moved, in one
transaction per slice. The position history is read once, by time (its BRIN index), and
never again: requests read only the rollup.

Per driver, in time order, each fix and the one before it make a step (at most
`max_gap_s` apart, else lost signal: no step). A step is *still* when the courier moved
less than `stop_speed_mps` on average over the last SMOOTH_S seconds (or over the step, with
sparser fixes): GPS jitter at a door is no travel. Consecutive still steps make a stop,
from the fix before the first to the last. A stop at least `dwell_min_s` long is a dwell
(`insight_dwells`, at the cell of its centroid); every other step is travel (`insight_cells`,
at the cell of its later fix), short stops included: lights and jams are part of the
driven speed.

A stop is counted once it is over: at the first fix after it that is not still, or
`max_gap_s` after its last fix when no fix follows. Each slice rereads `lookback_s` before
its start so that stops still going on at the end of the previous slice are seen whole; a
stop longer than that counts as its last `lookback_s`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from server.store import Conn

# UTM zone of a point (EPSG 326xx north, 327xx south) from its geometry `g`.
UTM_EPSG_SQL = (
    "((CASE WHEN ST_Y({g}) >= 0 THEN 32600 ELSE 32700 END)"
    " + least(60, greatest(1, floor((ST_X({g}) + 180) / 6)::int + 1)))"
)
SMOOTH_S = 30  # still: average speed over the last this many seconds below stop_speed_mps

# $1 slice start (exclusive), $2 slice end (inclusive), $3 lookback_s, $4 max_gap_s,
# $5 stop_speed_mps, $6 cell_m, $7 dwell_min_s
ROLLUP_SQL = f"""
WITH f AS (
    SELECT driver_id, recorded_at AS t, epsg, ST_Transform(geom, epsg) AS xy
    FROM (SELECT driver_id, recorded_at, geom, {UTM_EPSG_SQL.format(g="geom")} AS epsg
          FROM positions
          WHERE recorded_at > $1::timestamptz - make_interval(secs => $3)
            AND recorded_at <= $2) raw
), w AS (
    SELECT driver_id, t, epsg, xy,
           lag(t) OVER byd AS prev_t, lag(xy) OVER byd AS prev_xy,
           lag(epsg) OVER byd AS prev_epsg, lead(t) OVER byd AS next_t,
           first_value(t) OVER back AS back_t, first_value(xy) OVER back AS back_xy,
           first_value(epsg) OVER back AS back_epsg
    FROM f
    WINDOW byd AS (PARTITION BY driver_id ORDER BY t),
           back AS (PARTITION BY driver_id ORDER BY t
                    RANGE BETWEEN interval '{SMOOTH_S} seconds' PRECEDING AND CURRENT ROW)
), s AS (
    SELECT *, extract(epoch FROM t - prev_t)::float8 AS dt_s,
           -- A step across a UTM zone's edge is no step (PostGIS refuses mixed SRIDs).
           CASE WHEN prev_epsg = epsg THEN ST_Distance(xy, prev_xy) END AS d_m,
           (prev_t IS NOT NULL AND prev_epsg = epsg
            AND t - prev_t <= make_interval(secs => $4)) AS valid
    FROM w
), v AS (
    SELECT *, valid AND (CASE
               WHEN back_t < t AND back_epsg = epsg
               THEN ST_Distance(xy, back_xy) / extract(epoch FROM t - back_t)::float8
               ELSE d_m / greatest(dt_s, 0.001) END) < $5 AS still
    FROM s
), g AS (
    SELECT *, sum(CASE WHEN still THEN 0 ELSE 1 END)
                  OVER (PARTITION BY driver_id ORDER BY t) AS grp
    FROM v
), stops AS (
    SELECT driver_id, grp, min(prev_t) AS started_at, max(t) AS ended_at,
           (array_agg(next_t ORDER BY t DESC))[1] AS after_t,
           min(epsg) AS epsg, ST_Centroid(ST_Collect(xy)) AS at_xy
    FROM g WHERE still GROUP BY driver_id, grp
), decided AS (
    SELECT *, extract(epoch FROM ended_at - started_at)::float8 AS dwell_s,
           CASE WHEN after_t IS NOT NULL AND after_t - ended_at <= make_interval(secs => $4)
                THEN after_t ELSE ended_at + make_interval(secs => $4) END AS decided_at
    FROM stops
), dwelt AS (
    INSERT INTO insight_dwells (driver_id, started_at, ended_at, epsg, ix, iy, dwell_s)
    SELECT driver_id, started_at, ended_at, epsg,
           floor(ST_X(at_xy) / $6)::int, floor(ST_Y(at_xy) / $6)::int, dwell_s
    FROM decided
    WHERE dwell_s >= $7 AND decided_at > $1 AND decided_at <= $2
    ON CONFLICT DO NOTHING
    RETURNING 1
), travel AS (
    SELECT g.t, g.epsg, g.xy, g.dt_s, g.d_m
    FROM g LEFT JOIN decided d ON d.driver_id = g.driver_id AND d.grp = g.grp AND g.still
    WHERE g.valid AND CASE WHEN g.still
        THEN d.dwell_s < $7 AND d.decided_at > $1 AND d.decided_at <= $2
        ELSE g.t > $1 END
), rolled AS (
    INSERT INTO insight_cells AS c (hour_at, epsg, ix, iy, moving_s, moving_m, steps)
    SELECT date_trunc('hour', t AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', epsg,
           floor(ST_X(xy) / $6)::int, floor(ST_Y(xy) / $6)::int,
           sum(dt_s), sum(d_m), count(*)
    FROM travel GROUP BY 1, 2, 3, 4
    ON CONFLICT (hour_at, epsg, ix, iy) DO UPDATE SET
        moving_s = c.moving_s + EXCLUDED.moving_s,
        moving_m = c.moving_m + EXCLUDED.moving_m,
        steps = c.steps + EXCLUDED.steps
    RETURNING 1
)
SELECT (SELECT count(*) FROM dwelt) AS dwells, (SELECT count(*) FROM rolled) AS cells
"""


# For the slice's transaction: the planner's cost of so many PostGIS calls switches JIT
# compilation on, which took 3.4 s of a 5.9 s slice (an hour of 100 couriers at one fix
# every 5 s, and its lookback); and the window functions' sorts fit in memory.
SLICE_SETTINGS = "SET LOCAL jit = off; SET LOCAL work_mem = '64MB'"


# Deliveries and failed attempts with `at` in the slice ($1, $2], by destination cell ($3
# cell_m) and UTC hour; late: delivered after the promise (server/domain/lateness.py's
# due_by: the window's end, else promised_by).
OUTCOMES_SQL = f"""
WITH outcomes AS (
    SELECT e.at, e.status = 'failed' AS failed,
           (e.status = 'delivered' AND e.at > coalesce(o.window_end, o.promised_by)) AS late,
           o.destination AS geom
    FROM order_events e JOIN orders o ON o.id = e.order_id
    WHERE e.status IN ('delivered', 'failed') AND e.at > $1 AND e.at <= $2
), placed AS (
    SELECT at, failed, late, epsg, ST_Transform(geom, epsg) AS xy
    FROM (SELECT *, {UTM_EPSG_SQL.format(g="geom")} AS epsg FROM outcomes) z
)
INSERT INTO insight_outcomes AS c (hour_at, epsg, ix, iy, delivered, late, failed)
SELECT date_trunc('hour', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', epsg,
       floor(ST_X(xy) / $3)::int, floor(ST_Y(xy) / $3)::int,
       count(*) FILTER (WHERE NOT failed), count(*) FILTER (WHERE late),
       count(*) FILTER (WHERE failed)
FROM placed GROUP BY 1, 2, 3, 4
ON CONFLICT (hour_at, epsg, ix, iy) DO UPDATE SET
    delivered = c.delivered + EXCLUDED.delivered,
    late = c.late + EXCLUDED.late,
    failed = c.failed + EXCLUDED.failed"""


@dataclass(frozen=True, slots=True)
class RollupParams:
    cell_m: float
    max_gap_s: float
    stop_speed_mps: float
    dwell_min_s: float
    lookback_s: float


@dataclass(frozen=True, slots=True)
class SliceResult:
    start_at: datetime
    end_at: datetime
    dwells: int
    cells: int


async def watermark(conn: Conn) -> datetime | None:
    """Positions recorded up to this instant are in the rollup (None: never rolled up)."""
    at: datetime | None = await conn.fetchval(
        "SELECT rolled_up_to FROM insight_watermark WHERE id = 1"
    )
    return at


async def roll_slice(
    conn: Conn, start_at: datetime, end_at: datetime, params: RollupParams, timeout_s: float
) -> SliceResult | None:
    """Roll up positions recorded in (start_at, end_at] and move the watermark there, in one
    transaction. None when another process moved the watermark meanwhile (nothing done)."""
    async with conn.transaction():
        current = await conn.fetchval(
            "SELECT rolled_up_to FROM insight_watermark WHERE id = 1 FOR UPDATE"
        )
        if current is None:
            await conn.execute(
                "INSERT INTO insight_watermark (id, rolled_up_to) VALUES (1, $1)"
                " ON CONFLICT (id) DO NOTHING",
                start_at,
            )
            current = await conn.fetchval(
                "SELECT rolled_up_to FROM insight_watermark WHERE id = 1 FOR UPDATE"
            )
        if current != start_at:
            return None
        await conn.execute(SLICE_SETTINGS)
        row = await conn.fetchrow(
            ROLLUP_SQL,
            start_at,
            end_at,
            params.lookback_s,
            params.max_gap_s,
            params.stop_speed_mps,
            params.cell_m,
            params.dwell_min_s,
            timeout=timeout_s,
        )
        await conn.execute(OUTCOMES_SQL, start_at, end_at, params.cell_m, timeout=timeout_s)
        await conn.execute("UPDATE insight_watermark SET rolled_up_to = $1 WHERE id = 1", end_at)
    assert row is not None
    return SliceResult(start_at, end_at, int(row["dwells"]), int(row["cells"]))


async def forget_before(conn: Conn, at: datetime) -> None:
    """Drop the rollup's hours and dwells older than `at` (the history's retention)."""
    await conn.execute("DELETE FROM insight_cells WHERE hour_at < $1", at)
    await conn.execute("DELETE FROM insight_dwells WHERE started_at < $1", at)
    await conn.execute("DELETE FROM insight_outcomes WHERE hour_at < $1", at)
