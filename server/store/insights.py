"""SQL that records delivery performance (issue 18; tables in schema_insights.py): the
facts of each delivery attempt, written in the caller's transaction (the status change's,
so there is no second source of truth), and the hourly rollups they add to, kept up to
date in the same transaction (server/domain/performance.py says what each adds).

An order has at most one open attempt (`finished_at IS NULL`): opened by assignment or
out for delivery, whichever comes first, and closed by delivered or failed. Every writer
here holds the order's row lock (the status change's, or `record_arrival`'s own).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from server.domain import performance as perf
from server.domain.performance import Delta, Finished, Shown
from server.store import Conn
from server.store.schema_insights import SUM_COLUMNS

ZONE_PRECISION = 5  # geohash characters: cells of about 4.9 km x 4.9 km
# The rollup cell of the whole fleet, per hour (no driver is -1, no zone is "*").
FLEET_DRIVER = -1
FLEET_ZONE = "*"
# A driver's cell of a day in the daily rollups, over all zones (a zone's is FLEET_DRIVER's).
ANY_ZONE = "*"
# A driver's previous stop counts as the start of this one's leg within this long.
LEG_LOOKBACK = "12 hours"

_OPEN = """
    INSERT INTO delivery_facts (order_id, attempt, driver_id, zone, promised_by,
        window_start, window_end)
    SELECT o.id, coalesce((SELECT max(attempt) FROM delivery_facts WHERE order_id = o.id), 0)
               + 1,
           o.driver_id, ST_GeoHash(o.destination, $2), o.promised_by, o.window_start,
           o.window_end
    FROM orders o
    WHERE o.id = $1 AND NOT EXISTS (
        SELECT 1 FROM delivery_facts WHERE order_id = o.id AND finished_at IS NULL)"""


async def _open_attempt(conn: Conn, order_id: int) -> None:
    await conn.execute(_OPEN, order_id, ZONE_PRECISION)


async def assigned(conn: Conn, order_id: int, at: datetime) -> None:
    """The order was put on a driver's run (the attempt's first assignment is kept)."""
    await _open_attempt(conn, order_id)
    await conn.execute(
        """UPDATE delivery_facts f SET assigned_at = coalesce(f.assigned_at, $2),
               driver_id = o.driver_id
           FROM orders o
           WHERE f.order_id = $1 AND o.id = $1 AND f.finished_at IS NULL""",
        order_id,
        at,
    )


async def out_for_delivery(conn: Conn, order_id: int, at: datetime) -> None:
    """The attempt starts: its driver, promise, and the stops on the driver's run now."""
    await _open_attempt(conn, order_id)
    await conn.execute(
        """UPDATE delivery_facts f SET out_for_delivery_at = $2, driver_id = o.driver_id,
               promised_by = o.promised_by, window_start = o.window_start,
               window_end = o.window_end,
               stops_on_run = CASE WHEN o.driver_id IS NULL THEN NULL ELSE (
                   SELECT count(*) FROM orders r
                   WHERE r.driver_id = o.driver_id AND r.stop_index IS NOT NULL) END
           FROM orders o
           WHERE f.order_id = $1 AND o.id = $1 AND f.finished_at IS NULL""",
        order_id,
        at,
    )


async def arrived_reported(conn: Conn, order_id: int, at: datetime) -> None:
    """The courier said they arrived (kept apart from the GPS arrival)."""
    await conn.execute(
        """UPDATE delivery_facts SET arrived_reported_at = coalesce(arrived_reported_at, $2)
           WHERE order_id = $1 AND finished_at IS NULL""",
        order_id,
        at,
    )


async def finished(
    conn: Conn, order_id: int, driver_id: int | None, at: datetime, delivered: bool,
    reason: str | None,
) -> None:  # fmt: skip
    """The attempt ended: its dwell, leg and distance, then the rollup it adds to."""
    await _open_attempt(conn, order_id)  # one that was never assigned nor sent out
    row = await conn.fetchrow(
        f"""
        UPDATE delivery_facts f SET finished_at = $2, outcome = $3, failure_reason = $4,
            driver_id = coalesce($5, f.driver_id),
            dwell_s = CASE WHEN f.arrived_at IS NOT NULL AND f.arrived_at <= $2
                           THEN extract(epoch FROM $2 - f.arrived_at) END,
            leg_started_at = greatest(f.out_for_delivery_at, (
                SELECT max(p.finished_at) FROM delivery_facts p
                WHERE p.driver_id = coalesce($5, f.driver_id) AND p.finished_at <= $2
                  AND p.finished_at > $2 - interval '{LEG_LOOKBACK}'))
        WHERE order_id = $1 AND finished_at IS NULL
        RETURNING attempt, driver_id, zone, promised_by, window_start, window_end,
                  dwell_s, leg_started_at, arrived_at""",
        order_id,
        at,
        "delivered" if delivered else "failed",
        reason,
        driver_id,
    )
    assert row is not None  # _open_attempt made one
    leg_s = None
    distance_m = None
    if row["leg_started_at"] is not None:
        leg_s = max(0.0, (at - row["leg_started_at"]).total_seconds())
        if row["driver_id"] is not None:
            distance_m = await _driven_m(
                conn, row["driver_id"], row["leg_started_at"], row["arrived_at"] or at
            )
    await conn.execute(
        """UPDATE delivery_facts SET leg_s = $3, leg_distance_m = $4
           WHERE order_id = $1 AND attempt = $2""",
        order_id,
        row["attempt"],
        leg_s,
        distance_m,
    )
    fact = Finished(
        at, delivered, reason, row["attempt"], row["promised_by"], row["window_start"],
        row["window_end"], row["dwell_s"], leg_s, distance_m,
    )  # fmt: skip
    await add(conn, perf.hour_of(at), row["driver_id"], row["zone"], perf.finished_delta(fact))


