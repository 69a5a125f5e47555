"""SQL for orders and their timeline."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from server.domain import lateness
from server.domain.lifecycle import CLOSED, OFF_RUN, REPLAN, Status, transition
from server.store import Conn


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    reference: str | None
    tracking_code: str
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    destination: tuple[float, float]  # (lon, lat)
    address: str | None
    promised_by: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    status: Status
    driver_id: int | None
    stop_index: int | None
    route: Any
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    customer_time_zone: str | None = None
    delivery_instructions: str | None = None  # the customer's, shown to the courier
    pin_required: bool = False  # a delivery PIN was drawn (usecases/proof.py)

    @property
    def due_by(self) -> datetime | None:
        """The latest time the promise allows."""
        return lateness.due_by(self.promised_by, self.window_end)


@dataclass(frozen=True, slots=True)
class Place:
    """Where a courier's action happened: their newest recent fix (None: none recent), the
    distance from there to the destination, and whether that is too far."""

    position: tuple[float, float] | None  # (lon, lat)
    distance_m: float | None
    far: bool


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    status: Status
    at: datetime
    actor: str
    note: str | None
    id: int = 0
    reason: str | None = None  # a failed delivery's reason code (courier actions)
    place: Place | None = None  # courier actions only


@dataclass(frozen=True, slots=True)
class NewOrder:
    reference: str | None
    tracking_code: str
    customer_name: str
    customer_email: str | None
    customer_phone: str | None
    destination: tuple[float, float]
    address: str | None
    promised_by: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    customer_time_zone: str | None = None
    pin_required: bool = False


ORDER_COLUMNS = """id, reference, tracking_code, customer_name, customer_email, customer_phone,
    destination, address, promised_by, window_start, window_end, status, driver_id,
    stop_index, route, created_at, updated_at, closed_at, customer_time_zone,
    delivery_instructions, pin_required"""


def order_of_row(row: asyncpg.Record) -> Order:
    values = dict(row)
    values["status"] = Status(values["status"])
    return Order(**values)


async def locked_order(conn: Conn, order_id: int) -> Order | None:
    """The order, locked until the caller's transaction ends; None if there is none."""
    row = await conn.fetchrow(
        f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 FOR UPDATE", order_id
    )
    return None if row is None else order_of_row(row)


class DuplicateTrackingCode(ValueError):
    pass


class NotAssignable(ValueError):
    pass


class RunFull(ValueError):
    """The driver's run already holds the most stops a run may have."""


async def create_order(
    conn: Conn, new: NewOrder, actor: str, at: datetime
) -> tuple[Order, TimelineEntry]:
    """Insert an order as `confirmed` with its first timeline entry, atomically."""
    async with conn.transaction():
        try:
            row = await conn.fetchrow(
                f"""
                INSERT INTO orders (reference, tracking_code, customer_name, customer_email,
                    customer_phone, destination, address, promised_by, window_start, window_end,
                    status, created_at, updated_at, customer_time_zone, pin_required)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14)
                RETURNING {ORDER_COLUMNS}""",
                new.reference,
                new.tracking_code,
                new.customer_name,
                new.customer_email,
                new.customer_phone,
                new.destination,
                new.address,
                new.promised_by,
                new.window_start,
                new.window_end,
                Status.CONFIRMED.value,
                at,
                new.customer_time_zone,
                new.pin_required,
            )
        except asyncpg.UniqueViolationError:
            raise DuplicateTrackingCode(new.tracking_code) from None
        assert row is not None
        entry = await _add_event(conn, row["id"], Status.CONFIRMED, actor, None, at)
    return order_of_row(row), entry


async def _add_event(
    conn: Conn,
    order_id: int,
    status: Status,
    actor: str,
    note: str | None,
    at: datetime,
    reason: str | None = None,
    place: Place | None = None,
) -> TimelineEntry:
    entry_id = await conn.fetchval(
        """INSERT INTO order_events (order_id, at, status, actor, note, reason, position,
               distance_m, far)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id""",
        order_id,
        at,
        status.value,
        actor,
        note,
        reason,
        None if place is None else place.position,
        None if place is None else place.distance_m,
        place is not None and place.far,
    )
    return TimelineEntry(status, at, actor, note, int(entry_id), reason, place)


async def get_order(conn: Conn, order_id: int) -> Order | None:
    row = await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1", order_id)
    return None if row is None else order_of_row(row)


async def order_by_code(conn: Conn, code: str) -> Order | None:
    row = await conn.fetchrow(f"SELECT {ORDER_COLUMNS} FROM orders WHERE tracking_code = $1", code)
    return None if row is None else order_of_row(row)


async def timeline(conn: Conn, order_id: int) -> list[TimelineEntry]:
    rows = await conn.fetch(
        """SELECT id, status, at, actor, note, reason, position, distance_m, far
           FROM order_events WHERE order_id = $1 ORDER BY at, id""",
        order_id,
    )
    return [
        TimelineEntry(
            Status(r["status"]),
            r["at"],
            r["actor"],
            r["note"],
            r["id"],
            r["reason"],
            None
            if r["position"] is None and r["distance_m"] is None and not r["far"]
            else Place(r["position"], r["distance_m"], r["far"]),
        )
        for r in rows
    ]


