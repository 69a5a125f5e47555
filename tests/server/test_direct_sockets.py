"""The direct socket lane (server/edges/net/ws_direct.py): a closed connection is freed by reference
counting alone (no cycle left for the collector, which the heap policy freezes), and a
stalled customer does not hold back the courier's ack or other customers."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import weakref
from typing import Any

import asyncpg
import pytest
import websockets

from server.base.settings import Settings
from server.edges.net.ws_direct import DirectSocket
from server.transport.hub import MemoryHub, order_topic
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.waiting import eventually
from tests.server.watcher import Watcher


def open_direct_sockets() -> list[weakref.ref[DirectSocket]]:
    return [weakref.ref(o) for o in gc.get_objects() if isinstance(o, DirectSocket) and o.open]


async def test_closed_sockets_are_freed_without_the_cycle_collector(
    settings: Settings, db: asyncpg.Connection
) -> None:
    # No freezing here: every object stays visible to gc.get_objects().
    quiet = dataclasses.replace(settings, gc_freeze_interval_s=0.0)
    async with run_server(quiet) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id)
        gc.collect()
        gc.disable()
        try:
            async with (
                Watcher(f"{server.ws_url}/ws/track/{order['tracking_code']}") as customer,
                Courier(server.ws_url, token) as courier,
            ):
                await courier.send(fix(1, now(), 11.9, 50.3))
                await courier.wait_acked({1})
                await customer.next_of("position", since=0)
                sockets = open_direct_sockets()
                assert len(sockets) == 2  # the courier's and the customer's
            # Only reference counting runs: a reference cycle would keep them forever.
            await eventually(
                lambda: all(ref() is None for ref in sockets),
                timeout_s=10,
                what="closed sockets freed by reference counting",
            )
        finally:
            gc.enable()


async def test_a_client_gone_before_its_handler_runs_is_no_error(
    settings: Settings, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    lenient = dataclasses.replace(settings, track_lookup_burst=1000)
    async with run_server(lenient) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        host, port = server.base_url.removeprefix("http://").split(":")
        for _ in range(20):  # the request and the hang-up arrive together; the handler
            # reads the database twice before it reaches the socket's direct lane
            _reader, writer = await asyncio.open_connection(host, int(port))
            request = (
                f"GET /ws/track/{order['tracking_code']} HTTP/1.1\r\nHost: {host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
            )
            writer.write(request.encode())
            writer.close()
            await writer.wait_closed()
        hub = server.services.live.hub
        assert isinstance(hub, MemoryHub)
        topic = order_topic(order["id"])
        await eventually(lambda: not hub.subscribers(topic), what="every handler finished")
        async with Watcher(f"{server.ws_url}/ws/track/{order['tracking_code']}") as customer:
            await customer.next_of("snapshot", since=0)  # and the next one is served
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_open_socket_keeps_no_handshake_headers(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """A customer's socket lives for hours: once it listens, neither the scope nor
    websockets' parser (whose generator keeps the handshake request in a local) holds the
    request's headers (~3 KB of server memory per socket), and the socket still works."""
    marker = "probe-4f1c2a"
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order()
        await dispatch.out_for_delivery(order["id"], driver_id)
        customer = Watcher(f"{server.ws_url}/ws/track/{order['tracking_code']}")
        await customer.connect(additional_headers={"X-Probe": marker})
        try:
            (sock,) = [o for o in gc.get_objects() if isinstance(o, DirectSocket) and o.open]
            assert sock.scope is None  # parked: the handshake's scope is dropped
            parser: Any = sock.conn.parser  # a generator: websockets' parse()
            request = parser.gi_frame.f_locals["request"]
            assert request.headers.get("X-Probe") is None
            async with Courier(server.ws_url, token) as courier:
                await courier.send(fix(1, now(), 11.9, 50.3))
                await customer.next_of("position", since=0)
        finally:
            await customer.close()


async def test_messages_of_every_frame_length_arrive_whole(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """send_now frames messages itself: a 7-bit, a 16-bit and a 64-bit payload length each
    reach a real websockets client intact and in order, and a closed socket takes none."""
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        async with websockets.connect(f"{server.ws_url}/ws/track/{order['tracking_code']}") as ws:
            assert json.loads(await ws.recv())["type"] == "snapshot"
            (sock,) = [o for o in gc.get_objects() if isinstance(o, DirectSocket) and o.open]
            sizes = [0, 90, 125, 126, 4_000, 65_535, 65_536, 200_000]
            sent = [json.dumps({"type": "probe", "pad": "é" * (n // 2)}) for n in sizes]
            for message in sent:
                assert sock.send_now(message.encode())
            for message in sent:
                assert await asyncio.wait_for(ws.recv(), 10) == message
        await eventually(lambda: not sock.open, what="the socket closed")
        assert not sock.send_now(b'{"type":"probe"}')
