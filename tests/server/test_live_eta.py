"""ETAs on the live path: positions carry them, dispatchers see them, lateness uses them."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import asyncpg

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.watcher import Watcher

# A straight street east along lat 50.30: 1 km per 0.01407 degrees of longitude.
DEG_PER_KM = 0.01407
ROUTE = {"type": "LineString", "coordinates": [[11.90, 50.30], [11.90 + 2 * DEG_PER_KM, 50.30]]}
DESTINATION = (11.90 + 2 * DEG_PER_KM, 50.30)


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


async def test_positions_carry_the_eta_and_it_shrinks(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, fleet_interval_ms=20.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1])
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        t0 = now() - timedelta(minutes=5)
        async with Watcher(f"{server.ws_url}/ws/track/{order['tracking_code']}") as customer:
            async with Courier(server.ws_url, token) as courier:
                etas = []
                for i in range(0, 120, 10):  # 10 m/s east, a fix every 10 s, to 1.2 km
                    mark = customer.mark()
                    await courier.send(
                        fix(
                            i,
                            t0 + timedelta(seconds=i),
                            11.90 + i * 10 / 1000 * DEG_PER_KM,
                            50.30,
                            speed=10.0,
                        )
                    )
                    message = await customer.next_of("position", since=mark)
                    etas.append(message["eta"])
            snapshot = (await dispatch.client.get(f"/api/orders/{order['id']}")).json()
    assert all(e is not None for e in etas)
    first, last = etas[0], etas[-1]
    assert set(first) >= {"eta", "eta_s", "remaining_m", "window", "confidence"}
    assert abs(first["remaining_m"] - 2000) < 60 and abs(last["remaining_m"] - 900) < 60
    assert last["eta_s"] < first["eta_s"]
    earliest, latest = (parse(w) for w in last["window"])
    assert earliest <= parse(last["eta"]) <= latest
    assert snapshot["eta"]["remaining_m"] == last["remaining_m"]
    assert snapshot["route"]["geometry"]["coordinates"] == ROUTE["coordinates"]


async def test_without_a_route_the_eta_says_it_is_provisional(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(lon=DESTINATION[0], lat=DESTINATION[1])
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, now(), 11.90, 50.30))
            await courier.wait_acked({1})
            await dispatch.out_for_delivery(order["id"], driver_id)
        async with server.http() as client:
            view = (await client.get(f"/api/track/{order['tracking_code']}")).json()
    assert view["route"]["properties"]["provisional"] is True
    assert view["eta"]["confidence"] == "low"
    assert 2000 < view["eta"]["remaining_m"] < 2000 * 1.3 + 50  # straight line with a detour


async def test_bad_routes_are_refused(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order()
        bad = [
            {"type": "LineString", "coordinates": [[11.9, 50.3]]},
            {"type": "LineString", "coordinates": [[11.9, 95.0], [11.9, 50.3]]},
            {"type": "Polygon", "coordinates": []},
            "not a polyline \x00",
            {"polyline": "_p~iF~ps|U", "precision": 7},
        ]
        answers = [
            await dispatch.client.post(
                f"/api/orders/{order['id']}/assign", json={"driver_id": driver_id, "route": r}
            )
            for r in bad
        ]
    assert [a.status_code for a in answers] == [422] * len(bad)
    assert all("route" in a.json()["error"] for a in answers), [a.json() for a in answers]


async def test_late_by_eta_and_arrival_alerts(settings: Settings, db: asyncpg.Connection) -> None:
    settings = dataclasses.replace(settings, fleet_interval_ms=20.0)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        t0 = now() - timedelta(minutes=3)
        # Promised one minute after the first fix: 2 km cannot be driven in time.
        order = await dispatch.order(
            lon=DESTINATION[0],
            lat=DESTINATION[1],
            promised_by=(now() + timedelta(minutes=1)).isoformat(),
        )
        await dispatch.out_for_delivery(order["id"], driver_id, route=ROUTE)
        async with (
            Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}") as fleet,
            Courier(server.ws_url, token) as courier,
        ):
            await courier.send(fix(0, t0, 11.90, 50.30, speed=1.0))
            await courier.wait_acked({0})
            late = (await dispatch.client.get("/api/orders?late=true")).json()["orders"]
            assert [o["id"] for o in late] == [order["id"]]
            assert late[0]["late"] is True and late[0]["eta"] is not None
            # Drive to the door and wait there: arriving, then arrived, once each.
            seq = 1
            for metres in range(100, 2001, 100):
                await courier.send(
                    fix(
                        seq,
                        t0 + timedelta(seconds=seq * 8),
                        11.90 + metres / 1000 * DEG_PER_KM,
                        50.30,
                        speed=12.0,
                    )
                )
                seq += 1
            for _ in range(6):
                await courier.send(
                    fix(
                        seq,
                        t0 + timedelta(seconds=160 + seq * 10),
                        DESTINATION[0],
                        DESTINATION[1],
                        speed=0.0,
                    )
                )
                seq += 1
            await courier.wait_acked(range(seq))
            await fleet.wait_until(
                lambda: any(m.get("kind") == "arrived" for m in fleet.of_type("alert"))
            )
    kinds = [m["kind"] for m in fleet.of_type("alert") if m["order_id"] == order["id"]]
    assert kinds.count("arriving") == 1 and kinds.count("arrived") == 1
    assert kinds.index("arriving") < kinds.index("arrived")
