"""A closed connection leaves nothing for the cyclic collector, whatever its kind.

server/base/gc_freeze.py freezes what is alive every second, and a reference cycle among frozen
objects waits for the hourly thaw; every connection lives long enough to be frozen, so a
cycle per closed connection was memory kept for up to an hour (6 to 7 MB per 1,500). Here
the collector is off while connections of every kind open and close (to them the same as
being frozen, without depending on when a freeze falls): only reference counting runs, and
it must free every server-side connection object.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import gc
import re
from collections.abc import Awaitable, Callable

import asyncpg
import websockets
from starlette.websockets import WebSocket
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.server import ServerProtocol

from server.base.settings import Settings
from server.edges.sockets.driver import DriverSession
from server.transport.subscriber import Subscriber
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.dispatch import Dispatch
from tests.server.harness import run_server
from tests.server.waiting import eventually
from tests.server.watcher import Watcher

PER_KIND = 20
CONNECTION_TYPES = (
    HttpToolsProtocol,  # every connection starts as HTTP, also those upgraded
    WebSocketsSansIOProtocol,  # server.edges.net.ws_direct.DirectSocket
    ServerProtocol,
    WebSocket,
    DriverSession,
    Subscriber,
)


def server_connection_objects() -> collections.Counter[str]:
    kinds = (type(o) for o in gc.get_objects())  # not isinstance: a dead weak proxy raises
    return collections.Counter(k.__qualname__ for k in kinds if issubclass(k, CONNECTION_TYPES))


async def closed_by_server(url: str) -> int:
    async with websockets.connect(url) as ws:
        await ws.wait_closed()
        assert ws.close_code is not None
        return ws.close_code


async def test_closed_connections_of_every_kind_are_freed_by_reference_counting(
    settings: Settings, db: asyncpg.Connection
) -> None:
    # A budget of tracking lookups that the customers and unknown codes use up, so that the
    # last kind is rate-limited; the heap job off: the test runs the collector itself.
    budget = 2 * PER_KIND
    quiet = dataclasses.replace(
        settings, gc_freeze_interval_s=0.0, track_lookup_burst=budget, track_lookups_per_min=0.1
    )
    async with run_server(quiet) as server:
        ws = server.ws_url
        tokens = [(await server.create_driver(f"C{i}"))[1] for i in range(2)]
        driver_id = (await server.create_driver("Ana"))[0]
        async with Dispatch(server) as dispatch:
            order = await dispatch.order()
            await dispatch.out_for_delivery(order["id"], driver_id)
        track_url = f"{ws}/ws/track/{order['tracking_code']}"
        host, port = server.base_url.removeprefix("http://").split(":")

        async def courier(i: int) -> None:
            async with Courier(ws, tokens[0]) as c:
                await c.send(fix(i + 1, now(), 11.9, 50.3))
                await c.wait_acked({i + 1})

        async def courier_gone_at_once(i: int) -> None:
            async with websockets.connect(f"{ws}/ws/driver?token={tokens[1]}"):
                pass  # gone before the server has looked the token up

        async def customer(i: int) -> None:
            async with Watcher(track_url) as w:
                assert w.messages[0]["type"] == "snapshot"

        async def dispatcher(i: int) -> None:
            async with Watcher(f"{ws}/ws/fleet?token={ADMIN_TOKEN}") as w:
                assert w.messages[0]["type"] == "snapshot"

        async def bad_token(i: int) -> None:
            assert await closed_by_server(f"{ws}/ws/driver?token=nope{i}") == 4401

        async def bad_key(i: int) -> None:
            assert await closed_by_server(f"{ws}/ws/fleet?token=nope{i}") == 4401

        async def unknown_code(i: int) -> None:
            assert await closed_by_server(f"{ws}/ws/track/NOPE{i}") == 4404

        async def rate_limited(i: int) -> None:
            assert await closed_by_server(track_url) == 4429

        async def http_kept_alive(i: int) -> None:  # two requests, then the client leaves
            reader, writer = await asyncio.open_connection(host, int(port))
            for path in ("/healthz", "/api/track/NOPE"):
                writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"content-length: (\d+)", head, re.IGNORECASE)
                assert length is not None, head
                await reader.readexactly(int(length[1]))
            writer.close()
            await writer.wait_closed()

        async def http_closed(i: int) -> None:  # the server closes (Connection: close)
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert (await reader.read()).startswith(b"HTTP/1.1 200")
            writer.close()
            await writer.wait_closed()

        kinds: list[Callable[[int], Awaitable[None]]] = [
            courier, courier_gone_at_once, customer, dispatcher, unknown_code,
            bad_token, bad_key, rate_limited, http_kept_alive, http_closed,
        ]  # fmt: skip
        await courier(1000)  # first-use caches (statements, codecs) are not what we look for

        def collected_and_none_left() -> bool:
            gc.collect()
            return not server_connection_objects()

        await eventually(collected_and_none_left, what="the set-up's connections closed")
        gc.disable()
        try:
            for kind in kinds:
                for i in range(PER_KIND):
                    await kind(i)
            await eventually(
                lambda: not server_connection_objects(),
                timeout_s=10,
                what="closed connections freed by reference counting",
            )
        except AssertionError:
            raise AssertionError(
                f"kept in reference cycles: {dict(server_connection_objects())}"
            ) from None
        finally:
            gc.enable()
