"""The `support` API key role: reads orders, their timelines and notification logs; every
other API-key route is 403, driven from the OpenAPI table so that a new route cannot be
forgotten; never a position (no fleet socket, no live leg, no tracks, no CSV export)."""

from __future__ import annotations

import re

import asyncpg
import httpx
import pytest

from server.base.settings import Settings
from server.edges.guards import ROLES
from server.edges.rest.api_table import OPERATIONS
from server.edges.rest.api_types import Op
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import ADMIN, Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.test_courier_actions import with_mail
from tests.server.waiting import eventually
from tests.server.watcher import Watcher

SUPPORT_READS = {
    ("GET", "/api/orders"),
    ("GET", "/api/orders/{order_id}"),
    ("GET", "/api/orders/{order_id}/notifications"),
}
KEYED = [op for op in OPERATIONS if op.auth in ROLES]


async def support_key(server: RunningServer) -> str:
    async with server.http() as client:
        made = await client.post(
            "/api/keys", json={"name": "agent", "role": "support"}, headers=ADMIN
        )
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "support"
    return str(made.json()["key"])


async def agent(server: RunningServer) -> httpx.AsyncClient:
    """A customer-service agent's client: a new support key in every request."""
    key = await support_key(server)
    return httpx.AsyncClient(base_url=server.base_url, headers={"Authorization": f"Bearer {key}"})


def concrete(op: Op, order_id: int) -> str:
    """The op's path with every parameter filled in: the order for `{order_id}`, 1 else."""
    return re.sub(r"\{[a-z_]+\}", "1", op.path.replace("{order_id}", str(order_id)))


def test_support_reads_exactly_what_the_brief_allows_and_changes_nothing() -> None:
    allowed = {(op.method, op.path) for op in KEYED if op.auth == "support"}
    assert allowed == SUPPORT_READS
    assert ROLES.index("support") < ROLES.index("dispatcher")


@pytest.mark.parametrize("op", KEYED, ids=[f"{op.method} {op.path}" for op in KEYED])
async def test_each_api_key_route_answers_a_support_key_by_its_role(
    settings: Settings, db: asyncpg.Connection, op: Op
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        async with await agent(server) as client:
            body: dict[str, object] | None = {} if op.method == "POST" else None
            answer = await client.request(op.method, concrete(op, order["id"]), json=body)
    if op.auth == "support":
        assert answer.status_code == 200, answer.text
    else:
        assert answer.status_code == 403, answer.text
        assert f"needs the {op.auth} role" in answer.json()["error"]
    assert await db.fetchval("SELECT count(*) FROM orders") == 1  # nothing made, nothing gone


async def test_support_never_sees_positions(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        key = await support_key(server)
        agent = {"Authorization": f"Bearer {key}"}
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order(lon=11.95, lat=50.31)
        await dispatch.out_for_delivery(order["id"], driver_id)  # no route: the server makes one
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, now(), 11.9123, 50.3045))
            await courier.wait_acked({1})
        etas = server.services.live.etas
        await eventually(lambda: etas.leg(order["id"]) is not None, what="the courier's leg")
        dispatcher = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
        async with httpx.AsyncClient(base_url=server.base_url, headers=agent) as client:
            one = (await client.get(f"/api/orders/{order['id']}")).json()
            page = (await client.get("/api/orders")).json()
            csv = await client.get("/api/orders?format=csv")
            timeline = [s["status"] for s in one["timeline"]]
        fleet = Watcher(f"{server.ws_url}/ws/fleet?token={key}")
        await fleet.connect()
        code = await fleet.wait_closed()
    assert "11.9123" in str(dispatcher["route"])  # the live leg starts at the courier
    assert one["route"] is None and page["orders"][0]["route"] is None
    assert "11.9123" not in str(one) and "11.9123" not in str(page)
    assert one["customer"]["name"] == "Cleo" and one["eta"] is not None
    assert timeline == ["confirmed", "shipped", "out_for_delivery"]
    assert csv.status_code == 403 and "dispatcher" in csv.json()["error"]
    assert code == 4403 and fleet.of_type("snapshot") == []


async def test_support_reads_an_orders_notification_log(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = with_mail(settings)  # to a closed port: the message stays in the log, pending
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        async with await agent(server) as client:
            log = await client.get(f"/api/orders/{order['id']}/notifications")
    assert log.status_code == 200
    assert [(m["event"], m["target"]) for m in log.json()] == [("confirmed", "cleo@example.com")]


async def test_an_unknown_role_is_refused_with_the_roles_named(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, server.http() as client:
        made = await client.post("/api/keys", json={"name": "x", "role": "agent"}, headers=ADMIN)
    assert made.status_code == 422
    assert "support, dispatcher, admin" in made.json()["error"]
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0
