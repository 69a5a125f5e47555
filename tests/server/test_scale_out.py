"""Scale-out: several real server processes sharing PostGIS and a Redis bus.

A courier on one process is seen live by customers and dispatchers on the others; a courier
reconnecting elsewhere carries on where it was; Redis cut and restored under load; one
process runs the scheduled jobs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from datetime import timedelta
from typing import Any

import asyncpg

from server.base.settings import Settings
from server.store import locks
from server.usecases.leader import Leadership
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.processes import (
    TEST_REDIS_URL,
    ServerProcess,
    bus_prefix,
    redis_proxy,
    require_redis,
    server_processes,
)
from tests.server.watcher import Message, Watcher

# A straight street east along lat 50.30: 1 km per 0.01407 degrees of longitude.
DEG_PER_KM = 0.01407
ROUTE = {"type": "LineString", "coordinates": [[11.90, 50.30], [11.90 + 2 * DEG_PER_KM, 50.30]]}
DESTINATION = {"lat": 50.30, "lon": 11.90 + 2 * DEG_PER_KM}


def bus_env(redis_url: str = TEST_REDIS_URL) -> dict[str, str]:
    return {
        "TRACKER_BUS": redis_url,
        "TRACKER_BUS_PREFIX": bus_prefix(),
        "TRACKER_FLEET_INTERVAL_MS": "50",
        "TRACKER_BUS_TIMEOUT_S": "0.5",
        "TRACKER_BUS_RETRY_MAX_S": "0.5",
    }


def east(m: float) -> float:
    """Longitude `m` metres east of the street's start."""
    return 11.90 + m / 1000 * DEG_PER_KM


async def order_out(
    server: ServerProcess,
    driver_id: int,
    destination: dict[str, float] = DESTINATION,
    **assign: Any,
) -> dict[str, Any]:
    """An order created, assigned and sent out for delivery through `server`'s REST API."""
    async with server.http() as client:
        response = await client.post(
            "/api/orders", json={"customer": {"name": "Cleo"}, "destination": destination}
        )
        assert response.status_code == 201, response.text
        order = dict(response.json())
        response = await client.post(
            f"/api/orders/{order['id']}/assign", json={"driver_id": driver_id, **assign}
        )
        assert response.status_code == 200, response.text
        for status in ("shipped", "out_for_delivery"):
            await set_status(server, order["id"], status)
    return order


async def set_status(server: ServerProcess, order_id: int, status: str) -> None:
    async with server.http() as client:
        response = await client.post(f"/api/orders/{order_id}/status", json={"status": status})
    assert response.status_code == 200, response.text


def track(server: ServerProcess, order: dict[str, Any]) -> Watcher:
    return Watcher(f"{server.ws_url}/ws/track/{order['tracking_code']}")


def fleet(server: ServerProcess) -> Watcher:
    return Watcher(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}")


async def scheduled_jobs_holders(db: asyncpg.Connection) -> int:
    """Sessions holding the scheduled-jobs lock (an advisory lock on a key below 2**32)."""
    count = await db.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        " AND classid = 0 AND objid = $1"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        locks.SCHEDULED_JOBS,
    )
    return int(count)


def entry_of(message: Message, driver_id: int) -> dict[str, Any] | None:
    return next((d for d in message["drivers"] if d["id"] == driver_id), None)


def at_lon(lon: float) -> Any:
    return lambda m: m["courier"] is not None and abs(m["courier"]["lon"] - lon) < 1e-9


