"""Orders assigned without a route get legs routed on the Porto network (issue 19): from the
courier for the first stop, from the previous stop after; no network or a place off it
leaves the provisional line with the reason; a courier who leaves the route is re-routed
from where they are, once per interval, and the customer gets the new line."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import timedelta
from typing import Any

import asyncpg

from geo.distance import haversine_m
from server.base.settings import Settings
from server.store import roads
from server.usecases.router import NO_NETWORK
from server.usecases.routing import Routing
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.watcher import Watcher

START = (-8.6110, 41.1496)  # Avenida dos Aliados
FIRST = (-8.6005, 41.1450)  # towards Batalha
SECOND = (-8.6030, 41.1300)  # down by the river
AWAY = (-8.6180, 41.1530)  # the other way: north-west, past Cordoaria


def routing_of(server: RunningServer) -> Routing:
    routing = server.services.routing
    assert routing is not None
    return routing


async def order_view(dispatch: Dispatch, order_id: int) -> dict[str, Any]:
    response = await dispatch.client.get(f"/api/orders/{order_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def routed(dispatch: Dispatch, routing: Routing, order_id: int) -> dict[str, Any]:
    """The order's view once its leg is routed on the network. A status change reaches the
    live run (and so the router) after its answer: `idle()` alone can come too early."""
    async with asyncio.timeout(30):
        while (view := await order_view(dispatch, order_id))["route"]["properties"].get(
            "source"
        ) != "network":
            await routing.idle()
            await asyncio.sleep(0.02)
    await routing.idle()
    return view


async def test_assigned_stops_get_routed_legs_and_confident_etas(
    settings: Settings, db: asyncpg.Connection, porto_roads: roads.Network
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(0, now(), *START, speed=6.0))
            await courier.wait_acked({0})
            first = await dispatch.order(lon=FIRST[0], lat=FIRST[1])
            second = await dispatch.order(lon=SECOND[0], lat=SECOND[1])
            await dispatch.assign(first["id"], driver_id)
            await dispatch.assign(second["id"], driver_id)
            await routing_of(server).idle()
            views = [await order_view(dispatch, o["id"]) for o in (first, second)]
    stored = {r["id"]: r for r in await db.fetch("SELECT id, route FROM orders ORDER BY id")}
    for view, destination in zip(views, (FIRST, SECOND), strict=True):
        row = stored[view["id"]]
        assert row["route"]["properties"]["source"] == "network"
        leg = view["route"]
        assert leg["properties"]["provisional"] is False
        assert leg["properties"]["source"] == "network"
        assert leg["geometry"]["coordinates"][-1] == list(destination)
        assert view["eta"] is not None and view["eta"]["confidence"] != "low"
    # First leg from the courier, second from the first stop.
    assert views[0]["route"]["geometry"]["coordinates"][0] == list(START)
    assert views[1]["route"]["geometry"]["coordinates"][0] == list(FIRST)
    # ETAs follow the legs' road times: the second stop comes after the first.
    assert views[1]["eta"]["eta_s"] > views[0]["eta"]["eta_s"] > 0


async def test_without_a_network_or_off_it_the_line_stays_provisional_with_the_reason(
    settings: Settings, db: asyncpg.Connection, porto_roads: roads.Network
) -> None:
    no_bikes = dataclasses.replace(settings, routing_profile="bike")  # none imported
    lisbon = (-9.1393, 38.7223)
    async with run_server(no_bikes) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(0, now(), *START))
            await courier.wait_acked({0})
            order = await dispatch.order(lon=FIRST[0], lat=FIRST[1])
            await dispatch.assign(order["id"], driver_id)
            await routing_of(server).idle()
            view = await order_view(dispatch, order["id"])
    assert view["route"]["properties"] == {"provisional": True, "route_note": NO_NETWORK}
    assert view["eta"]["confidence"] == "low"
    assert await db.fetchval("SELECT route FROM orders WHERE id = $1", order["id"]) is None

    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Rui")
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(0, now(), *START))
            await courier.wait_acked({0})
            far = await dispatch.order(lon=lisbon[0], lat=lisbon[1])
            await dispatch.assign(far["id"], driver_id)
            await routing_of(server).idle()
            view = await order_view(dispatch, far["id"])
    note = view["route"]["properties"]["route_note"]
    assert view["route"]["properties"]["provisional"] is True
    assert "destination is" in note and "outside the imported area" in note


async def test_off_route_is_rerouted_from_the_courier_once_per_interval(
    settings: Settings, db: asyncpg.Connection, porto_roads: roads.Network
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        routing = routing_of(server)
        driver_id, token = await server.create_driver()
        # The way the courier will really drive: along the streets towards AWAY.
        detour, note = await routing.router.leg(START, AWAY)
        assert detour is not None, note
        points = along(detour["geometry"]["coordinates"], step_m=40.0)
        assert len(points) > 20
        order = await dispatch.order(lon=FIRST[0], lat=FIRST[1])
        t0 = now() - timedelta(minutes=10)
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(0, t0, *START, speed=8.0))
            await courier.wait_acked({0})
            await dispatch.out_for_delivery(order["id"], driver_id)
            planned = (await routed(dispatch, routing, order["id"]))["route"]
            assert planned["properties"]["source"] == "network"
            async with (
                Watcher(f"{server.ws_url}/ws/track/{order['tracking_code']}") as customer,
                Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet,
            ):
                await customer.wait_until(lambda: bool(customer.of_type("snapshot")))
                await fleet.wait_until(lambda: bool(fleet.of_type("snapshot")))
                for seq, point in enumerate(points, 1):  # 5 s apart: 8 m/s
                    await courier.send(fix(seq, t0 + timedelta(seconds=5 * seq), *point, speed=8.0))
                    await courier.wait_acked({seq})
                await routing.idle()
                await customer.wait_until(lambda: bool(customer.of_type("route")))
                shown = customer.of_type("route")
                await fleet.wait_until(lambda: any(a["kind"] == "rerouted" for a in alerts(fleet)))
                told = [a for a in alerts(fleet) if a["kind"] == "rerouted"]
            rerouted = (await order_view(dispatch, order["id"]))["route"]
        assert routing.reroutes == 1  # off route again on the new line: within the interval
    assert planned["geometry"]["coordinates"][0] == list(START)
    lon, lat = rerouted["geometry"]["coordinates"][0]
    begins = (lon, lat)
    assert haversine_m(*begins, *START) > 100.0  # from where the courier went, not the start
    assert min(haversine_m(*begins, *p) for p in points) < 1.0
    assert rerouted["geometry"]["coordinates"][-1] == list(FIRST)
    assert rerouted["properties"]["source"] == "network"
    assert len(shown) == 1 and shown[0]["route"] is not None
    assert [(a["driver_id"], a["order_id"]) for a in told] == [(driver_id, order["id"])]
    stored = await db.fetchval("SELECT route FROM orders WHERE id = $1", order["id"])
    assert stored["geometry"]["coordinates"][0] == [lon, lat]


def alerts(fleet: Watcher) -> list[dict[str, Any]]:
    return [dict(m) for m in fleet.of_type("alert")]


def along(coords: list[list[float]], step_m: float) -> list[tuple[float, float]]:
    """Points every `step_m` along a line (lon, lat), its end included."""
    points: list[tuple[float, float]] = []
    carry = 0.0
    for (x1, y1), (x2, y2) in itertools.pairwise(coords):
        length = haversine_m(x1, y1, x2, y2)
        at = step_m - carry
        while at <= length:
            f = at / length
            points.append((x1 + f * (x2 - x1), y1 + f * (y2 - y1)))
            at += step_m
        carry = (carry + length) % step_m
    points.append((coords[-1][0], coords[-1][1]))
    return points