async def change_status(
    conn: Conn,
    order_id: int,
    wanted: Status,
    actor: str,
    note: str | None,
    at: datetime,
    reason: str | None = None,
    place: Place | None = None,
) -> tuple[Order, Order, TimelineEntry] | None:
    """Apply a transition with its timeline entry in one transaction.

    Returns (before, after, entry), None for an unknown order; raises IllegalTransition.
    """
    async with conn.transaction():
        before = await locked_order(conn, order_id)
        if before is None:
            return None
        status = transition(before.status, wanted)
        off_run = status in OFF_RUN or (before.status, status) == REPLAN
        # Closed once, closed for good (no status leaves CLOSED): the first closing time
        # stays, so `delivered -> returned` never extends the tracking link.
        closed_at = (before.closed_at or at) if status in CLOSED else None
        row = await conn.fetchrow(
            f"""
            UPDATE orders o SET status = $2, updated_at = $3, closed_at = $4,
                stop_index = CASE
                    WHEN $5 THEN NULL
                    WHEN o.stop_index IS NULL AND o.driver_id IS NOT NULL THEN (
                        SELECT coalesce(max(stop_index) + 1, 0) FROM orders
                        WHERE driver_id = o.driver_id)
                    ELSE o.stop_index END
            WHERE id = $1 RETURNING {ORDER_COLUMNS}""",
            order_id,
            status.value,
            at,
            closed_at,
            off_run,
        )
        entry = await _add_event(conn, order_id, status, actor, note, at, reason, place)
    assert row is not None
    return before, order_of_row(row), entry


async def assign(
    conn: Conn,
    order_id: int,
    driver_id: int,
    route: Any,
    stop_index: int | None,
    at: datetime,
    max_stops: int,
) -> tuple[Order, list[tuple[int, int]]] | None:
    """Put the order on the driver's run: at `stop_index` (later stops move down one) or last.

    Returns the order and the (order id, new stop index) of every stop that moved down.
    Raises RunFull when the run (without this order) already has `max_stops` stops.
    """
    async with conn.transaction():
        status = await conn.fetchval("SELECT status FROM orders WHERE id = $1 FOR UPDATE", order_id)
        if status is None:
            return None
        if Status(status) in OFF_RUN:
            raise NotAssignable(f"a {status} order cannot be put on a run")
        await conn.execute("SELECT pg_advisory_xact_lock(7, $1::int)", driver_id % 2**31)
        stops = await conn.fetchval(
            """SELECT count(*) FROM orders
               WHERE driver_id = $1 AND id <> $2 AND stop_index IS NOT NULL""",
            driver_id,
            order_id,
        )
        if stops >= max_stops:
            raise RunFull(
                f"driver {driver_id}'s run already has {stops} stops, the most a run may have "
                f"(TRACKER_MAX_STOPS_PER_RUN={max_stops}): deliver or move some first"
            )
        shifted: list[tuple[int, int]] = []
        if stop_index is None:
            stop_index = await conn.fetchval(
                """SELECT coalesce(max(stop_index) + 1, 0) FROM orders
                   WHERE driver_id = $1 AND id <> $2 AND stop_index IS NOT NULL""",
                driver_id,
                order_id,
            )
        else:
            rows = await conn.fetch(
                """UPDATE orders SET stop_index = stop_index + 1
                   WHERE driver_id = $1 AND id <> $2 AND stop_index >= $3
                   RETURNING id, stop_index""",
                driver_id,
                order_id,
                stop_index,
            )
            shifted = [(r["id"], r["stop_index"]) for r in rows]
        row = await conn.fetchrow(
            f"""
            UPDATE orders SET driver_id = $2, route = $3, stop_index = $4, updated_at = $5
            WHERE id = $1 RETURNING {ORDER_COLUMNS}""",
            order_id,
            driver_id,
            route,
            stop_index,
            at,
        )
    return None if row is None else (order_of_row(row), shifted)


async def orders_on_runs(conn: Conn, driver_id: int | None = None) -> list[Order]:
    """Every assigned order that still needs its courier (of one driver, if given), in stop
    order per driver."""
    rows = await conn.fetch(
        f"""SELECT {ORDER_COLUMNS} FROM orders
            WHERE driver_id IS NOT NULL AND stop_index IS NOT NULL
              AND ($1::bigint IS NULL OR driver_id = $1)
            ORDER BY driver_id, stop_index""",
        driver_id,
    )
    return [order_of_row(r) for r in rows]


async def announce_delay(conn: Conn, order_id: int, eta_at: datetime, window_end: datetime) -> bool:
    """Claim the right to announce a delay: True when no delay was announced yet, or the ETA
    now lies beyond the last announced window (which becomes `window_end`). Atomic."""
    status = await conn.execute(
        """UPDATE orders SET delay_announced_until = $3
           WHERE id = $1 AND (delay_announced_until IS NULL OR delay_announced_until < $2)""",
        order_id,
        eta_at,
        window_end,
    )
    return status.endswith(" 1")