async def test_a_courier_on_one_process_is_seen_live_on_the_others(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    async with server_processes(settings, ["A", "B", "C"], bus_env()) as (a, b, c):
        driver_id, token = await a.create_driver("Ana")
        first = await order_out(b, driver_id, route=ROUTE)  # everything about orders on B
        further = {"type": "LineString", "coordinates": [[east(2000), 50.30], [east(3000), 50.30]]}
        second = await order_out(b, driver_id, {"lat": 50.30, "lon": east(3000)}, route=further)
        async with (
            fleet(c) as dispatcher,
            track(b, first) as customer,
            track(c, second) as other_customer,
        ):
            assert customer.messages[0]["type"] == "snapshot"
            assert customer.messages[0]["status"] == "out_for_delivery"
            entry = entry_of(dispatcher.messages[0], driver_id)
            assert entry is not None and entry["online"] is False
            assert entry["current_stop"]["order_id"] == first["id"]

            async with Courier(a.ws_url, token) as courier:
                # A socket open on A counts as online for a dispatcher on C.
                await dispatcher.next_of(
                    "delta", lambda m: bool((entry_of(m, driver_id) or {}).get("online")), since=0
                )
                t0 = now() - timedelta(minutes=5)
                await courier.send(fix(1, t0, east(100), 50.30, speed=10.0))
                position = await customer.next_of("position", at_lon(east(100)), since=0)
                assert abs(position["eta"]["remaining_m"] - 1900) < 60
                delta = await dispatcher.next_of(
                    "delta",
                    lambda m: (
                        ((entry_of(m, driver_id) or {}).get("position") or {}).get("lon")
                        == east(100)
                    ),
                    since=0,
                )
                moved = entry_of(delta, driver_id)
                assert moved is not None and moved["state"] == "delivering"
                # The ETA computed on A is in C's picture too.
                assert abs(moved["current_stop"]["eta"]["remaining_m"] - 1900) < 60
                await courier.wait_acked({1})

                # A status committed on C reaches the customer on B, and hides the courier
                # from that order on every process.
                mark = customer.mark()
                await set_status(c, first["id"], "delivered")
                delivered = await customer.next_of(
                    "status", lambda m: m["status"] == "delivered", since=mark
                )
                assert delivered["courier"] is None
                # A's next fixes still reach the other order's customer (on C): the second
                # one is a barrier for anything the first could have sent to order 1.
                for seq, metres in ((2, 150), (3, 200)):
                    t = t0 + timedelta(seconds=seq * 5)
                    await courier.send(fix(seq, t, east(metres), 50.30, speed=10.0))
                    await other_customer.next_of("position", at_lon(east(metres)), since=0)
                after = customer.messages[customer.messages.index(delivered) :]
                assert [m["type"] for m in after] == ["status"]

                # C's picture follows within a fleet interval: its deltas, then its REST view.
                await dispatcher.next_of(
                    "delta",
                    lambda m: (
                        ((entry_of(m, driver_id) or {}).get("position") or {}).get("lon")
                        == east(200)
                    ),
                    since=0,
                )
                async with c.http() as client:
                    rest = (await client.get("/api/fleet")).json()
                [seen] = [d for d in rest["drivers"] if d["id"] == driver_id]
                assert seen["position"]["lon"] == east(200) and seen["online"] is True

            # The courier's socket closed on A: offline on C (its last fix is 5 minutes old).
            mark = dispatcher.mark()
            await dispatcher.next_of(
                "delta",
                lambda m: (entry_of(m, driver_id) or {"online": True})["online"] is False,
                since=mark,
            )

            # Exactly one of the three runs the scheduled jobs.
            async with asyncio.timeout(30):
                # The database's locks have no event to wait on: poll them.
                while await scheduled_jobs_holders(db) != 1:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)


