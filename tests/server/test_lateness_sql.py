"""The `late=` filter's SQL (server/store/orders.py) and the rule in server/domain/lateness.py
decide alike: the same orders, statuses, promises and ETAs, in a real PostGIS."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import asyncpg

from server.domain import lateness
from server.domain.lifecycle import Status
from server.store import order_lists
from server.store import orders as store

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
S = Status

# How to reach each status through the lifecycle, from confirmed.
PATHS: dict[Status, list[Status]] = {
    S.CONFIRMED: [],
    S.PROCESSING: [S.PROCESSING],
    S.PACKED: [S.PACKED],
    S.SHIPPED: [S.SHIPPED],
    S.OUT_FOR_DELIVERY: [S.OUT_FOR_DELIVERY],
    S.ARRIVED: [S.OUT_FOR_DELIVERY, S.ARRIVED],
    S.DELIVERED: [S.OUT_FOR_DELIVERY, S.DELIVERED],
    S.FAILED: [S.SHIPPED, S.FAILED],
    S.CANCELLED: [S.CANCELLED],
    S.RETURNED: [S.SHIPPED, S.RETURNED],
}

# (promised_by, window end) as offsets from NOW; the window's end wins when there is one.
PROMISES: list[tuple[timedelta | None, timedelta | None]] = [
    (None, None),
    (-H, None),
    (timedelta(0), None),  # due exactly now
    (H, None),
    (-H, H),  # promised_by passed, but the window still open
    (H, -H),  # the window closed, though promised_by is ahead
]
ETAS: list[timedelta | None] = [None, H / 2, H, 2 * H]  # before, exactly at, after +1 h

# The rule as docs/api.md states it, case by case: (promise, window end, status, ETA, late?).
STATED: list[tuple[timedelta | None, timedelta | None, Status, timedelta | None, bool]] = [
    (None, None, S.OUT_FOR_DELIVERY, 2 * H, False),  # no promise: never late
    (-H, None, S.CONFIRMED, None, True),  # promise passed
    (-H, None, S.FAILED, None, True),  # a failed attempt is still open
    (-H, None, S.ARRIVED, None, True),  # at the door, not yet delivered: still open
    (timedelta(0), None, S.SHIPPED, None, False),  # due exactly now: not yet
    (H, None, S.OUT_FOR_DELIVERY, 2 * H, True),  # expected after the promise
    (H, None, S.OUT_FOR_DELIVERY, H, False),  # expected exactly at it
    (H, None, S.OUT_FOR_DELIVERY, H / 2, False),
    (-H, H, S.PACKED, None, False),  # the window's end is the promise
    (H, -H, S.PACKED, None, True),
    (-H, None, S.DELIVERED, None, False),  # settled: never late
    (-H, None, S.CANCELLED, None, False),
    (H, None, S.RETURNED, 2 * H, False),
]


def _at(offset: timedelta | None) -> datetime | None:
    return None if offset is None else NOW + offset


async def _order(
    db: asyncpg.Connection,
    promised: timedelta | None,
    window_end: timedelta | None,
    status: Status,
    number: int,
) -> store.Order:
    new = store.NewOrder(
        reference=None,
        tracking_code=f"CODE{number:012d}",
        customer_name="Cleo",
        customer_email=None,
        customer_phone=None,
        destination=(-8.61, 41.15),
        address=None,
        promised_by=_at(promised),
        window_start=None if window_end is None else NOW + window_end - H,
        window_end=_at(window_end),
    )
    order, _ = await store.create_order(db, new, "test", NOW - 3 * H)
    for step in PATHS[status]:
        changed = await store.change_status(db, order.id, step, "test", None, NOW - 2 * H)
        assert changed is not None
        order = changed[1]
    assert order.status is status
    return order


async def _sql_late(db: asyncpg.Connection, eta_at: dict[int, datetime]) -> dict[int, bool]:
    found: dict[int, bool] = {}
    for late in (True, False):
        for order in await order_lists.list_orders(
            db,
            statuses=None,
            driver_id=None,
            late=late,
            now=NOW,
            eta_at=eta_at,
            limit=10_000,
            after_id=0,
        ):
            assert order.id not in found  # late=true and late=false never overlap
            found[order.id] = late
    return found


async def test_the_sql_filter_and_the_rule_agree(db: asyncpg.Connection) -> None:
    cases = [
        (promised, window_end, status, eta)
        for (promised, window_end), status, eta in itertools.product(PROMISES, Status, ETAS)
    ] + [case[:4] for case in STATED]
    orders: list[tuple[store.Order, datetime | None]] = []
    for number, (promised, window_end, status, eta) in enumerate(cases):
        orders.append((await _order(db, promised, window_end, status, number), _at(eta)))
    eta_at = {order.id: eta for order, eta in orders if eta is not None}

    in_sql = await _sql_late(db, eta_at)
    in_python = {
        order.id: lateness.is_late(order.due_by, order.status, eta, NOW) for order, eta in orders
    }

    assert in_sql == in_python  # every order in exactly one of late=true, late=false
    stated = orders[-len(STATED) :]
    assert [in_python[order.id] for order, _ in stated] == [case[4] for case in STATED]
    assert 0 < sum(in_python.values()) < len(orders)
