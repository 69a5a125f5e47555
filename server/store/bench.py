"""SQL for `tracker bench`: seeding a benchmark database quickly, and checking it after."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from server.store import Conn
from server.store.bench_scale import refuse_foreign
from server.store.queries import POSITION_COLUMNS

BENCH_TABLES = (
    "drivers, positions, driver_latest, orders, order_events, api_keys, outbox, "
    "webhook_subscriptions, webhook_deliveries"
)


async def reset(conn: Conn) -> None:
    await refuse_foreign(conn)
    await conn.execute(f"TRUNCATE {BENCH_TABLES} RESTART IDENTITY CASCADE")


_ORDER_COLUMNS = (
    "id",
    "tracking_code",
    "customer_name",
    "destination",
    "status",
    "driver_id",
    "stop_index",
    "route",
    "created_at",
    "updated_at",
)


def device_id(driver_id: int) -> str:
    """The seeded driver's device id, as the bench's phone apps present it."""
    return f"bench-phone-{driver_id}"


async def _seed(
    conn: Conn,
    token_hashes: list[str],
    codes: list[str],
    destinations: list[tuple[float, float]],
    routes: list[dict[str, object]],
    now: datetime,
    driver_and_index: list[tuple[int, int]],
) -> None:
    """One driver per token (driver i's phone-app device id is `device_id(i)`); order i
    (id i + 1) out for delivery on its route, on the run and at the stop index
    `driver_and_index[i]` says."""
    await conn.copy_records_to_table(
        "drivers",
        records=[
            (i + 1, f"bench {i + 1}", h, device_id(i + 1), now) for i, h in enumerate(token_hashes)
        ],
        columns=("id", "name", "token_hash", "device_id", "created_at"),
    )
    await conn.copy_records_to_table(
        "orders",
        records=[
            (
                i + 1,
                code,
                "bench customer",
                destinations[i],
                "out_for_delivery",
                driver_id,
                stop_index,
                routes[i],
                now,
                now,
            )
            for i, (code, (driver_id, stop_index)) in enumerate(
                zip(codes, driver_and_index, strict=True)
            )
        ],
        columns=_ORDER_COLUMNS,
    )
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('drivers', 'id'), $1)", len(token_hashes)
    )
    await conn.execute("SELECT setval(pg_get_serial_sequence('orders', 'id'), $1)", len(codes))
    # As a database that has run for a while: orders COPYed in bulk sit in the trigram
    # search indexes' pending lists, and until a vacuum the planner serves the customers'
    # lookups by tracking code from those (7 s for 1,000 codes at 7,500 orders, measured),
    # not from the unique index (3 ms): sockets then closed 1013 in the connect storm.
    await conn.execute("VACUUM ANALYZE drivers, orders")


async def seed_runs(
    conn: Conn,
    token_hashes: list[str],
    codes: list[str],
    destinations: list[tuple[float, float]],
    routes: list[dict[str, object]],
    now: datetime,
) -> None:
    """One driver per token, each with one order out for delivery on its route."""
    runs = [(i + 1, 0) for i in range(len(token_hashes))]
    await _seed(conn, token_hashes, codes, destinations, routes, now, runs)


async def seed_run(
    conn: Conn,
    token_hashes: list[str],
    codes: list[str],
    destinations: list[tuple[float, float]],
    routes: list[dict[str, object]],
    now: datetime,
) -> None:
    """One driver per token; the first has one order per code out for delivery, in that
    order (stop_index 0, 1, …) with its route."""
    await _seed(
        conn, token_hashes, codes, destinations, routes, now, [(1, i) for i in range(len(codes))]
    )


async def stored_times(conn: Conn, driver_ids: list[int]) -> dict[int, set[int]]:
    """Every stored fix's time (epoch ms) per driver."""
    rows = await conn.fetch(
        """SELECT driver_id, (extract(epoch FROM recorded_at) * 1000)::bigint AS t_ms
           FROM positions WHERE driver_id = ANY($1)""",
        driver_ids,
    )
    stored: dict[int, set[int]] = {}
    for row in rows:
        stored.setdefault(row["driver_id"], set()).add(row["t_ms"])
    return stored


async def copy_ceiling_table(conn: Conn) -> None:
    """A scratch table shaped and indexed like one day of `positions`."""
    await conn.execute(
        """CREATE TEMP TABLE IF NOT EXISTS bench_positions
           (LIKE positions INCLUDING DEFAULTS, PRIMARY KEY (driver_id, recorded_at))"""
    )
    await conn.execute(
        """CREATE INDEX IF NOT EXISTS bench_positions_brin
           ON bench_positions USING brin (recorded_at)"""
    )
    await conn.execute("TRUNCATE bench_positions")


async def copy_into_ceiling_table(conn: Conn, records: Sequence[tuple[Any, ...]]) -> None:
    """`records` (rows of POSITION_COLUMNS) into the scratch table, a thousand per COPY."""
    for i in range(0, len(records), 1000):
        await conn.copy_records_to_table(
            "bench_positions", records=records[i : i + 1000], columns=POSITION_COLUMNS
        )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def drop_database(conn: Conn, name: str) -> None:
    """Drop a scratch database, closing whatever is still connected to it."""
    await conn.execute(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")


async def copy_database(conn: Conn, name: str, template: str) -> None:
    """A fresh scratch database, a copy of `template` (migrated once, for every copy)."""
    await drop_database(conn, name)
    await conn.execute(f"CREATE DATABASE {_quoted(name)} TEMPLATE {_quoted(template)}")


async def backend_pids(conn: Conn, database: str) -> list[int]:
    """The PostgreSQL processes serving a database (backends, autovacuum workers), but
    the one asking."""
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        database,
    )
    return [int(r["pid"]) for r in rows]