async def test_a_courier_reconnecting_to_another_process_carries_on(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    async with server_processes(settings, ["A", "B", "C"], bus_env()) as (a, b, c):
        driver_id, token = await a.create_driver("Ana")
        order = await order_out(a, driver_id)  # no route: a provisional leg from the courier
        t0 = now() - timedelta(minutes=10)
        remaining: list[float] = []
        async with track(c, order) as customer:

            async def drive(server: ServerProcess, seqs: range) -> None:
                async with Courier(server.ws_url, token) as courier:
                    for seq in seqs:  # 10 m/s east, a fix every 10 s
                        lon = east(seq * 100)
                        t = t0 + timedelta(seconds=seq * 10)
                        await courier.send(fix(seq, t, lon, 50.30, speed=10.0))
                        position = await customer.next_of("position", at_lon(lon))
                        remaining.append(position["eta"]["remaining_m"])
                    await courier.wait_acked(seqs)

            await drive(a, range(0, 6))
            before = await view_showing(c, order["id"], remaining[-1])
            await drive(b, range(6, 12))  # the phone reconnects through another process
            after = await view_showing(c, order["id"], remaining[-1])
            async with b.http() as client:
                on_b = (await client.get(f"/api/orders/{order['id']}")).json()

    # Progress carried on: the remaining distance kept shrinking, with no jump back.
    assert all(later <= earlier + 20 for earlier, later in itertools.pairwise(remaining)), remaining
    assert remaining[6] < remaining[5] and remaining[-1] < remaining[0] - 1000
    # The same run on every process: the provisional leg still starts where the courier was
    # when it was built, not where the courier reconnected.
    leg = before["route"]["geometry"]["coordinates"]
    assert leg[0] == [east(0), 50.30]
    assert after["route"]["geometry"]["coordinates"] == on_b["route"]["geometry"]["coordinates"]
    assert after["route"]["geometry"]["coordinates"] == leg


async def view_showing(server: ServerProcess, order_id: int, remaining_m: float) -> Any:
    """The order's REST view once it shows `remaining_m`: views on other processes follow
    the conflated cluster channel, up to a fleet interval behind the customer's socket."""
    async with server.http() as client, asyncio.timeout(10):
        while True:
            view = (await client.get(f"/api/orders/{order_id}")).json()
            if view["eta"] is not None and view["eta"]["remaining_m"] == remaining_m:
                return view
            await asyncio.sleep(0.05)  # no event to wait on across processes: poll


async def test_redis_cut_and_restored(settings: Settings, db: asyncpg.Connection) -> None:
    await require_redis()
    async with redis_proxy() as (proxy, redis_url):
        async with server_processes(settings, ["A", "B"], bus_env(redis_url)) as (a, b):
            driver_id, token = await a.create_driver("Ana")
            order = await order_out(a, driver_id)
            async with a.http() as client:
                response = await client.post(
                    "/api/orders", json={"customer": {"name": "Dee"}, "destination": DESTINATION}
                )
            waiting = response.json()
            t0 = now() - timedelta(minutes=10)
            async with (
                track(a, order) as local,
                track(b, order) as remote,
                track(b, waiting) as remote_status,
                Courier(a.ws_url, token) as courier,
            ):
                await courier.send(fix(1, t0, east(100), 50.30))
                await remote.next_of("position", at_lon(east(100)), since=0)

                proxy.cut()
                # Ingest carries on: fixes are stored and acked, local watchers see them.
                for seq in range(2, 6):
                    t = t0 + timedelta(seconds=seq * 10)
                    await courier.send(fix(seq, t, east(seq * 100), 50.30))
                    await local.next_of("position", at_lon(east(seq * 100)), since=0)
                await courier.wait_acked(range(1, 6))
                await set_status(a, waiting["id"], "packed")  # committed while Redis is away
                proxy.restore()

                # Nothing restarts: each process reconnects by itself and tells its watchers,
                # which may have missed messages, to come back for a fresh snapshot.
                for watcher in (local, remote, remote_status):
                    assert await watcher.wait_closed() == 1013
                    assert "reconnect" in watcher.close_reason
                await courier.send(fix(6, t0 + timedelta(seconds=60), east(600), 50.30))
                await courier.wait_acked({6})

                # A fresh snapshot on B has all that happened on A meanwhile...
                async with track(b, waiting) as again:
                    assert again.messages[0]["status"] == "packed"
                # B's picture catches up with the courier's newest fix by itself.
                async with asyncio.timeout(30), b.http() as client:
                    while True:
                        drivers = (await client.get("/api/fleet")).json()["drivers"]
                        [seen] = [d for d in drivers if d["id"] == driver_id]
                        if seen["position"]["lon"] == east(600):
                            break
                        await asyncio.sleep(0.05)
                async with track(b, order) as again:
                    assert again.messages[0]["courier"]["lon"] == east(600)
                    # ...and cross-process delivery is back.
                    for seq in (7, 8):
                        lon = east(seq * 100)
                        await courier.send(fix(seq, t0 + timedelta(seconds=seq * 10), lon, 50.30))
                        await again.next_of("position", at_lon(lon), since=0)
                    await courier.wait_acked({7, 8})
        stored = await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver_id)
        assert stored == 8


