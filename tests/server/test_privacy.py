"""Privacy of tracking links: one customer's view never points at another's door, and an
expired link stays expired, sockets included."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import asyncpg
from pyproj import Geod

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.watcher import Watcher

GEOD = Geod(ellps="WGS84")
DEG_PER_KM = 0.01407  # of longitude at lat 50.30
CLEARANCE_M = 300.0


def east(m: float) -> tuple[float, float]:
    return (11.90 + m / 1000 * DEG_PER_KM, 50.30)


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def line(from_m: int, to_m: int) -> dict[str, Any]:
    """A street east along lat 50.30, a vertex every 100 m (as a routing engine gives)."""
    coordinates = [list(east(m)) for m in range(from_m, to_m + 1, 100)]
    return {"type": "LineString", "coordinates": coordinates}


def coordinates(value: Any) -> Iterator[tuple[float, float]]:
    """Every (lon, lat) anywhere in a message: courier positions, route vertices."""
    if isinstance(value, dict):
        if isinstance(value.get("lon"), float) and isinstance(value.get("lat"), float):
            yield (value["lon"], value["lat"])
        for key, inner in value.items():
            if key != "destination":  # the customer's own address
                yield from coordinates(inner)
    elif isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, float) for v in value):
            yield (value[0], value[1])
        else:
            for inner in value:
                yield from coordinates(inner)


def closest_m(messages: list[Any], stop: tuple[float, float]) -> float:
    return min((distance_m(c, stop) for c in coordinates(messages)), default=float("inf"))


A_M, B_M = 1000, 2500  # the two doors, along the street from the depot


async def test_the_next_customer_never_sees_the_previous_door(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, fleet_interval_ms=20.0, track_lookup_burst=100)
    a_door = east(A_M)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order_a = await dispatch.order(lon=a_door[0], lat=a_door[1])
        order_b = await dispatch.order(lon=east(B_M)[0], lat=50.30)
        # Each leg from the previous stop, as the shop sends them with the assignment.
        await dispatch.out_for_delivery(order_a["id"], driver_id, route=line(0, A_M))
        await dispatch.out_for_delivery(order_b["id"], driver_id, route=line(A_M, B_M))
        b_url = f"{server.ws_url}/ws/track/{order_b['tracking_code']}"
        seen: list[Any] = []  # every view B got over REST
        t0 = now() - timedelta(minutes=30)
        seq = 0
        async with Watcher(b_url) as b, Courier(server.ws_url, token) as courier:

            async def drive_to(m: float, dwell: int = 1) -> dict[str, Any]:
                nonlocal seq
                for _ in range(dwell):
                    seq += 1
                    mark = b.mark()
                    lon, lat = east(m)
                    await courier.send(fix(seq, t0 + timedelta(seconds=10 * seq), lon, lat))
                    await b.next_of("position", since=mark)
                async with server.http() as client:
                    view = (await client.get(f"/api/track/{order_b['tracking_code']}")).json()
                seen.append(view)
                return dict(view)

            for m in range(50, A_M, 100):  # to A's door, shown to B until near it
                await drive_to(m)
            at_door = await drive_to(A_M, dwell=3)  # at A's door, handing over
            async with Watcher(b_url) as b_again:  # a fresh snapshot meanwhile
                snapshot = b_again.messages[0]
            await dispatch.status(order_a["id"], "delivered")
            await drive_to(A_M + 20, dwell=2)  # A's grace: still at the door
            on_leg = [await drive_to(m) for m in range(A_M + 150, A_M + 1000, 100)]

    # Nothing B got, live or by asking, comes within the clearance of A's door...
    assert closest_m(b.messages, a_door) >= CLEARANCE_M
    assert closest_m(seen, a_door) >= CLEARANCE_M
    assert closest_m([snapshot], a_door) >= CLEARANCE_M
    # ...though B did see the courier away from it, and a route, all along.
    shown = [m["courier"] for m in b.of_type("position") if m["courier"] is not None]
    assert len(shown) >= 8 and all(m["eta"] is not None for m in b.of_type("position"))
    assert at_door["courier"] is None and snapshot["courier"] is None
    # While withheld, no distance left either: against the route shown, which starts
    # clear of A's door, it would measure out where that door is.
    positions = b.of_type("position")
    withheld = [m["eta"] for m in positions if m["courier"] is None]
    withheld += [at_door["eta"], snapshot["eta"]]
    assert len(withheld) >= 3 and all(e["remaining_m"] is None for e in withheld), withheld
    assert all(m["eta"]["remaining_m"] is not None for m in positions if m["courier"])
    assert snapshot["route"] is not None and snapshot["eta"] is not None
    # B's route starts clear of A's door, ends at B's, and shrinks as the courier drives on.
    starts = [v["route"]["geometry"]["coordinates"][0] for v in [at_door, *on_leg]]
    assert distance_m(tuple(starts[0]), a_door) < CLEARANCE_M + 5
    assert all(later[0] >= earlier[0] for earlier, later in itertools.pairwise(starts))
    assert starts[-1][0] > east(A_M + 900)[0]  # from the courier on, once past the clearance
    assert on_leg[-1]["route"]["geometry"]["coordinates"][-1] == list(east(B_M))
    assert on_leg[-1]["courier"] is not None


async def test_a_watching_socket_closes_when_the_link_expires(
    settings: Settings, db: asyncpg.Connection
) -> None:
    ttl_s = 3.0
    settings = dataclasses.replace(settings, tracking_link_ttl_s=ttl_s)
    loop = asyncio.get_running_loop()
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id)
        url = f"{server.ws_url}/ws/track/{order['tracking_code']}"
        async with Watcher(url) as before_closing:
            delivered_at = loop.time()
            await dispatch.status(order["id"], "delivered")  # the link starts to expire
            async with Watcher(url) as after_closing:
                assert after_closing.messages[0]["status"] == "delivered"
                # Not closed by the delivery itself: the link still answers until it expires.
                assert before_closing.close_code is None and after_closing.close_code is None
                # Both close at expiry: one from the status message, one from its snapshot.
                assert await before_closing.wait_closed(timeout_s=10) == 4404
                assert await after_closing.wait_closed(timeout_s=10) == 4404
                assert loop.time() - delivered_at >= ttl_s - 0.5  # at expiry, not before
            delivered = before_closing.of_type("status")
            assert [m["status"] for m in delivered] == ["delivered"]
            await dispatch.status(order["id"], "returned")  # after expiry: stays expired
            async with Watcher(url) as later:
                assert await later.wait_closed(timeout_s=10) == 4404
            async with server.http() as client:
                view = await client.get(f"/api/track/{order['tracking_code']}")
    assert view.status_code == 404
    assert later.messages == []


async def test_returned_after_delivery_keeps_the_first_expiry(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, _ = await server.create_driver()
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id)
        delivered = await dispatch.status(order["id"], "delivered")
        returned = await dispatch.status(order["id"], "returned")
        async with server.http() as client:
            view = (await client.get(f"/api/track/{order['tracking_code']}")).json()
    assert returned["closed_at"] == delivered["closed_at"]
    first_close = next(e["at"] for e in view["timeline"] if e["status"] == "delivered")
    assert delivered["closed_at"] == first_close
    assert view["status"] == "returned" and view["expires_at"] is not None
