"""The trigram search indexes on orders keep no GIN pending list (migration 0021).

With one, right after orders were loaded in bulk (before the table's first vacuum), the
planner served a batch of customers' lookups by tracking code from orders_search_code:
7.1 s for 1,000 codes at 7,500 orders, against 3.7 ms from the unique index (measured on
a scratch database; the planner's choice depends on autovacuum's timing, so this test
pins the setting, not the plan)."""

from __future__ import annotations

import asyncpg

from server.domain.codes import new_code
from server.store import order_reads

SEARCH_INDEXES = (
    "orders_search_reference", "orders_search_code", "orders_search_name",
    "orders_search_email", "orders_search_phone",
)  # fmt: skip


async def test_the_search_indexes_keep_no_pending_list(db: asyncpg.Connection) -> None:
    rows = await db.fetch(
        "SELECT relname, reloptions FROM pg_class WHERE relname = ANY($1)", list(SEARCH_INDEXES)
    )
    assert {r["relname"]: r["reloptions"] for r in rows} == {
        name: ["fastupdate=off"] for name in SEARCH_INDEXES
    }


async def test_a_batch_of_codes_finds_its_orders(db: asyncpg.Connection) -> None:
    codes = [new_code() for _ in range(200)]
    await db.executemany(
        """INSERT INTO orders (tracking_code, customer_name, destination, status)
           VALUES ($1, 'Ana', ST_SetSRID(ST_MakePoint(11.9, 50.3), 4326), 'confirmed')""",
        [(c,) for c in codes],
    )
    found = await order_reads.orders_by_codes(db, [*codes[::7], "NOSUCHCODE"])
    assert sorted(found) == sorted(codes[::7])