async def test_one_process_at_a_time_runs_the_scheduled_jobs(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, db_command_timeout_s=5.0)
    first, second = Leadership(settings), Leadership(settings)
    try:
        assert await first.holds()
        assert not await second.holds()
        assert await first.holds()  # kept while its session lives
        await first.close()  # a process stopping (or losing its connection) lets go
        assert await second.holds()
        assert not await first.holds()
    finally:
        await first.close()
        await second.close()


async def test_alert_acks_and_courier_messages_cross_processes(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    async with server_processes(settings, ["A", "B"], bus_env()) as (a, b):
        driver_id, token = await a.create_driver("Ana")
        order = await order_out(a, driver_id, route=ROUTE)
        async with fleet(a) as on_a, fleet(b) as on_b, Courier(a.ws_url, token) as courier:
            await courier.send(fix(1, now(), east(0), 50.30))
            await courier.wait_acked({1})  # the courier's socket is subscribed on A
            async with a.http() as client_a:
                failed = await client_a.post(
                    f"/api/orders/{order['id']}/status", json={"status": "failed"}
                )
            assert failed.status_code == 200, failed.text
            # Raised and stored on A; a dispatcher on B gets it with its id.
            alert = await on_b.next_of("alert", lambda m: m["kind"] == "failed", since=0)
            async with b.http() as client_b:
                acked = await client_b.post(f"/api/alerts/{alert['id']}/ack")
                sent = await client_b.post(
                    f"/api/drivers/{driver_id}/messages", json={"text": "Back to the depot"}
                )
            ack = await on_a.next_of("alert_ack", lambda m: m["id"] == alert["id"], since=0)
            await courier.wait_until(lambda: bool(courier.messages))
    assert acked.status_code == 200 and sent.status_code == 201
    assert (ack["acked_by"], ack["acked_at"]) == ("admin", acked.json()["acked_at"])
    assert [(m["id"], m["text"]) for m in courier.messages] == [
        (sent.json()["id"], "Back to the depot")
    ]


async def test_a_message_sent_while_redis_is_away_reaches_the_courier_after(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    async with redis_proxy() as (proxy, redis_url):
        async with server_processes(settings, ["A", "B"], bus_env(redis_url)) as (a, b):
            driver_id, token = await a.create_driver("Ana")
            async with Courier(a.ws_url, token) as courier:
                await courier.send(fix(1, now(), east(0), 50.30))
                await courier.wait_acked({1})
                proxy.cut()
                async with b.http() as client:
                    sent = await client.post(
                        f"/api/drivers/{driver_id}/messages", json={"text": "Depot at 5"}
                    )
                assert sent.status_code == 201, sent.text
                proxy.restore()
                # A's feed may have missed it: it reads the recent messages again, and the
                # courier's socket (its fixes and acks) stays open throughout.
                await courier.wait_until(lambda: bool(courier.messages))
                await courier.send(fix(2, now(), east(10), 50.30))
                await courier.wait_acked({2})
        assert courier.close_code is not None and courier.close_code != 1013
    assert [m["id"] for m in courier.messages] == [sent.json()["id"]]
