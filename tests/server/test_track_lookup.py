"""`GET /api/track/{code}`: the customer's view, forgiving input, no enumeration."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import asyncpg

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server


async def test_customer_view_shows_only_what_they_need(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Dana", phone="+351911111111")
        mine = await dispatch.order(
            reference="A-1", customer={"name": "Cleo", "phone": "+351922222222"}
        )
        other = await dispatch.order(reference="B-2", lon=11.99, lat=50.33)
        await dispatch.out_for_delivery(mine["id"], driver_id)
        await dispatch.out_for_delivery(other["id"], driver_id)
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, now(), 11.91, 50.305))
            await courier.wait_acked({1})
        typed = mine["tracking_code"].lower().replace("-", " ")
        async with server.http() as client:
            response = await client.get(f"/api/track/{typed}")
    assert response.status_code == 200
    view = response.json()
    assert view["status"] == "out_for_delivery" and view["reference"] == "A-1"
    assert [e["status"] for e in view["timeline"]] == ["confirmed", "shipped", "out_for_delivery"]
    assert view["courier"]["lat"] == 50.305 and view["courier"]["lon"] == 11.91
    text = response.text
    for secret in ("Dana", "+351911111111", "+351922222222", "B-2", "admin", "11.99"):
        assert secret not in text
    assert not {"id", "driver_id", "customer", "stop_index"} & set(view)


async def test_unknown_and_expired_codes_look_the_same(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, tracking_link_ttl_s=0.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        await dispatch.status(order["id"], "cancelled")
        async with server.http() as client:
            expired = await client.get(f"/api/track/{order['tracking_code']}")
            unknown = await client.get("/api/track/0000-0000-0000-0000")
            malformed = await client.get("/api/track/hello")
    assert expired.status_code == unknown.status_code == malformed.status_code == 404
    assert expired.content == unknown.content == malformed.content


async def test_closed_order_link_lives_until_it_expires(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id)
        await dispatch.status(order["id"], "delivered")
        async with server.http() as client:
            view = (await client.get(f"/api/track/{order['tracking_code']}")).json()
    assert view["status"] == "delivered" and view["courier"] is None and view["route"] is None
    expires = view["expires_at"].replace("Z", "+00:00")
    assert datetime.fromisoformat(expires) > now() + timedelta(days=6)


async def test_lookups_are_rate_limited_per_address(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, track_lookup_burst=5, track_lookups_per_min=1.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        async with server.http() as client:
            guesses = [await client.get(f"/api/track/{i:04d}-0000-0000-0000") for i in range(5)]
            blocked = await client.get(f"/api/track/{order['tracking_code']}")  # even a real one
    assert [g.status_code for g in guesses] == [404] * 5
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
