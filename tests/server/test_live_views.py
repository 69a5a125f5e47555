"""Live views end to end: real server, real courier, customer and dispatcher sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from datetime import timedelta
from typing import Any

import asyncpg

from server.base.settings import Settings
from server.transport.hub import MemoryHub, order_topic
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.waiting import eventually
from tests.server.watcher import Watcher


def track_url(server: RunningServer, order: dict[str, object]) -> str:
    return f"{server.ws_url}/ws/track/{order['tracking_code']}"


def fleet_url(server: RunningServer) -> str:
    return f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}"


def fast(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, fleet_interval_ms=20.0, **changes)


async def test_each_link_sees_only_its_own_courier_and_only_while_out(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(fast(settings)) as server, Dispatch(server) as dispatch:
        driver_a, token_a = await server.create_driver("A")
        driver_b, token_b = await server.create_driver("B")
        order1 = await dispatch.order()
        order2 = await dispatch.order()
        order3 = await dispatch.order()
        await dispatch.out_for_delivery(order1["id"], driver_a)
        await dispatch.out_for_delivery(order2["id"], driver_b)
        await dispatch.assign(order3["id"], driver_a)  # on A's run, not yet out for delivery
        t0 = now() - timedelta(minutes=5)
        async with (
            Watcher(track_url(server, order1)) as w1,
            Watcher(track_url(server, order2)) as w2,
            Watcher(track_url(server, order3)) as w3,
            Courier(server.ws_url, token_a) as courier_a,
            Courier(server.ws_url, token_b) as courier_b,
        ):
            for w in (w1, w2, w3):
                await w.wait_until(lambda w=w: bool(w.messages))  # type: ignore[misc]
                assert w.messages[0]["type"] == "snapshot" and w.messages[0]["courier"] is None
            await courier_a.send(fix(1, t0, 11.901, 50.301))
            await courier_b.send(fix(1, t0, 11.951, 50.351))
            p1 = await w1.next_of("position", since=1)
            p2 = await w2.next_of("position", since=1)
            assert (p1["courier"]["lon"], p2["courier"]["lon"]) == (11.901, 11.951)

            # Order 3 goes out: its status message shows the courier; nothing came before.
            mark = w3.mark()
            await dispatch.status(order3["id"], "shipped", "out_for_delivery")
            shown = await w3.next_of(
                "status", lambda m: m["status"] == "out_for_delivery", since=mark
            )
            assert shown["courier"]["lon"] == 11.901
            assert [m["type"] for m in w3.messages] == ["snapshot", "status", "status"]

            # Order 1 delivered: the courier disappears and no position follows.
            mark1, mark3 = w1.mark(), w3.mark()
            await dispatch.status(order1["id"], "delivered")
            gone = await w1.next_of("status", lambda m: m["status"] == "delivered", since=mark1)
            assert gone["courier"] is None
            await courier_a.send(fix(2, t0 + timedelta(seconds=5), 11.902, 50.301))
            moved = await w3.next_of("position", since=mark3)  # A's next fix reaches order 3...
            assert moved["courier"]["lon"] == 11.902
            mark = w1.mark()
            await dispatch.status(order1["id"], "returned")  # ...and a marker on order 1's socket:
            await w1.next_of("status", lambda m: m["status"] == "returned", since=mark)
            after_delivery = w1.messages[w1.messages.index(gone) :]
            assert [m["type"] for m in after_delivery] == ["status", "status"]
            assert all(m["courier"]["lon"] == 11.951 for m in w2.of_type("position"))


async def test_fix_reaches_customer_and_fleet(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(fast(settings)) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana", vehicle="van 7")
        order = await dispatch.order(reference="R-9")
        await dispatch.out_for_delivery(order["id"], driver_id)
        async with (
            Watcher(fleet_url(server)) as fleet,
            Watcher(track_url(server, order)) as customer,
        ):
            await fleet.wait_until(lambda: bool(fleet.messages))
            snapshot = fleet.messages[0]
            assert snapshot["type"] == "snapshot"
            [entry] = snapshot["drivers"]
            assert (entry["name"], entry["vehicle"], entry["online"]) == ("Ana", "van 7", False)
            assert entry["current_stop"]["reference"] == "R-9"
            async with Courier(server.ws_url, token) as courier:
                await courier.send(fix(1, now(), 11.9, 50.3, speed=8.5))
                position = await customer.next_of("position", since=0)
                delta = await fleet.next_of(
                    "delta", lambda m: any(d["position"] for d in m["drivers"]), since=0
                )
                await courier.wait_acked({1})
            assert position["courier"]["speed"] == 8.5
            [moved] = delta["drivers"]
            assert moved["online"] is True and moved["state"] == "delivering"
            assert moved["position"]["lat"] == 50.3
            async with server.http() as client:
                rest = await client.get(
                    "/api/fleet", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
                )
            assert rest.json()["drivers"][0]["position"]["lat"] == 50.3


async def test_a_thousand_watchers_all_receive(settings: Settings, db: asyncpg.Connection) -> None:
    # All from one address: over the per-address connection limit's default.
    settings = fast(settings, track_lookup_burst=5_000, max_connections_per_address=5_000)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id)
        watchers = [Watcher(track_url(server, order)) for _ in range(1_000)]
        for i in range(0, 1_000, 100):
            await asyncio.gather(*(w.connect() for w in watchers[i : i + 100]))
        try:
            for w in watchers:  # subscribed once the snapshot is out
                await w.wait_until(lambda w=w: bool(w.messages))  # type: ignore[misc]
            async with Courier(server.ws_url, token) as courier:
                await courier.send(fix(1, now(), 11.9123, 50.3))
                await courier.wait_acked({1})
                for w in watchers:
                    await w.wait_until(lambda w=w: any(m["type"] == "position" for m in w.messages))  # type: ignore[misc]
            assert all(w.of_type("position")[0]["courier"]["lon"] == 11.9123 for w in watchers)
        finally:
            await asyncio.gather(*(w.close() for w in watchers))


async def _never_reading_watcher(
    server: RunningServer, path: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that completes the handshake and then never reads again."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a tiny window, set before connect
    sock.setblocking(False)
    port = int(server.base_url.rsplit(":", 1)[1])
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    response = await reader.readuntil(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101")
    return reader, writer


async def test_a_stalled_watcher_delays_nobody_and_is_dropped(
    settings: Settings, db: asyncpg.Connection
) -> None:
    # A dead peer never answers pings: the keepalive is what finds it.
    settings = fast(
        settings, ws_send_timeout_s=0.5, subscriber_max_pending=16, ws_ping_interval_s=0.5
    )
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        order = await dispatch.order(customer={"name": "X" * 200})
        await dispatch.out_for_delivery(order["id"], driver_id)
        topic = order_topic(order["id"])
        hub = server.services.live.hub
        assert isinstance(hub, MemoryHub)
        _, stalled = await _never_reading_watcher(server, f"/ws/track/{order['tracking_code']}")
        await eventually(lambda: len(hub.subscribers(topic)) == 1)
        [stalled_subscriber] = hub.subscribers(topic)
        t0 = now() - timedelta(hours=1)
        async with (
            Watcher(track_url(server, order)) as healthy,
            Courier(server.ws_url, token) as courier,
        ):
            await healthy.wait_until(lambda: bool(healthy.messages))
            depth_seen = 0
            for seq in range(3_000):
                await courier.send(fix(seq, t0 + timedelta(seconds=seq), 11.9 + seq * 1e-5, 50.3))
                depth_seen = max(depth_seen, stalled_subscriber.depth)
            await courier.wait_acked(range(3_000))
            await healthy.next_of(
                "position", lambda m: abs(m["courier"]["lon"] - (11.9 + 2_999e-5)) < 1e-9, since=0
            )
            # The stalled socket's queue stayed bounded, and the server gave up on it.
            assert depth_seen <= 16
            await eventually(
                lambda: len(hub.subscribers(topic)) == 1, what="the stalled watcher to be dropped"
            )
            assert stalled_subscriber.closed
        stalled.close()


async def test_reconnect_gets_a_fresh_snapshot(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(fast(settings)) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        async with Watcher(track_url(server, order)) as first:
            await first.wait_until(lambda: bool(first.messages))
            assert first.messages[0]["status"] == "confirmed"
        await dispatch.status(order["id"], "packed")
        async with Watcher(track_url(server, order)) as second:
            await second.wait_until(lambda: bool(second.messages))
            snapshot = second.messages[0]
        assert snapshot["type"] == "snapshot" and snapshot["status"] == "packed"
        assert [e["status"] for e in snapshot["timeline"]] == ["confirmed", "packed"]


async def test_watch_sockets_refuse_bad_credentials(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = fast(settings, track_lookup_burst=2, track_lookups_per_min=1.0)
    async with run_server(settings) as server:
        codes = []
        for url in (
            f"{server.ws_url}/ws/track/0000-0000-0000-0000",
            f"{server.ws_url}/ws/track/not-a-code",
            f"{server.ws_url}/ws/track/0000-0000-0000-0001",  # the third lookup: over the limit
            f"{server.ws_url}/ws/fleet",
            f"{server.ws_url}/ws/fleet?token=wrong",
        ):
            watcher = Watcher(url)
            await watcher.connect()
            codes.append(await watcher.wait_closed())
    assert codes == [4404, 4404, 4429, 4401, 4401]


async def test_fleet_viewport_limits_what_a_dispatcher_gets(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(fast(settings)) as server:
        hof_id, hof_token = await server.create_driver("Hof")
        selb_id, selb_token = await server.create_driver("Selb")
        porto_id, porto_token = await server.create_driver("Porto")
        t0 = now() - timedelta(minutes=10)
        async with (
            Watcher(fleet_url(server)) as fleet,
            Courier(server.ws_url, hof_token) as hof,
            Courier(server.ws_url, selb_token) as selb,
            Courier(server.ws_url, porto_token) as porto,
        ):
            await fleet.wait_until(lambda: bool(fleet.messages))
            mark = fleet.mark()
            await fleet.send({"type": "viewport", "bbox": [11.8, 50.2, 11.95, 50.4]})  # around Hof
            view = await fleet.next_of("snapshot", since=mark)
            assert view["drivers"] == []  # no positions yet: nobody is known to be inside

            def positions(since: int, driver_id: int) -> list[float]:
                return [
                    d["position"]["lon"]
                    for m in fleet.messages[since:]
                    if m["type"] == "delta"
                    for d in m["drivers"]
                    if d["id"] == driver_id and d["position"]
                ]

            await hof.send(fix(1, t0, 11.9, 50.3))
            await porto.send(fix(1, t0, -8.61, 41.15))
            await fleet.wait_until(lambda: positions(mark, hof_id) == [11.9])

            # Hof drives east out of the view: the delta shows it leaving...
            await hof.send(fix(2, t0 + timedelta(seconds=300), 11.96, 50.3))  # 4.3 km in 5 min
            await fleet.wait_until(lambda: 11.96 in positions(mark, hof_id))
            # ...and then it is not followed. Selb, inside, is the barrier: its delta comes
            # after any Hof delta caused by fixes sent before Selb's.
            left = fleet.mark()
            await hof.send(fix(3, t0 + timedelta(seconds=360), 11.965, 50.3))
            await hof.wait_acked({3})
            await porto.send(fix(2, t0 + timedelta(seconds=1), -8.6101, 41.15))
            await porto.wait_acked({2})
            await selb.send(fix(1, t0, 11.85, 50.27))
            await fleet.wait_until(lambda: bool(positions(left, selb_id)))
            assert positions(left, hof_id) == [] and positions(mark, porto_id) == []

            mark = fleet.mark()
            await fleet.send("not json")
            await fleet.next_of("error", since=mark)
            await fleet.send({"type": "viewport", "bbox": None})  # everything again
            everything = await fleet.next_of("snapshot", since=mark)
            assert {d["id"] for d in everything["drivers"]} == {hof_id, selb_id, porto_id}


async def test_presence_goes_offline_after_the_last_fix_ages(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(fast(settings, offline_after_s=0.5)) as server:
        driver_id, token = await server.create_driver()
        async with Watcher(fleet_url(server)) as fleet:
            async with Courier(server.ws_url, token) as courier:
                online = await fleet.next_of("delta", lambda m: m["drivers"][0]["online"], since=0)
                await courier.send(fix(1, now(), 11.9, 50.3))
                await courier.wait_acked({1})
                mark = fleet.mark()
            offline = await fleet.next_of(
                "delta", lambda m: not m["drivers"][0]["online"], since=mark
            )
    assert online["drivers"][0]["id"] == offline["drivers"][0]["id"] == driver_id
    assert offline["drivers"][0]["state"] == "offline"


async def test_next_stop_only_shows_the_courier_to_the_next_customer(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with (
        run_server(fast(settings, courier_next_stop_only=True)) as server,
        Dispatch(server) as dispatch,
    ):
        driver_id, token = await server.create_driver()
        first, second = await dispatch.order(), await dispatch.order()
        await dispatch.out_for_delivery(first["id"], driver_id)
        await dispatch.out_for_delivery(second["id"], driver_id)
        async with (
            Watcher(track_url(server, first)) as w1,
            Watcher(track_url(server, second)) as w2,
            Courier(server.ws_url, token) as courier,
        ):
            await w1.wait_until(lambda: bool(w1.messages))  # both subscribed
            await w2.wait_until(lambda: bool(w2.messages))
            await courier.send(fix(1, now() - timedelta(seconds=30), 11.9, 50.3))
            await w1.next_of("position", since=0)
            await dispatch.status(first["id"], "delivered")
            shown = await w2.next_of("position", since=0)  # the courier appears for stop two
            assert shown["courier"]["lon"] == 11.9
            assert [m["type"] for m in w2.messages] == ["snapshot", "position"]
            assert w2.messages[0]["courier"] is None


async def test_inserting_a_stop_first_makes_it_the_next_stop(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = fast(settings, courier_next_stop_only=True)
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver()
        later, sooner = await dispatch.order(), await dispatch.order()
        await dispatch.out_for_delivery(later["id"], driver_id)  # stop 0 for now
        await dispatch.assign(sooner["id"], driver_id, stop_index=0)  # pushes `later` to 1
        await dispatch.status(sooner["id"], "shipped", "out_for_delivery")
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, now() - timedelta(seconds=5), 11.9, 50.3))
            await courier.wait_acked({1})
        async with server.http() as client:
            seen_later = (await client.get(f"/api/track/{later['tracking_code']}")).json()
            seen_sooner = (await client.get(f"/api/track/{sooner['tracking_code']}")).json()
    assert seen_sooner["courier"] is not None and seen_later["courier"] is None
    stops = await db.fetch("SELECT id, stop_index FROM orders ORDER BY stop_index")
    assert [r["id"] for r in stops] == [sooner["id"], later["id"]]
