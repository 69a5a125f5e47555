"""Idle watching sockets are cheap (server/edges/net/ws_direct.py): a customer's socket is
parked, holding no task of its own, yet gets the snapshot, then status and position
messages (with the ETA), and leaves its topic when it closes; keepalive pings run on
shared timers, and a peer that stops answering them is closed."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
import struct

import asyncpg

from server.base.settings import Settings
from server.transport.hub import MemoryHub, order_topic
from server.wire.close_codes import CLOSE_INTERNAL_ERROR
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import RunningServer, run_server
from tests.server.waiting import eventually
from tests.server.watcher import Watcher

WAIT_S = 30.0
PING, PONG, CLOSE = 0x9, 0xA, 0x8


def socket_tasks() -> int:
    """The server's tasks serving a WebSocket (uvicorn's `run_asgi`, one per socket that
    is not parked)."""
    return sum(
        1
        for task in asyncio.all_tasks()
        if getattr(task.get_coro(), "__qualname__", "").endswith("run_asgi")
    )


def sockets_open(server: RunningServer, kind: str) -> float:
    gauge = server.services.metrics.sockets_open.labels(kind)
    value: float = gauge._value.get()
    return value


async def test_a_parked_customer_socket_has_no_task_and_still_gets_everything(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server, Dispatch(server) as dispatch:
        driver_id, token = await server.create_driver("Ana")
        order = await dispatch.order()
        await dispatch.assign(order["id"], driver_id)
        hub = server.services.live.hub
        assert isinstance(hub, MemoryHub)
        topic = order_topic(order["id"])
        tasks_before = socket_tasks()
        async with Watcher(f"{server.ws_url}/ws/track/{order['tracking_code']}") as customer:
            assert customer.of_type("snapshot")
            await eventually(lambda: socket_tasks() == tasks_before, what="the handler ended")
            assert len(hub.subscribers(topic)) == 1
            assert sockets_open(server, "customer") == 1
            await dispatch.status(order["id"], "shipped", "out_for_delivery")
            await customer.next_of("status", lambda m: m["status"] == "out_for_delivery", since=0)
            async with Courier(server.ws_url, token) as courier:
                await courier.send(fix(1, now(), 11.9, 50.3))
                position = await customer.next_of("position", since=0)
                assert position["eta"]["eta_s"] > 0  # the ETA rides with the position
            # The customer's socket still has none (the courier's, which has one, ends
            # once its close is seen: waited for, never reached if the customer's had one).
            await eventually(lambda: socket_tasks() == tasks_before, what="only parked sockets")
        # Closed: the parked socket's callbacks unsubscribe it and count it closed.
        await eventually(lambda: not hub.subscribers(topic), what="the topic left")
        await eventually(lambda: sockets_open(server, "customer") == 0, what="counted closed")


async def _handshake(server: RunningServer, path: str) -> tuple[socket.socket, bytes]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", int(server.base_url.rsplit(":", 1)[1])))
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    await loop.sock_sendall(sock, request.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += await asyncio.wait_for(loop.sock_recv(sock, 65536), WAIT_S)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock, rest


class _Frames:
    """Server frames (unmasked, as servers send them) read from a raw socket."""

    def __init__(self, sock: socket.socket, buffered: bytes) -> None:
        self._sock = sock
        self._data = buffered

    async def _need(self, n: int) -> None:
        while len(self._data) < n:
            chunk = await asyncio.wait_for(
                asyncio.get_running_loop().sock_recv(self._sock, 65536), WAIT_S
            )
            assert chunk, "the server closed the connection without a close frame"
            self._data += chunk

    async def next(self) -> tuple[int, bytes]:
        await self._need(2)
        opcode, length = self._data[0] & 0x0F, self._data[1] & 0x7F
        start = 2
        if length == 126:
            await self._need(4)
            (length,) = struct.unpack("!H", self._data[2:4])
            start = 4
        elif length == 127:
            await self._need(10)
            (length,) = struct.unpack("!Q", self._data[2:10])
            start = 10
        await self._need(start + length)
        payload = self._data[start : start + length]
        self._data = self._data[start + length :]
        return opcode, payload

    async def next_of(self, opcode: int) -> bytes:
        while True:
            got, payload = await self.next()
            if got == opcode:
                return payload


def _client_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked


async def test_keepalive_pings_a_parked_socket_and_closes_it_when_pongs_stop(
    settings: Settings, db: asyncpg.Connection
) -> None:
    quick = dataclasses.replace(settings, ws_ping_interval_s=0.5)
    async with run_server(quick) as server, Dispatch(server) as dispatch:
        order = await dispatch.order()
        sock, rest = await _handshake(server, f"/ws/track/{order['tracking_code']}")
        loop = asyncio.get_running_loop()
        try:
            frames = _Frames(sock, rest)
            assert (await frames.next())[0] == 0x1  # the snapshot
            for _ in range(2):  # answered pings: the socket stays, and is pinged again
                payload = await frames.next_of(PING)
                await loop.sock_sendall(sock, _client_frame(PONG, payload))
            await frames.next_of(PING)  # not answered this time
            close = await frames.next_of(CLOSE)
            assert struct.unpack("!H", close[:2])[0] == CLOSE_INTERNAL_ERROR
            assert b"keepalive" in close[2:]
        finally:
            sock.close()
        hub = server.services.live.hub
        assert isinstance(hub, MemoryHub)
        await eventually(
            lambda: not hub.subscribers(order_topic(order["id"])), what="the topic left"
        )
