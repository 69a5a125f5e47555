"""The customer's count of stops before theirs, and the tracker's arrival at their door
(issue 17): a count only, in the view, the snapshot and the live messages; "arrived" from
the tracker's dwell at this stop, not at another."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.watcher import Watcher

DEG_PER_KM = 0.01407  # of longitude at lat 50.30
LAT = 50.30


def east(km: float) -> float:
    return 11.90 + km * DEG_PER_KM


async def test_a_later_stop_counts_the_stops_before_it(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        orders = [await dispatch.order(lon=east(km), lat=LAT) for km in (1.0, 2.0, 3.0)]
        alone = await dispatch.order(lon=east(4.0), lat=LAT)
        for order in orders:
            await dispatch.out_for_delivery(order["id"], driver_id)
        third = orders[2]["tracking_code"]
        async with (
            server.http() as client,
            Courier(server.ws_url, token) as courier,
            Watcher(f"{server.ws_url}/ws/track/{third}") as customer,
        ):
            await customer.wait_until(lambda: bool(customer.of_type("snapshot")))
            mark = customer.mark()
            await courier.send(fix(0, now(), east(0.2), LAT, speed=8.0))
            await courier.wait_acked({0})
            position = await customer.next_of("position", since=mark)
            views = [(await client.get(f"/api/track/{o['tracking_code']}")).json() for o in orders]
            off_run = (await client.get(f"/api/track/{alone['tracking_code']}")).json()
            mark = customer.mark()
            await dispatch.status(orders[0]["id"], "delivered")
            await courier.send(fix(1, now(), east(0.3), LAT, speed=8.0))
            await courier.wait_acked({1})
            after = await customer.next_of(
                "position", lambda m: m.get("stops_before") != 2, since=mark
            )
            later = (await client.get(f"/api/track/{third}")).json()
    assert customer.of_type("snapshot")[0]["stops_before"] == 2
    assert [v["stops_before"] for v in views] == [0, 1, 2]
    assert off_run["stops_before"] is None
    assert position["stops_before"] == 2 and after["stops_before"] == 1
    assert later["stops_before"] == 1
    assert "orders" not in later and "stops" not in later  # a count, nothing of the others


async def test_the_tracker_tells_the_customer_the_courier_has_arrived(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        first = await dispatch.order(lon=east(1.0), lat=LAT)
        second = await dispatch.order(lon=east(2.0), lat=LAT)
        for order in (first, second):
            await dispatch.out_for_delivery(order["id"], driver_id)
        codes = [first["tracking_code"], second["tracking_code"]]
        t0 = now() - timedelta(seconds=60)
        async with (
            server.http() as client,
            Courier(server.ws_url, token) as courier,
            Watcher(f"{server.ws_url}/ws/track/{codes[0]}") as at_door,
            Watcher(f"{server.ws_url}/ws/track/{codes[1]}") as next_door,
        ):
            await at_door.wait_until(lambda: bool(at_door.of_type("snapshot")))
            await next_door.wait_until(lambda: bool(next_door.of_type("snapshot")))
            before = (await client.get(f"/api/track/{codes[0]}")).json()
            # Driving up, then standing at the first door for 30 s (the dwell is 20 s).
            fixes = [
                fix(0, t0, east(0.8), LAT, speed=10.0),
                fix(1, t0 + timedelta(seconds=20), east(0.995), LAT, speed=0.0),
                fix(2, t0 + timedelta(seconds=35), east(1.0), LAT, speed=0.0),
                fix(3, t0 + timedelta(seconds=50), east(1.0), LAT, speed=0.0),
            ]
            for one in fixes:
                await courier.send(one)
            await courier.wait_acked(range(4))
            arrived = await at_door.next_of("arrived", since=0)
            view = (await client.get(f"/api/track/{codes[0]}")).json()
            other = (await client.get(f"/api/track/{codes[1]}")).json()
            await dispatch.status(first["id"], "delivered")
            closed = (await client.get(f"/api/track/{codes[0]}")).json()
    assert before["arrived_at"] is None
    assert arrived["at"] == view["arrived_at"]
    assert view["status"] == "out_for_delivery"  # the tracker's news, not a status change
    assert not next_door.of_type("arrived") and other["arrived_at"] is None
    assert closed["arrived_at"] is None
