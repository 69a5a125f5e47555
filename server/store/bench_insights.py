"""SQL for `tracker bench --bottlenecks`: a scratch history written straight into
`positions` (COPY through the partitioned parent), delivered orders with their outcome
events, and emptying it all again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from server.store import Conn
from server.store.bench_scale import refuse_foreign
from server.store.queries import POSITION_COLUMNS

_TABLES = (
    "drivers, positions, driver_latest, orders, order_events, api_keys, outbox, "
    "webhook_subscriptions, webhook_deliveries, insight_cells, insight_dwells, insight_outcomes, "
    "insight_watermark, eta_models"
)
ORDER_COLUMNS = (
    "id", "tracking_code", "customer_name", "destination", "status", "driver_id",
    "promised_by", "created_at", "updated_at", "closed_at",
)  # fmt: skip
EVENT_COLUMNS = ("order_id", "at", "status", "actor")


async def reset(conn: Conn) -> None:
    await refuse_foreign(conn)
    await conn.execute(f"TRUNCATE {_TABLES} RESTART IDENTITY CASCADE")


async def add_drivers(conn: Conn, token_hashes: Sequence[str]) -> None:
    await conn.copy_records_to_table(
        "drivers",
        records=[(i + 1, f"bench {i + 1}", h) for i, h in enumerate(token_hashes)],
        columns=("id", "name", "token_hash"),
    )
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('drivers', 'id'), $1)", len(token_hashes)
    )


async def copy_positions(conn: Conn, records: Sequence[tuple[Any, ...]]) -> None:
    """Rows of POSITION_COLUMNS straight into the history (no duplicates among them)."""
    await conn.copy_records_to_table("positions", records=records, columns=POSITION_COLUMNS)


async def copy_orders(
    conn: Conn, orders: Sequence[tuple[Any, ...]], events: Sequence[tuple[Any, ...]]
) -> None:
    """Rows of ORDER_COLUMNS and EVENT_COLUMNS; the id sequence moved past the orders."""
    await conn.copy_records_to_table("orders", records=orders, columns=ORDER_COLUMNS)
    await conn.copy_records_to_table("order_events", records=events, columns=EVENT_COLUMNS)
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))"
    )


async def analyze(conn: Conn) -> None:
    await conn.execute("ANALYZE positions")
    await conn.execute("ANALYZE insight_cells")
    await conn.execute("ANALYZE insight_dwells")
    await conn.execute("ANALYZE orders")
    await conn.execute("ANALYZE order_events")


async def start_rollup_at(conn: Conn, at: datetime) -> None:
    await conn.execute("INSERT INTO insight_watermark VALUES (1, $1)", at)


async def rollup_sizes(conn: Conn) -> tuple[int, int]:
    """Rows of insight_cells and insight_dwells."""
    cells = await conn.fetchval("SELECT count(*) FROM insight_cells")
    dwells = await conn.fetchval("SELECT count(*) FROM insight_dwells")
    return int(cells), int(dwells)


async def fixes_between(conn: Conn, driver_id: int, from_at: datetime, to_at: datetime) -> int:
    """A driver's stored fixes in [from_at, to_at] (`tracker bench --exports`)."""
    n = await conn.fetchval(
        """SELECT count(*) FROM positions
           WHERE driver_id = $1 AND recorded_at BETWEEN $2 AND $3""",
        driver_id,
        from_at,
        to_at,
    )
    return int(n)