async def _driven_m(conn: Conn, driver_id: int, from_at: datetime, to_at: datetime) -> float:
    """The length of the driver's stored track between two times (the (driver, time) key
    finds them: a leg's fixes, not the history)."""
    length = await conn.fetchval(
        """SELECT ST_Length(ST_MakeLine(geom ORDER BY recorded_at)::geography)
           FROM positions WHERE driver_id = $1 AND recorded_at BETWEEN $2 AND $3""",
        driver_id,
        from_at,
        to_at,
    )
    return float(length or 0.0)


async def record_arrival(conn: Conn, order_id: int, at: datetime, shown: Sequence[Shown]) -> bool:
    """The tracker saw the courier arrive at `at` (GPS: inside the radius, dwelling): kept
    on the order's latest attempt if it has none yet, with the ETAs shown before it.
    False when there is nothing to record it on (no attempt, or one already arrived)."""
    await conn.execute("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE", order_id)
    row = await conn.fetchrow(
        """UPDATE delivery_facts f SET arrived_at = $2,
               dwell_s = CASE WHEN f.finished_at IS NOT NULL AND f.finished_at >= $2
                              THEN extract(epoch FROM f.finished_at - $2) END
           WHERE order_id = $1 AND arrived_at IS NULL AND attempt = (
               SELECT max(attempt) FROM delivery_facts WHERE order_id = $1)
             AND (finished_at IS NULL OR finished_at >= $2)
           RETURNING attempt, driver_id, zone, finished_at, dwell_s""",
        order_id,
        at,
    )
    if row is None:
        return False
    await conn.executemany(
        """INSERT INTO eta_accuracy (order_id, attempt, horizon, shown_at, eta_at,
               window_start, window_end, arrived_at, error_s, in_window)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING""",
        [
            (order_id, row["attempt"], s.horizon, s.shown_at, s.eta_at, s.window[0],
             s.window[1], at, perf.eta_error_s(s, at), perf.in_window(s, at))
            for s in shown
        ],
    )  # fmt: skip
    await add(
        conn, perf.hour_of(at), row["driver_id"], row["zone"], perf.arrival_delta(list(shown), at)
    )
    if row["finished_at"] is not None and row["dwell_s"] is not None:  # finished first
        at_door = perf.dwell_delta(row["dwell_s"])
        await add(conn, perf.hour_of(row["finished_at"]), row["driver_id"], row["zone"], at_door)
    return True


async def add(conn: Conn, hour: datetime, driver_id: int | None, zone: str, delta: Delta) -> None:
    """Add `delta` to the rollup cell (hour, driver, zone), to the day's cells of the driver
    (zone ANY_ZONE) and of the zone (FLEET_DRIVER), which the driver and zone tables read,
    and to the hour's fleet cell (FLEET_DRIVER, FLEET_ZONE), which the whole fleet's figures
    read. The rows shared between drivers last, the zone's day before the fleet's hour:
    in the same order in every transaction, so none waits on another in a cycle."""
    driver = driver_id or 0
    day = day_of(hour)
    await _add(conn, "insight", "hour", hour, driver, zone, delta)
    await _add(conn, "insight_day", "day", day, driver, ANY_ZONE, delta)
    await _add(conn, "insight_day", "day", day, FLEET_DRIVER, zone, delta)
    await _add(conn, "insight", "hour", hour, FLEET_DRIVER, FLEET_ZONE, delta)


def day_of(hour: datetime) -> datetime:
    """The UTC day a rollup hour falls in (its midnight)."""
    return hour.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


async def _add(
    conn: Conn, table: str, period: str, at: datetime, driver: int, zone: str, delta: Delta
) -> None:
    """One upsert for the sums (`{table}_rollups`), one for the counts (`{table}_counts`)."""
    if delta.sums:
        names = [n for n in SUM_COLUMNS if n in delta.sums]
        columns = ", ".join(names)
        values = ", ".join(f"${i + 4}" for i in range(len(names)))
        updates = ", ".join(f"{n} = r.{n} + EXCLUDED.{n}" for n in names)
        await conn.execute(
            f"""INSERT INTO {table}_rollups AS r ({period}, driver_id, zone, {columns})
                VALUES ($1, $2, $3, {values})
                ON CONFLICT ({period}, driver_id, zone) DO UPDATE SET {updates}""",
            at,
            driver,
            zone,
            *(delta.sums[n] for n in names),
        )
    if delta.counts:
        # In key order: two writers adding to the same cell's rows in different orders
        # would deadlock each other (the fleet's and the zones' cells are shared).
        keys = sorted(delta.counts)
        await conn.execute(
            f"""INSERT INTO {table}_counts AS c ({period}, driver_id, zone, metric, bucket, n)
               SELECT $1, $2, $3, m, b, n
               FROM unnest($4::text[], $5::int[], $6::int[]) AS t(m, b, n)
               ON CONFLICT ({period}, driver_id, zone, metric, bucket)
               DO UPDATE SET n = c.n + EXCLUDED.n""",
            at,
            driver,
            zone,
            [m for m, _ in keys],
            [b for _, b in keys],
            [delta.counts[k] for k in keys],
        )
