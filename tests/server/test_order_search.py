"""Customer-service search (`GET /api/orders?q=`) and the exact filters (`reference=`,
`email=`, `phone=`), which used to be ignored (every order answered); unknown query
parameters are 422, named."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server

ORDERS: dict[str, dict[str, Any]] = {
    "cleo": {
        "reference": "SHOP-1001",
        "customer": {"name": "Cleo Martins", "email": "Cleo.Martins@example.com",
                     "phone": "+351 912 345 678"},
    },
    "ana": {
        "reference": "SHOP-2002",
        "customer": {"name": "Ana Sousa", "email": "ana@example.org", "phone": "+34600111222"},
    },
    "odd": {"reference": "X_1%", "customer": {"name": "Per Cent"}},
}  # fmt: skip


class Finder:
    """The names of the orders a query string answers, or (status, error)."""

    def __init__(self, dispatch: Dispatch, by_id: dict[int, tuple[str, str]]) -> None:
        self.dispatch = dispatch
        self.names = {order_id: name for order_id, (name, _) in by_id.items()}
        self.codes = {name: code for name, code in by_id.values()}

    async def __call__(self, params: str) -> list[str] | tuple[int, str]:
        answer = await self.dispatch.client.get(f"/api/orders?{params}")
        if answer.status_code != 200:
            return answer.status_code, answer.json()["error"]
        return [self.names[o["id"]] for o in answer.json()["orders"]]


@pytest.fixture
async def found(settings: Settings, db: asyncpg.Connection) -> AsyncIterator[Finder]:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        by_id = {}
        for name, fields in ORDERS.items():
            made = await dispatch.order(**fields)
            by_id[made["id"]] = (name, made["tracking_code"])
        yield Finder(dispatch, by_id)


SEARCHES = [
    ("q=martins", ["cleo"]),  # part of a name, any case
    ("q=CLEO.MART", ["cleo"]),  # part of an email
    ("q=example.org", ["ana"]),
    ("q=SHOP-", ["cleo", "ana"]),  # part of a reference
    ("q=912%20345", ["cleo"]),  # a phone as read out, with spaces
    ("q=%2B34600", ["ana"]),  # "+34600"
    ("q=_1%25", ["odd"]),  # "_1%": the wildcards are the characters, not wildcards
    ("q=nobody", []),
    ("q=shop&status=confirmed&limit=1", ["cleo"]),  # with the other filters and paging
    ("reference=SHOP-1001", ["cleo"]),
    ("reference=SHOP", []),  # exact, not a prefix
    ("email=cleo.martins%40EXAMPLE.com", ["cleo"]),  # exact, any case
    ("email=cleo", []),
    ("email=%25", []),  # "%" is a character here too
    ("phone=%2B351%20912-345-678", ["cleo"]),  # as E.164 once spaces and dashes go
    ("phone=%2B3460011122", []),
    ("reference=SHOP-2002&email=ana%40example.org", ["ana"]),
    ("reference=SHOP-2002&email=cleo.martins%40example.com", []),
]


@pytest.mark.parametrize(("params", "names"), SEARCHES, ids=[s[0] for s in SEARCHES])
async def test_search_and_exact_filters(found: Finder, params: str, names: list[str]) -> None:
    assert await found(params) == names


async def test_a_tracking_code_as_the_customer_reads_it(found: Finder) -> None:
    code = found.codes["ana"]  # like 7KQ2-M9XD-3HVA-PR4T
    assert await found(f"q={code}") == ["ana"]
    assert await found(f"q={code[5:14].lower()}") == ["ana"]  # a part, dash and all


REFUSED = [
    ("q=ab", "q must be 3 to 200 characters"),
    ("q=%20%20ab%20", "q must be 3 to 200 characters"),
    ("q=" + "a" * 201, "q must be at most 200 characters"),
    ("q=abc%00", "q holds a control character"),
    ("reference=%00", "reference holds a control character"),
    ("emial=cleo%40example.com", "unknown query parameters: emial"),
    ("zzz=1&aaa=2&limit=5", "unknown query parameters: aaa, zzz"),
]


@pytest.mark.parametrize(("params", "says"), REFUSED, ids=[r[0][:30] for r in REFUSED])
async def test_bad_queries_are_named(found: Finder, params: str, says: str) -> None:
    status, error = await found(params)
    assert status == 422 and says in error


async def test_the_csv_export_is_filtered_alike(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        for fields in ORDERS.values():
            await dispatch.order(**fields)
        answer = await dispatch.client.get("/api/orders?format=csv&q=sousa")
    rows = answer.text.strip().splitlines()
    assert answer.status_code == 200 and len(rows) == 2, rows  # the header and Ana's
    assert "SHOP-2002" in rows[1]


async def test_a_trigram_index_serves_every_searched_column(db: asyncpg.Connection) -> None:
    rows = await db.fetch("SELECT indexdef FROM pg_indexes WHERE indexname LIKE 'orders_search_%'")
    definitions = " ".join(r["indexdef"] for r in rows)
    assert len(rows) == 5 and definitions.count("USING gin") == 5
    for column in ("reference", "tracking_code", "customer_name", "customer_email",
                   "customer_phone"):  # fmt: skip
        assert f"({column} gin_trgm_ops)" in definitions
