"""SQL for reading the position history back: a driver's track between two instants, read
in batches through a server-side cursor so that a long track is never held in memory, and
the leg of one order's delivery (from its timeline).

The track query is `driver_id = $1 AND recorded_at BETWEEN $2 AND $3 ORDER BY recorded_at`:
the planner prunes `positions` to the days' partitions and walks each one's
(driver_id, recorded_at) primary key, in order, one partition after the other (an ordered
Append of index scans): the first rows stream at once, nothing is sorted. Left alone it
prefers bitmap scans, which return rows out of order and need a sort of the whole range
before the first row (on disk past `work_mem`: a 48 h track at 1 Hz is 170,000 rows), so
the track's transaction turns bitmap scans off (TRACK_SETTINGS; SET LOCAL ends with the
transaction). tests/server/test_export_streams.py checks the plan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from server.domain.lifecycle import Status
from server.store import Conn

BATCH_ROWS = 2_000  # rows per cursor fetch: one round trip per ~100 kB of output


@dataclass(frozen=True, slots=True)
class TrackPoint:
    """One stored fix, as exports give it (coordinates in degrees, EPSG:4326)."""

    recorded_at: datetime
    lon: float
    lat: float
    accuracy_m: float | None
    speed_mps: float | None
    heading_deg: float | None
    altitude_m: float | None
    battery: float | None


# The readings are `real`: through text, each reads back as the shortest decimal that is
# the stored value (4.7, not 4.699999809265137).
TRACK_SETTINGS = "SET LOCAL enable_bitmapscan = off"
TRACK_SQL = """
    SELECT recorded_at, ST_X(geom) AS lon, ST_Y(geom) AS lat,
           accuracy_m::text::float8, speed_mps::text::float8, heading_deg::text::float8,
           altitude_m::text::float8, battery::text::float8
    FROM positions
    WHERE driver_id = $1 AND recorded_at BETWEEN $2 AND $3
    ORDER BY recorded_at"""


async def track(
    conn: Conn, driver_id: int, from_at: datetime, to_at: datetime, batch_rows: int = BATCH_ROWS
) -> AsyncIterator[list[TrackPoint]]:
    """The driver's stored fixes with `from_at <= recorded_at <= to_at`, oldest first, in
    batches of at most `batch_rows`. Must run inside a transaction (a cursor lives in one),
    which the caller owns: nothing here needs closing when the reader stops early."""
    await conn.execute(TRACK_SETTINGS)
    cursor = await conn.cursor(TRACK_SQL, driver_id, from_at, to_at)
    while rows := await cursor.fetch(batch_rows):
        yield [TrackPoint(*row) for row in rows]


@dataclass(frozen=True, slots=True)
class Leg:
    """An order's delivery leg: its driver's positions from `start_at` to `end_at` (None:
    still out for delivery)."""

    driver_id: int
    start_at: datetime
    end_at: datetime | None


class NoLeg(LookupError):
    """The order exists but has no delivery leg: never out for delivery, or no driver."""


async def delivery_leg(conn: Conn, order_id: int) -> Leg | None:
    """The order's last delivery attempt: from its last `out_for_delivery` to the first
    `delivered` or `failed` after it. None for an unknown order; raises NoLeg."""
    row = await conn.fetchrow(
        """
        SELECT o.driver_id, s.at AS start_at,
               (SELECT min(e.at) FROM order_events e
                WHERE e.order_id = o.id AND e.status = ANY($3::text[]) AND e.at >= s.at
               ) AS end_at
        FROM orders o
        LEFT JOIN LATERAL (
            SELECT at FROM order_events
            WHERE order_id = o.id AND status = $2 ORDER BY at DESC, id DESC LIMIT 1
        ) s ON true
        WHERE o.id = $1""",
        order_id,
        Status.OUT_FOR_DELIVERY.value,
        [Status.DELIVERED.value, Status.FAILED.value],
    )
    if row is None:
        return None
    if row["driver_id"] is None or row["start_at"] is None:
        raise NoLeg(f"order {order_id} has not gone out for delivery with a driver")
    return Leg(row["driver_id"], row["start_at"], row["end_at"])
