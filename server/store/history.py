"""SQL for reading the position history back: a driver's track between two instants, read
in batches through a server-side cursor so that a long track is never held in memory, and
the leg of one order's delivery (from its timeline).

The track query (`track_sql`: each row already a line of the export's format) is
`driver_id = $1 AND recorded_at BETWEEN $2 AND $3 ORDER BY recorded_at`: the planner
prunes `positions` to the days' partitions and walks each one's (driver_id, recorded_at)
primary key, in order, one partition after the other (an ordered Append of index scans):
the first rows stream at once, nothing is sorted. Left alone it prefers bitmap scans,
which return rows out of order and need a sort of the whole range before the first row
(on disk past `work_mem`: a 48 h track at 1 Hz is 170,000 rows), so the track's
transaction turns bitmap scans off (TRACK_SETTINGS; SET LOCAL ends with the transaction).
tests/server/test_export_streams.py checks the plan of each format's query.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from server.domain.lifecycle import Status
from server.store import Conn

BATCH_ROWS = 2_000  # rows per cursor fetch: one round trip per ~100-500 kB of output

# Each stored fix as one line of the export (server/wire/exports.py has the head and tail
# around them, and docs/api.md the shapes), formatted by PostgreSQL: a driver-day at 1 Hz
# is ~30,000 lines, and decoding them into Python objects and formatting them there cost
# three to four times the query. Numbers print as PostgreSQL's shortest exact text
# (`real` readings as the `real` stored: 4.7, not 4.699999809265137; a whole number
# without ".0"); instants in UTC with a `Z`, second fractions only when there are some.
# No text of a fix needs escaping or CSV quoting.
_AT = """to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN date_part('microseconds', recorded_at)::int % 1000000 = 0 THEN ''
            ELSE to_char(recorded_at AT TIME ZONE 'UTC', '.US') END || 'Z'"""
_LINES = {
    "geojson": f"""'{{"type":"Feature","geometry":{{"type":"Point","coordinates":['
    || ST_X(geom) || ',' || ST_Y(geom) || ']}},"properties":{{"recorded_at":"' || {_AT}
    || '","accuracy_m":' || coalesce(accuracy_m::text, 'null')
    || ',"speed_mps":' || coalesce(speed_mps::text, 'null')
    || ',"heading_deg":' || coalesce(heading_deg::text, 'null')
    || ',"altitude_m":' || coalesce(altitude_m::text, 'null')
    || ',"battery":' || coalesce(battery::text, 'null') || '}}}}'""",
    # wptType's order: ele, time, …, extensions; in Garmin's extension: speed, then course.
    "gpx": f"""'<trkpt lat="' || ST_Y(geom) || '" lon="' || ST_X(geom) || '">'
    || coalesce('<ele>' || altitude_m || '</ele>', '') || '<time>' || {_AT} || '</time>'
    || CASE WHEN speed_mps IS NULL AND heading_deg IS NULL THEN ''
            ELSE '<extensions><gpxtpx:TrackPointExtension>'
                 || coalesce('<gpxtpx:speed>' || speed_mps || '</gpxtpx:speed>', '')
                 || coalesce('<gpxtpx:course>' || heading_deg || '</gpxtpx:course>', '')
                 || '</gpxtpx:TrackPointExtension></extensions>' END
    || E'</trkpt>\\n'""",
    "csv": f"""{_AT} || ',' || ST_Y(geom) || ',' || ST_X(geom)
    || ',' || coalesce(accuracy_m::text, '') || ',' || coalesce(speed_mps::text, '')
    || ',' || coalesce(heading_deg::text, '') || ',' || coalesce(altitude_m::text, '')
    || ',' || coalesce(battery::text, '') || E'\\r\\n'""",
}
TRACK_SETTINGS = "SET LOCAL enable_bitmapscan = off"


def track_sql(fmt: str) -> str:
    """The driver's ($1) fixes in [$2, $3], oldest first, as lines of `fmt`."""
    return f"""
    SELECT {_LINES[fmt]}
    FROM positions
    WHERE driver_id = $1 AND recorded_at BETWEEN $2 AND $3
    ORDER BY recorded_at"""


async def track_lines(
    conn: Conn, fmt: str, driver_id: int, from_at: datetime, to_at: datetime,
    batch_rows: int = BATCH_ROWS,
) -> AsyncIterator[list[str]]:  # fmt: skip
    """The driver's stored fixes with `from_at <= recorded_at <= to_at`, oldest first, as
    lines of `fmt` (server/wire/exports.py's FORMATS) in batches of at most `batch_rows`.
    Must run inside a transaction (a cursor lives in one), which the caller owns: nothing
    here needs closing when the reader stops early."""
    await conn.execute(TRACK_SETTINGS)
    cursor = await conn.cursor(track_sql(fmt), driver_id, from_at, to_at)
    while rows := await cursor.fetch(batch_rows):
        yield [row[0] for row in rows]


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
