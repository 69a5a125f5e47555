"""SQL for reading many orders at once: customers connecting together (after a restart
every watcher reconnects) are served by a query per batch, not per customer
(server/base/batched_reads.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.store import Conn
from server.store.orders import (
    ORDER_COLUMNS,
    TIMELINE_COLUMNS,
    Order,
    TimelineEntry,
    order_of_row,
    timeline_entry_of_row,
)


@dataclass(frozen=True, slots=True)
class TrackedOrder:
    """What a customer's snapshot reads: the order, its timeline, whether a proof photo
    is stored."""

    order: Order
    timeline: list[TimelineEntry]
    has_photo: bool


# Served by the unique index, also right after a bulk load (migration 0021).
BY_CODES = f"SELECT {ORDER_COLUMNS} FROM orders WHERE tracking_code = ANY($1)"


async def orders_by_codes(conn: Conn, codes: Sequence[str]) -> dict[str, Order]:
    rows = await conn.fetch(BY_CODES, list(codes))
    return {row["tracking_code"]: order_of_row(row) for row in rows}


async def tracked_orders(conn: Conn, order_ids: Sequence[int]) -> dict[int, TrackedOrder]:
    """Each order with its timeline (oldest first) and photo presence; missing ids left out."""
    ids = list(order_ids)
    orders = await conn.fetch(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = ANY($1)", ids)
    events = await conn.fetch(
        f"""SELECT order_id, {TIMELINE_COLUMNS} FROM order_events
            WHERE order_id = ANY($1) ORDER BY order_id, at, id""",
        ids,
    )
    photos = await conn.fetch(
        "SELECT order_id FROM proof_images WHERE order_id = ANY($1) AND kind = 'photo'", ids
    )
    timelines: dict[int, list[TimelineEntry]] = {}
    for row in events:
        timelines.setdefault(row["order_id"], []).append(timeline_entry_of_row(row))
    with_photo = {row["order_id"] for row in photos}
    return {
        row["id"]: TrackedOrder(
            order_of_row(row), timelines.get(row["id"], []), row["id"] in with_photo
        )
        for row in orders
    }
