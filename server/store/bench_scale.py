"""SQL for `tracker bench --insights-scale` (server/bench/insights_scale.py): a scratch
database at issue 18's scale, checked to hold nothing but bench data before it is
emptied, its orders, facts and ETAs written by COPY, and its position history generated
inside PostgreSQL (one INSERT … SELECT per day: nothing crosses the socket)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer

from server.domain.performance import Delta
from server.store import Conn
from server.store.schema_insights import SUM_COLUMNS, insight_day_rollups

BENCH_DRIVER = "bench %"  # drivers the benches write (store/bench*.py) are named so
BENCH_CUSTOMER = "bench customer"
_TABLES = (
    "drivers, positions, driver_latest, orders, order_events, api_keys, outbox, "
    "webhook_subscriptions, webhook_deliveries, delivery_facts, eta_accuracy, "
    "insight_rollups, insight_counts, insight_day_rollups, insight_day_counts, "
    "insight_cells, insight_dwells, insight_outcomes, insight_watermark"
)
ORDER_COLUMNS = (
    "id", "reference", "tracking_code", "customer_name", "destination", "promised_by",
    "window_start", "window_end", "status", "driver_id", "created_at", "updated_at",
    "closed_at",
)  # fmt: skip
EVENT_COLUMNS = ("order_id", "at", "status", "actor", "reason")
FACT_COLUMNS = (
    "order_id", "attempt", "driver_id", "zone", "promised_by", "window_start", "window_end",
    "assigned_at", "out_for_delivery_at", "arrived_at", "finished_at", "outcome",
    "failure_reason", "dwell_s", "leg_started_at", "leg_s", "stops_on_run",
)  # fmt: skip
ETA_COLUMNS = (
    "order_id", "attempt", "horizon", "shown_at", "eta_at", "window_start", "window_end",
    "arrived_at", "error_s", "in_window",
)  # fmt: skip


class NotScratch(RuntimeError):
    """The database holds data that no bench wrote: it is not emptied."""


async def refuse_foreign(conn: Conn) -> None:
    """Raise NotScratch unless everything in the database is a bench's (every bench empties
    its database first: this is checked before, in each `reset`)."""
    if await foreign_data(conn):
        raise NotScratch(
            "the database holds drivers, orders, keys or webhooks no bench wrote: give "
            "--database-url a scratch database (createdb bench_…); nothing was emptied"
        )


async def foreign_data(conn: Conn) -> bool:
    """Whether the database holds anything a bench did not write: a driver not named
    `bench …`, an order not for the bench customer, an API key or a webhook."""
    found = await conn.fetchval(
        """SELECT EXISTS (SELECT 1 FROM drivers WHERE name NOT LIKE $1)
               OR EXISTS (SELECT 1 FROM orders WHERE customer_name <> $2)
               OR EXISTS (SELECT 1 FROM api_keys)
               OR EXISTS (SELECT 1 FROM webhook_subscriptions)""",
        BENCH_DRIVER,
        BENCH_CUSTOMER,
    )
    return bool(found)


async def reset(conn: Conn) -> None:
    await refuse_foreign(conn)
    await conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")


async def seeded(conn: Conn) -> tuple[int, int, int, date | None]:
    """Drivers, orders, the UTC days the orders were closed on, and the last of them. The
    orders, their facts and the rollups are written in one transaction: orders mean all."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM drivers), count(*),
                  count(DISTINCT (closed_at AT TIME ZONE 'UTC')::date),
                  max((closed_at AT TIME ZONE 'UTC')::date)
           FROM orders"""
    )
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), row[3]


async def copy_deliveries(
    conn: Conn,
    orders: Sequence[tuple[Any, ...]],
    events: Sequence[tuple[Any, ...]],
    facts: Sequence[tuple[Any, ...]],
    etas: Sequence[tuple[Any, ...]],
) -> None:
    """Rows of ORDER_, EVENT_, FACT_ and ETA_COLUMNS; the id sequence moved past them."""
    await conn.copy_records_to_table("orders", records=orders, columns=ORDER_COLUMNS)
    await conn.copy_records_to_table("order_events", records=events, columns=EVENT_COLUMNS)
    await conn.copy_records_to_table("delivery_facts", records=facts, columns=FACT_COLUMNS)
    await conn.copy_records_to_table("eta_accuracy", records=etas, columns=ETA_COLUMNS)
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))"
    )


_INTEGER = frozenset(n for n in SUM_COLUMNS if isinstance(insight_day_rollups.c[n].type, Integer))
Cell = tuple[datetime, int, str]  # hour or day, driver, zone


def _sum(name: str, value: float) -> float | int:
    return round(value) if name in _INTEGER else value


async def copy_rollups(
    conn: Conn, hourly: Mapping[Cell, Delta], daily: Mapping[Cell, Delta]
) -> int:
    """Rollup cells, each summed in full beforehand, into the empty hourly and daily
    rollups and their counts (store/insights.py's `add` upserts the same rows one delta
    at a time); returns the rows written."""
    written = 0
    for table, period, cells in (("insight", "hour", hourly), ("insight_day", "day", daily)):
        sums = [
            (*key, *(_sum(n, d.sums.get(n, 0)) for n in SUM_COLUMNS)) for key, d in cells.items()
        ]
        counts = [(*key, m, b, n) for key, d in cells.items() for (m, b), n in d.counts.items()]
        await conn.copy_records_to_table(
            f"{table}_rollups", records=sums, columns=(period, "driver_id", "zone", *SUM_COLUMNS)
        )
        await conn.copy_records_to_table(
            f"{table}_counts", records=counts,
            columns=(period, "driver_id", "zone", "metric", "bucket", "n"),
        )  # fmt: skip
        written += len(sums) + len(counts)
    return written


async def day_written(conn: Conn, last_driver: int, last_at: datetime) -> bool:
    """Whether a day's generated history is there: its last fix (each day is one statement)."""
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM positions WHERE driver_id = $1 AND recorded_at = $2)",
        last_driver,
        last_at,
    )
    return bool(found)


