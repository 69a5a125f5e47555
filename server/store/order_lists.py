"""SQL for lists of orders: a page for the API, every order for an export, filtered alike
(the one lateness rule, server/domain/lateness.py, written in SQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from server.domain import lateness
from server.domain.search import Search, like_escaped
from server.store import Conn
from server.store.orders import ORDER_COLUMNS, Order, order_of_row

# lateness.is_late in SQL ($6 now, e.eta_at the order's ETA or NULL, $9 the settled
# statuses); never NULL, so that `late=false` is its exact complement.
_LATE = """(o.status <> ALL($9::text[])
    AND coalesce(o.window_end, o.promised_by) IS NOT NULL
    AND (coalesce(o.window_end, o.promised_by) < $6
         OR coalesce(e.eta_at > coalesce(o.window_end, o.promised_by), false)))"""


# Exact filters ($14 reference, $15 email as an escaped ILIKE pattern: case-insensitive,
# $16 phone) and the search ($12 text, $13 code, $17 phone digits: ILIKE patterns,
# domain/search.py), all served by the orders_search_* trigram indexes. The search is a
# statement of its own: a generic plan for "$12 IS NULL OR …" would scan every order.
_SEARCH = """
      AND (o.reference ILIKE $12 OR o.customer_name ILIKE $12 OR o.customer_email ILIKE $12
           OR o.customer_phone ILIKE $12
           OR ($13::text IS NOT NULL AND o.tracking_code LIKE $13)
           OR ($17::text IS NOT NULL AND o.customer_phone LIKE $17))"""
_NO_SEARCH = """
      AND $12::text IS NULL AND $13::text IS NULL AND $17::text IS NULL"""


def _list_sql(search: bool) -> str:
    return f"""
    SELECT {ORDER_COLUMNS} FROM orders o
    LEFT JOIN unnest($7::bigint[], $8::timestamptz[]) AS e(order_id, eta_at)
        ON e.order_id = o.id
    WHERE o.id > $1
      AND ($2::text[] IS NULL OR o.status = ANY($2))
      AND ($3::bigint IS NULL OR o.driver_id = $3)
      AND ($4::boolean IS NULL OR $4 = {_LATE})
      AND ($10::timestamptz IS NULL OR o.created_at >= $10)
      AND ($11::timestamptz IS NULL OR o.created_at <= $11)
      AND ($14::text IS NULL OR o.reference = $14)
      AND ($15::text IS NULL OR o.customer_email ILIKE $15)
      AND ($16::text IS NULL OR o.customer_phone = $16){_SEARCH if search else _NO_SEARCH}
    ORDER BY o.id LIMIT $5"""


_LIST_SQL = _list_sql(search=False)
_SEARCH_SQL = _list_sql(search=True)


@dataclass(frozen=True, slots=True)
class Exact:
    """Exact filters (None: any): the reference, the email (case-insensitive), the phone
    (as stored, E.164)."""

    reference: str | None = None
    email: str | None = None
    phone: str | None = None


ANY = Exact()


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Which orders a list or an export holds. `search`, `exact`: customer service's
    (domain/search.py). `late`: only the orders that are (True) or
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
    search: Search | None = None
    exact: Exact = ANY

    @property
    def sql(self) -> str:
        return _LIST_SQL if self.search is None else _SEARCH_SQL

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
            None if self.search is None else self.search.text,
            None if self.search is None else self.search.code,
            self.exact.reference,
            None if self.exact.email is None else like_escaped(self.exact.email),
            self.exact.phone,
            None if self.search is None else self.search.phone,
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
    search: Search | None = None,
    exact: Exact = ANY,
) -> list[Order]:
    """A page of orders by id, after `after_id` (OrderFilter says which)."""
    which = OrderFilter(
        statuses, driver_id, late, now, eta_at, created_from, created_to, search, exact
    )
    return [order_of_row(r) for r in await conn.fetch(which.sql, *which.args(after_id, limit))]


async def export_orders(
    conn: Conn, which: OrderFilter, batch_rows: int = 1_000
) -> AsyncIterator[list[Order]]:
    """Every order `which` holds, by id, in batches through a server-side cursor (never
    all in memory). Must run inside a transaction, which the caller owns."""
    cursor = await conn.cursor(which.sql, *which.args(0, None))
    while rows := await cursor.fetch(batch_rows):
        yield [order_of_row(r) for r in rows]
