"""The facts of a delivery attempt, recorded in the transaction of the change they come
from (server/store/insights.py): called by the order service for every status change and
assignment, never on their own."""

from __future__ import annotations

from datetime import datetime

from server.domain.lifecycle import Status
from server.store import Conn
from server.store import insights as store
from server.store.orders import Order, TimelineEntry


async def status_changed(conn: Conn, after: Order, entry: TimelineEntry) -> None:
    """In the status change's transaction: what it says about the order's attempt."""
    status = entry.status
    if status is Status.OUT_FOR_DELIVERY:
        await store.out_for_delivery(conn, after.id, entry.at)
    elif status is Status.ARRIVED:
        await store.arrived_reported(conn, after.id, entry.at)
    elif status in (Status.DELIVERED, Status.FAILED):
        delivered = status is Status.DELIVERED
        await store.finished(conn, after.id, after.driver_id, entry.at, delivered, entry.reason)


async def assigned(conn: Conn, order_id: int, at: datetime) -> None:
    """In the assignment's transaction."""
    await store.assigned(conn, order_id, at)
