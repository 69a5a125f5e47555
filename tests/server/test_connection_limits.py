"""Connection limits and the request-head deadline (server/edges/net/http_protocol.py): raw TCP
clients against a real server. Half-open clients are dropped, and connections over a limit
get an immediate, clear 503 while everyone else is served."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json

import asyncpg
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from server.base.settings import Settings
from server.edges import responses
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import RunningServer, run_server
from tests.server.waiting import eventually

WAIT_S = 10.0
HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


class Clients:
    """Raw TCP clients from chosen loopback addresses; all closed on exit."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for writer in self.writers:
            writer.close()
        for writer in self.writers:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def open(
        self, address: str = "127.0.0.1"
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.server.base_url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port), local_addr=(address, 0))
        self.writers.append(writer)
        return reader, writer

    async def healthz(self, address: str = "127.0.0.1") -> int:
        reader, writer = await self.open(address)
        writer.write(HEALTHZ)
        status, _ = await answer(reader)
        return status


async def answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Everything the server sends until it closes: (status, body)."""
    raw = await asyncio.wait_for(reader.read(), WAIT_S)
    head, _, body = raw.partition(b"\r\n\r\n")
    return (int(head.split(b" ", 2)[1]) if head else 0), body


def metric(server: RunningServer, name: str, **labels: str) -> float:
    value = server.services.metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def test_a_request_head_not_complete_in_time_is_dropped_while_others_are_served(
    settings: Settings, db: asyncpg.Connection
) -> None:
    impatient = dataclasses.replace(settings, header_timeout_s=0.3)
    async with run_server(impatient) as server, Clients(server) as clients:
        slow_reader, slow = await clients.open()
        slow.write(b"GET /heal")  # and never the rest
        silent_reader, _silent = await clients.open()  # sends nothing at all
        assert await clients.healthz() == 200  # served meanwhile
        status, body = await answer(slow_reader)
        assert status == 408
        assert "request head not complete within 0.3 s" in json.loads(body)["error"]
        assert await answer(silent_reader) == (0, b"")  # closed without a word
        assert metric(server, "tracker_connections_header_timeouts_total") == 2


async def test_each_later_request_on_a_kept_alive_connection_has_the_deadline_too(
    settings: Settings, db: asyncpg.Connection
) -> None:
    impatient = dataclasses.replace(settings, header_timeout_s=0.3)
    async with run_server(impatient) as server, Clients(server) as clients:
        reader, writer = await clients.open()
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT_S)
        assert head.startswith(b"HTTP/1.1 200")
        writer.write(b"GET /hea")  # the next request stalls half-way
        rest = await asyncio.wait_for(reader.read(), WAIT_S)  # to the server's close
        assert b"HTTP/1.1 408 Request Timeout" in rest


async def test_connections_over_the_per_address_limit_are_refused_at_once(
    settings: Settings, db: asyncpg.Connection
) -> None:
    limited = dataclasses.replace(settings, max_connections_per_address=3, header_timeout_s=60)
    async with run_server(limited) as server, Clients(server) as clients:
        for _ in range(2):
            await clients.open()
        fleet = await websockets.connect(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}")
        await fleet.recv()  # the snapshot: an upgraded connection counts too
        await eventually(lambda: metric(server, "tracker_connections_open") == 3)

        reader, _ = await clients.open()  # the fourth from 127.0.0.1
        status, body = await answer(reader)  # without sending a byte
        assert status == 503
        assert json.loads(body) == {
            "error": "too many connections from this address; close some and retry"
        }
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(f"{server.ws_url}/ws/fleet?token={ADMIN_TOKEN}")
        assert refused.value.response.status_code == 503
        assert await clients.healthz("127.0.0.2") == 200  # another address is served
        labels = {"limit": "per_address"}
        assert metric(server, "tracker_connections_refused_total", **labels) == 2

        await fleet.close()  # a place frees up when a socket closes
        await eventually(lambda: metric(server, "tracker_connections_open") == 2)
        assert await clients.healthz() == 200


async def test_connections_over_the_total_limit_are_refused_at_once(
    settings: Settings, db: asyncpg.Connection
) -> None:
    limited = dataclasses.replace(settings, max_connections=2, header_timeout_s=60)
    async with run_server(limited) as server, Clients(server) as clients:
        held = [await clients.open("127.0.0.2") for _ in range(2)]
        await eventually(lambda: metric(server, "tracker_connections_open") == 2)
        reader, _ = await clients.open("127.0.0.3")
        status, body = await answer(reader)
        assert status == 503
        assert json.loads(body) == {"error": "too many connections to this server; retry later"}
        assert metric(server, "tracker_connections_refused_total", limit="total") == 1

        held[0][1].close()
        await eventually(lambda: metric(server, "tracker_connections_open") == 1)
        assert await clients.healthz("127.0.0.3") == 200


async def test_a_trickled_body_gets_408(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A complete head, then a body that never completes: answered 408, not held."""
    monkeypatch.setattr(responses, "BODY_TIMEOUT_S", 0.5)
    async with run_server(settings) as server, Clients(server) as clients:
        reader, writer = await clients.open()
        writer.write(
            b"POST /osmand HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        status, body = await answer(reader)
        assert status == 408, body
        assert "request body not complete" in json.loads(body)["error"]
        assert await clients.healthz() == 200  # everyone else served meanwhile
