"""The customer's self-service on the tracking link (`POST /api/track/{code}/…`): each in
the states it is allowed in and 409 naming the state otherwise, seen by the courier and by
dispatch; unknown and expired codes 404, rate-limited as lookups."""

from __future__ import annotations

import dataclasses
from typing import Any

import asyncpg
import httpx

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.processes import require_redis, server_processes
from tests.server.test_courier_actions import courier_socket, run_ids
from tests.server.test_scale_out import DESTINATION, bus_env
from tests.server.watcher import Watcher

ROUTES = ("instructions", "issues", "rating", "reattempt")


def roomy(settings: Settings) -> Settings:
    """Lookups not limited: these tests make more than a customer would in a minute."""
    return dataclasses.replace(settings, track_lookup_burst=1_000, fleet_interval_ms=20.0)


async def post(server: RunningServer, code: str, what: str, body: Any) -> httpx.Response:
    async with server.http() as client:
        return await client.post(f"/api/track/{code}/{what}", json=body)


async def test_instructions_reach_the_courier_and_dispatch_until_out_for_delivery(
    settings: Settings, db: asyncpg.Connection
) -> None:
    text = 'Ring twice; parcel behind the <b>blue</b> gate "B"'
    async with run_server(roomy(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order()
        code = order["tracking_code"]
        await dispatch.status(order["id"], "shipped")
        await dispatch.assign(order["id"], driver_id)
        async with courier_socket(server, token) as socket:
            first = await socket.next_of("run", lambda m: run_ids(m) == [order["id"]], 0)
            since = socket.mark()
            stored = await post(server, code, "instructions", {"text": f"  {text} \n"})
            run = await socket.next_of("run", lambda m: run_ids(m) == [order["id"]], since)
        seen = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
        listed = (await dispatch.client.get("/api/orders")).json()["orders"]
        async with server.http() as client:
            public = (await client.get(f"/api/track/{code}")).json()
        await dispatch.status(order["id"], "out_for_delivery")
        late = await post(server, code, "instructions", {"text": "too late"})
        for status in ("arrived", "delivered"):
            await dispatch.status(order["id"], status)
            refused = await post(server, code, "instructions", {"text": ""})
            assert refused.status_code == 409 and refused.json()["status"] == status
    assert first["stops"][0]["delivery_instructions"] is None
    assert stored.status_code == 200, stored.text
    assert stored.json() == {"delivery_instructions": text, "status": "shipped"}
    assert stored.headers["x-content-type-options"] == "nosniff"
    assert stored.headers["cache-control"] == "no-store"
    assert run["stops"][0]["delivery_instructions"] == text
    assert seen["delivery_instructions"] == text == listed[0]["delivery_instructions"]
    assert public["delivery_instructions"] == text  # the customer's own, to edit
    assert late.status_code == 409
    assert late.json() == {
        "error": "delivery instructions can no longer be changed: the order is out_for_delivery",
        "status": "out_for_delivery",
    }
    stored_text = await db.fetchval("SELECT delivery_instructions FROM orders")
    assert stored_text == text


async def test_empty_instructions_remove_them(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(roomy(settings)) as server, Dispatch(server) as dispatch:
        code = (await dispatch.order())["tracking_code"]
        await post(server, code, "instructions", {"text": "Leave with the neighbour"})
        cleared = await post(server, code, "instructions", {"text": "   "})
    assert cleared.json() == {"delivery_instructions": None, "status": "confirmed"}
    assert await db.fetchval("SELECT delivery_instructions FROM orders") is None


async def test_rating_only_once_delivered_and_a_new_one_replaces_it(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(roomy(settings)) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order()
        code = order["tracking_code"]
        early = await post(server, code, "rating", {"score": 5})
        await dispatch.out_for_delivery(order["id"], driver_id)
        on_the_way = await post(server, code, "rating", {"score": 5})
        await dispatch.status(order["id"], "delivered")
        first = await post(server, code, "rating", {"score": 2, "comment": "Box crushed"})
        second = await post(server, code, "rating", {"score": 4, "comment": " fine after all "})
        seen = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
        await dispatch.status(order["id"], "returned")
        returned = await post(server, code, "rating", {"score": 1})
    assert early.status_code == on_the_way.status_code == returned.status_code == 409
    assert early.json()["status"] == "confirmed" and on_the_way.json()["status"] == (
        "out_for_delivery"
    )
    assert returned.json()["status"] == "returned"
    assert first.status_code == second.status_code == 200
    assert first.json()["score"] == 2 and second.json()["comment"] == "fine after all"
    assert seen["rating"]["score"] == 4 and seen["rating"]["comment"] == "fine after all"
    rows = await db.fetch("SELECT score, comment FROM order_ratings")
    assert [tuple(r) for r in rows] == [(4, "fine after all")]


async def test_reattempt_after_a_failure_puts_the_order_back_with_dispatch(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(roomy(settings)) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver("Ana")
        order = await dispatch.order()
        oid, code = order["id"], order["tracking_code"]
        early = await post(server, code, "reattempt", {})
        await dispatch.out_for_delivery(oid, driver_id)
        await dispatch.status(oid, "failed")
        async with Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet:
            since = fleet.mark()
            asked = await post(server, code, "reattempt", {"note": "Home after 6 pm"})
            alert = await fleet.next_of(
                "alert", lambda m: m["kind"] == "reattempt_requested", since
            )
        again = await post(server, code, "reattempt", {"note": "again"})
        seen = (await dispatch.client.get(f"/api/orders/{oid}")).json()
        on_run = [s.order_id for s in server.services.live.runs.stops(driver_id)]
        async with server.http() as client:
            public = (await client.get(f"/api/track/{code}")).json()
        await dispatch.assign(oid, driver_id)  # dispatch plans the new attempt
        replanned = await dispatch.status(oid, "out_for_delivery")
    assert early.status_code == 409 and early.json()["status"] == "confirmed"
    assert asked.status_code == 200, asked.text
    assert asked.json()["status"] == "shipped" and asked.json()["note"] == "Home after 6 pm"
    assert again.status_code == 409 and again.json()["status"] == "shipped"
    assert alert["order_id"] == oid and alert["driver_id"] == driver_id
    assert alert["detail"] == "Home after 6 pm"
    assert seen["status"] == "shipped" and seen["stop_index"] is None  # off the run
    assert [(s["status"], s["actor"], s["note"]) for s in seen["timeline"][-2:]] == [
        ("failed", "admin", None),
        ("shipped", "customer", "Home after 6 pm"),
    ]
    assert on_run == []  # not back on the courier's run until dispatch assigns it
    assert public["status"] == "shipped"
    assert public["timeline"][-1]["note"] == "Home after 6 pm"
    assert replanned["status"] == "out_for_delivery" and replanned["stop_index"] == 0


async def test_unknown_and_expired_codes_are_404_for_every_route(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(roomy(settings), tracking_link_ttl_s=0.0)
    bodies = {"instructions": {"text": "x"}, "issues": {"reason": "late"},
              "rating": {"score": 5}, "reattempt": {}}  # fmt: skip
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        await dispatch.status(order["id"], "cancelled")  # closed: its link expires at once
        answers = [
            await post(server, code, what, bodies[what])
            for what in ROUTES
            for code in (order["tracking_code"], "0000-0000-0000-0000", "hello")
        ]
    assert {a.status_code for a in answers} == {404}
    assert len({a.content for a in answers}) == 1  # expired, unknown, malformed: the same
    assert await db.fetchval("SELECT count(*) FROM order_issues") == 0


async def test_every_route_spends_the_lookup_budget(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, track_lookup_burst=4, track_lookups_per_min=1.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        code = (await dispatch.order())["tracking_code"]
        guesses = [
            await post(server, f"{i:04d}-0000-0000-0000", what, {}) for i, what in enumerate(ROUTES)
        ]
        blocked = [await post(server, code, what, {"text": "x"}) for what in ROUTES]
    assert [g.status_code for g in guesses] == [404] * 4
    assert [b.status_code for b in blocked] == [429] * 4
    assert all(int(b.headers["retry-after"]) >= 1 for b in blocked)
    assert await db.fetchval("SELECT delivery_instructions FROM orders") is None


async def test_instructions_reach_a_courier_connected_to_another_process(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    async with server_processes(settings, ["A", "B"], bus_env()) as (a, b):
        driver_id, token = await a.create_driver("Ana")
        async with b.http() as dispatch:  # the bootstrap admin's client
            made = await dispatch.post(
                "/api/orders", json={"customer": {"name": "Cleo"}, "destination": DESTINATION}
            )
            order = made.json()
            await dispatch.post(f"/api/orders/{order['id']}/status", json={"status": "shipped"})
            await dispatch.post(f"/api/orders/{order['id']}/assign", json={"driver_id": driver_id})
        async with Watcher(f"{a.ws_url}/ws/driver?token={token}") as socket:
            await socket.next_of("run", lambda m: run_ids(m) == [order["id"]], 0)
            since = socket.mark()
            async with httpx.AsyncClient(base_url=b.base_url) as customer:  # on B
                stored = await customer.post(
                    f"/api/track/{order['tracking_code']}/instructions", json={"text": "Gate 4711"}
                )
            assert stored.status_code == 200, stored.text
            run = await socket.next_of(
                "run", lambda m: m["stops"][0]["delivery_instructions"] == "Gate 4711", since
            )
    assert run_ids(run) == [order["id"]]