# Driver d's shift from $2, a fix every $4 s ($3 of them): a smooth loop around ($5, $6)
# of a few km, driven at 4-9 m/s for 7 minutes in every 10, still (a stop) for the other 3
# with 3 m of GPS noise. `m` is the driving time so far: the position stands while it does.
_GENERATE = """
INSERT INTO positions (driver_id, recorded_at, received_at, geom, accuracy_m, speed_mps,
                       heading_deg, altitude_m, battery)
SELECT d, at, at,
       ST_SetSRID(ST_MakePoint(
           $5 + 0.05 * sin(m / 1200.0 + d) + 0.004 * sin(m / 140.0 + 2 * d)
              + CASE WHEN moving THEN 0 ELSE 0.00004 * (random() - 0.5) END,
           $6 + 0.035 * cos(m / 1500.0 + 3 * d) + 0.003 * cos(m / 170.0 + d)
              + CASE WHEN moving THEN 0 ELSE 0.00003 * (random() - 0.5) END), 4326),
       5, CASE WHEN moving THEN 4 + 5 * abs(sin(m / 700.0 + d)) ELSE 0 END,
       CASE WHEN moving THEN (m / 5.0 + 37 * d)::int % 360 END,
       90 + 20 * sin(m / 900.0), NULL
FROM generate_series(1, $1::int) AS d,
     generate_series(0, $3::int - 1) AS s,
     LATERAL (SELECT $2::timestamptz + make_interval(secs => s * $4::float8) AS at,
                     (s * $4::float8)::int % 600 < 420 AS moving,
                     ((s * $4::float8)::int / 600) * 420.0
                       + least((s * $4::float8)::int % 600, 420) AS m) AS step"""


async def generate_day(
    conn: Conn, drivers: int, start: datetime, fixes: int, interval_s: float,
    centre: tuple[float, float],
) -> None:  # fmt: skip
    """Drivers 1..`drivers`' fixes of one shift from `start` (one day's partition)."""
    async with conn.transaction():  # SET LOCAL: no session state left on a pooled connection
        await conn.execute("SET LOCAL jit = off")
        await conn.execute(_GENERATE, drivers, start, fixes, interval_s, *centre)


async def rollup_started(conn: Conn) -> bool:
    """Whether the bottleneck rollup has a watermark (it resumes from there)."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM insight_watermark)"))


SEEDED_TABLES = (
    "positions", "orders", "order_events", "delivery_facts", "eta_accuracy", "insight_rollups",
    "insight_counts", "insight_day_rollups", "insight_day_counts",
)  # fmt: skip
ROLLUP_TABLES = ("insight_cells", "insight_dwells", "insight_outcomes")


async def analyze(conn: Conn, tables: Sequence[str] = SEEDED_TABLES) -> None:
    """ANALYZE `tables` (positions at 50M rows: about a minute)."""
    for table in tables:
        await conn.execute(f"ANALYZE {table}")
