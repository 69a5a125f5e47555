"""SQL for lists of orders: a page for the API, every order for an export, filtered alike
(the one lateness rule, server/domain/lateness.py, written in SQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from server.domain import lateness
from server.store import Conn
from server.store.orders import ORDER_COLUMNS, Order, order_of_row

# lateness.is_late in SQL ($6 now, e.eta_at the order's ETA or NULL, $9 the settled
# statuses); never NULL, so that `late=false` is its exact complement.
_LATE = """(o.status <> ALL($9::text[])
    AND coalesce(o.window_end, o.promised_by) IS NOT NULL
    AND (coalesce(o.window_end, o.promised_by) < $6
         OR coalesce(e.eta_at > coalesce(o.window_end, o.promised_by), false)))"""


_LIST_SQL = f"""
    SELECT {ORDER_COLUMNS} FROM orders o
    LEFT JOIN unnest($7::bigint[], $8::timestamptz[]) AS e(order_id, eta_at)
        ON e.order_id = o.id
    WHERE o.id > $1
      AND ($2::text[] IS NULL OR o.status = ANY($2))
      AND ($3::bigint IS NULL OR o.driver_id = $3)
      AND ($4::boolean IS NULL OR $4 = {_LATE})
      AND ($10::timestamptz IS NULL OR o.created_at >= $10)
      AND ($11::timestamptz IS NULL OR o.created_at <= $11)
    ORDER BY o.id LIMIT $5"""


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a list or an export holds. `late`: only the orders that are (True) or
    are not (False) late at `now`, by the rule in server/domain/lateness.py, given the ETAs
    known in memory (`eta_at`, by order id); None: either. `created_from`/`created_to`:
    bounds (inclusive) on `created_at`; None: open."""

    statuses: list[str] | None
    driver_id: int | None
    late: bool | None
    now: datetime
    eta_at: dict[int, datetime]
    created_from: datetime | None = None
    created_to: datetime | None = None

    def args(self, after_id: int, limit: int | None) -> tuple[object, ...]:
        return (
            after_id,
            self.statuses,
            self.driver_id,
            self.late,
            limit,
            self.now,
            list(self.eta_at),
            list(self.eta_at.values()),
            sorted(s.value for s in lateness.SETTLED),
            self.created_from,
            self.created_to,
        )


async def list_orders(
    conn: Conn,
    *,
    statuses: list[str] | None,
    driver_id: int | None,
    late: bool | None,
    now: datetime,
    eta_at: dict[int, datetime],
    limit: int,
    after_id: int,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
) -> list[Order]:
    """A page of orders by id, after `after_id` (OrderFilter says which)."""
    which = OrderFilter(statuses, driver_id, late, now, eta_at, created_from, created_to)
    return [order_of_row(r) for r in await conn.fetch(_LIST_SQL, *which.args(after_id, limit))]


async def export_orders(
    conn: Conn, which: OrderFilter, batch_rows: int = 1_000
) -> AsyncIterator[list[Order]]:
    """Every order `which` holds, by id, in batches through a server-side cursor (never
    all in memory). Must run inside a transaction, which the caller owns."""
    cursor = await conn.cursor(_LIST_SQL, *which.args(0, None))
    while rows := await cursor.fetch(batch_rows):
        yield [order_of_row(r) for r in rows]
