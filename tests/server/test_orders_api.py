"""Dispatcher REST for orders: create, read, list, status changes, assignment, keys."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings
from tests.server.courier import now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server

GOOD: dict[str, Any] = {
    "reference": "A-1001",
    "customer": {"name": "Cleo", "email": "cleo@example.com", "phone": "+351 912 345 678"},
    "destination": {"lat": 41.15, "lon": -8.61, "address": "Rua das Flores 1, Porto"},
}


async def test_create_and_read(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        created = await dispatch.order(**GOOD, promised_by=(now() + timedelta(hours=2)).isoformat())
        got = (await dispatch.client.get(f"/api/orders/{created['id']}")).json()
    assert created["status"] == "confirmed"
    code = created["tracking_code"]
    assert len(code) == 19 and code.count("-") == 3
    assert created["tracking_url"] == f"{settings.base_url}/t/{code}"
    assert created["customer"]["phone"] == "+351912345678"  # stored as E.164
    assert got["destination"] == {"lat": 41.15, "lon": -8.61, "address": "Rua das Flores 1, Porto"}
    assert [(e["status"], e["actor"]) for e in got["timeline"]] == [("confirmed", "admin")]
    stored = await db.fetchval("SELECT tracking_code FROM orders WHERE id = $1", created["id"])
    assert stored == code.replace("-", "")


BAD_ORDERS = [
    ("no customer", {"destination": GOOD["destination"]}, "customer"),
    ("no destination", {"customer": GOOD["customer"]}, "destination"),
    ("lat 91", {**GOOD, "destination": {"lat": 91, "lon": 0}}, "lat"),
    ("lon as text", {**GOOD, "destination": {"lat": 1, "lon": "x"}}, "lon"),
    ("bad email", {**GOOD, "customer": {"name": "C", "email": "not-an-email"}}, "email"),
    ("bad phone", {**GOOD, "customer": {"name": "C", "phone": "0912 345"}}, "E.164"),
    ("empty name", {**GOOD, "customer": {"name": ""}}, "name"),
    ("naive promise", {**GOOD, "promised_by": "2026-01-01T10:00:00"}, "promised_by"),
    (
        "window backwards",
        {**GOOD, "window": {"start": "2026-01-01T12:00:00Z", "end": "2026-01-01T10:00:00Z"}},
        "window",
    ),
]


@pytest.mark.parametrize(("case", "body", "text"), BAD_ORDERS, ids=[c[0] for c in BAD_ORDERS])
async def test_bad_orders_are_refused(
    settings: Settings, db: asyncpg.Connection, case: str, body: dict[str, Any], text: str
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        response = await dispatch.client.post("/api/orders", json=body)
    assert response.status_code == 422
    assert text in response.json()["error"]
    assert await db.fetchval("SELECT count(*) FROM orders") == 0


async def test_status_changes_are_checked_and_logged(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        oid = order["id"]
        illegal = await dispatch.client.post(
            f"/api/orders/{oid}/status", json={"status": "delivered"}
        )
        unknown = await dispatch.client.post(f"/api/orders/{oid}/status", json={"status": "lost"})
        missing = await dispatch.client.post("/api/orders/9999/status", json={"status": "packed"})
        await dispatch.client.post(
            f"/api/orders/{oid}/status", json={"status": "packed", "note": "box 3"}
        )
        done = await dispatch.status(oid, "shipped", "out_for_delivery", "delivered")
        after_final = await dispatch.client.post(
            f"/api/orders/{oid}/status", json={"status": "packed"}
        )
    assert illegal.status_code == 409
    assert set(illegal.json()["allowed"]) == {
        "processing",
        "packed",
        "shipped",
        "out_for_delivery",
        "cancelled",
    }
    assert unknown.status_code == 422 and missing.status_code == 404
    assert [e["status"] for e in done["timeline"]] == [
        "confirmed",
        "packed",
        "shipped",
        "out_for_delivery",
        "delivered",
    ]
    assert done["timeline"][1]["note"] == "box 3" and done["closed_at"] is not None
    assert after_final.status_code == 409 and after_final.json()["allowed"] == ["returned"]
    # Status and timeline agree in the database.
    row = await db.fetchrow(
        """SELECT status, (SELECT count(*) FROM order_events WHERE order_id = $1) AS n
           FROM orders WHERE id = $1""",
        oid,
    )
    assert row is not None and row["status"] == "delivered" and row["n"] == 5


async def test_assign_builds_an_ordered_run(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        a, b, c = [await dispatch.order() for _ in range(3)]
        await dispatch.assign(a["id"], driver_id)
        await dispatch.assign(b["id"], driver_id)
        await dispatch.assign(c["id"], driver_id, stop_index=0)  # goes first
        route = {"type": "LineString", "coordinates": [[11.9, 50.3], [11.92, 50.31]]}
        with_route = await dispatch.assign(a["id"], driver_id, route=route, stop_index=2)
        unknown_driver = await dispatch.client.post(
            f"/api/orders/{b['id']}/assign", json={"driver_id": 999}
        )
        bad_route = await dispatch.client.post(
            f"/api/orders/{b['id']}/assign",
            json={"driver_id": driver_id, "route": {"type": "LineString", "coordinates": [[1, 2]]}},
        )
        await dispatch.status(b["id"], "cancelled")
        cancelled = await dispatch.client.post(
            f"/api/orders/{b['id']}/assign", json={"driver_id": driver_id}
        )
        listed = (await dispatch.client.get(f"/api/orders?driver_id={driver_id}")).json()["orders"]
    assert with_route["route"] == route
    assert unknown_driver.status_code == 422 and bad_route.status_code == 422
    assert cancelled.status_code == 409
    by_id = {o["id"]: o["stop_index"] for o in listed}
    assert by_id[c["id"]] < by_id[a["id"]]
    assert by_id[b["id"]] is None  # cancelled: off the run


async def test_list_filters_and_pages(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        late = await dispatch.order(promised_by=(now() - timedelta(minutes=5)).isoformat())
        on_time = await dispatch.order(promised_by=(now() + timedelta(hours=1)).isoformat())
        delivered_late = await dispatch.order(promised_by=(now() - timedelta(hours=1)).isoformat())
        driver_id, _ = await server.create_driver()
        await dispatch.out_for_delivery(delivered_late["id"], driver_id)
        await dispatch.status(delivered_late["id"], "delivered")
        get = dispatch.client.get
        late_ids = [o["id"] for o in (await get("/api/orders?late=true")).json()["orders"]]
        not_late = [o["id"] for o in (await get("/api/orders?late=false")).json()["orders"]]
        confirmed = [o["id"] for o in (await get("/api/orders?status=confirmed")).json()["orders"]]
        two = [
            o["id"] for o in (await get("/api/orders?status=confirmed,delivered")).json()["orders"]
        ]
        page1 = (await get("/api/orders?limit=2")).json()
        page2 = (await get(f"/api/orders?limit=2&after={page1['next_after']}")).json()
        bad = await get("/api/orders?status=lost")
    assert late_ids == [late["id"]]
    assert set(not_late) == {on_time["id"], delivered_late["id"]}
    assert confirmed == [late["id"], on_time["id"]]
    assert len(two) == 3
    assert [o["id"] for o in page1["orders"] + page2["orders"]] == [
        late["id"],
        on_time["id"],
        delivered_late["id"],
    ]
    assert page2["next_after"] is None
    assert bad.status_code == 422


async def test_late_false_pages_reach_every_order_on_time(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """The filter applies before the page is cut: a late order does not end the paging."""
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        await dispatch.order(promised_by=(now() - timedelta(minutes=5)).isoformat())
        on_time = [(await dispatch.order())["id"] for _ in range(2)]
        seen: list[int] = []
        after = 0
        for _ in range(4):  # two pages of one, then an empty one
            page = (
                await dispatch.client.get(f"/api/orders?late=false&limit=1&after={after}")
            ).json()
            seen += [o["id"] for o in page["orders"]]
            if page["next_after"] is None:
                break
            after = page["next_after"]
    assert seen == on_time


async def test_dispatcher_keys(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        made = await dispatch.client.post("/api/keys", json={"name": "desk 1"})
        key = made.json()["key"]
        headers = {"Authorization": f"Bearer {key}"}
        created = await dispatch.client.post("/api/orders", json=GOOD, headers=headers)
        cannot_make_keys = await dispatch.client.post(
            "/api/keys", json={"name": "x"}, headers=headers
        )
        bad_role = await dispatch.client.post("/api/keys", json={"name": "x", "role": "root"})
    assert made.status_code == 201 and made.json()["role"] == "dispatcher"
    assert created.status_code == 201 and created.json()["status"] == "confirmed"
    order = await db.fetchval(
        "SELECT actor FROM order_events WHERE order_id = $1", created.json()["id"]
    )
    assert order == "key:desk 1"
    assert cannot_make_keys.status_code == 403 and bad_role.status_code == 422
    assert key not in str(await db.fetch("SELECT * FROM api_keys"))
