"""The database stops answering (a blackhole: connections stay open, nothing comes back).
Requests and sockets that need it are told to come back later, within their budget,
instead of waiting on it; liveness stays up, readiness goes down, and all recovers."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, MutableMapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier
from tests.server.harness import RunningServer, run_server
from tests.server.tcp_proxy import TcpProxy
from tests.server.watcher import Watcher

# Generous: the budget below is 1 s; before the fix these took 12 to 22 s.
ANSWER_WITHIN_S = 8.0
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
ORDER = {"customer": {"name": "Cleo"}, "destination": {"lat": 50.3, "lon": 11.9}}


@pytest.fixture
async def proxy(settings: Settings) -> AsyncIterator[TcpProxy]:
    target = urlsplit(settings.database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest.fixture
async def server(settings: Settings, proxy: TcpProxy) -> AsyncIterator[RunningServer]:
    """A server whose database connections all go through `proxy`."""
    target = urlsplit(settings.database_url)
    credentials, at, _ = target.netloc.rpartition("@")
    proxied = urlunsplit(target._replace(netloc=f"{credentials}{at}127.0.0.1:{proxy.port}"))
    settings = dataclasses.replace(settings, database_url=proxied, db_request_timeout_s=1.0)
    async with run_server(settings) as server:
        try:
            yield server
        finally:
            proxy.restore()  # the server shuts down with its database back


async def test_blackholed_database_answers_503_and_1013(
    server: RunningServer, proxy: TcpProxy, db: asyncpg.Connection
) -> None:
    _, driver_token = await server.create_driver()
    async with server.http() as client:
        order = (await client.post("/api/orders", json=ORDER, headers=ADMIN)).json()
        made = await client.post("/api/keys", json={"name": "desk"}, headers=ADMIN)
        dispatcher = {"Authorization": f"Bearer {made.json()['key']}"}
        code = order["tracking_code"]

        proxy.blackhole()
        async with asyncio.timeout(ANSWER_WITHIN_S):
            (
                (livez, readyz, healthz, track, orders, by_key),
                customer,
                desk,
                courier,
            ) = await asyncio.gather(
                asyncio.gather(
                    client.get("/livez"),
                    client.get("/readyz"),
                    client.get("/healthz"),
                    client.get(f"/api/track/{code}"),
                    client.get("/api/orders", headers=ADMIN),  # the handler's query
                    client.get(f"/api/orders/{order['id']}", headers=dispatcher),  # the key's
                ),
                closed_watching(f"{server.ws_url}/ws/track/{code}"),
                closed_watching(f"{server.ws_url}/ws/fleet?token={made.json()['key']}"),
                closed_courier(server.ws_url, driver_token),
            )

        assert livez.status_code == 200
        for health in (readyz, healthz):
            assert health.status_code == 503
            assert health.json()["database"].startswith("unreachable")
            assert health.json()["status"] == "degraded"
        for response in (track, orders, by_key):
            assert response.status_code == 503, response.text
            assert response.json() == {"error": "database unavailable, retry later"}
            assert int(response.headers["Retry-After"]) > 0
        assert customer == desk == courier == 1013  # a close frame: try again later

        proxy.restore()
        await ready(client)
        assert (await client.get(f"/api/track/{code}")).status_code == 200
        assert (await client.get("/api/orders", headers=dispatcher)).status_code == 200
    async with Watcher(f"{server.ws_url}/ws/track/{code}") as again:
        assert again.messages[0]["type"] == "snapshot"


async def closed_watching(url: str) -> int:
    watcher = Watcher(url)
    await watcher.connect()
    await watcher.wait_until(lambda: watcher.close_code is not None)
    assert watcher.close_code is not None and not watcher.messages
    return watcher.close_code


async def closed_courier(ws_url: str, token: str) -> int:
    courier = Courier(ws_url, token)
    await courier.connect()
    return await courier.wait_closed()


async def ready(client: httpx.AsyncClient) -> None:
    """Wait for /readyz to say 200 (the pool reconnects by itself)."""
    async with asyncio.timeout(30):
        # No event to wait on from outside: poll.
        while (await client.get("/readyz")).status_code != 200:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_try_again_later_to_a_client_that_already_left_is_quiet() -> None:
    """The client gave up while its socket waited on the database: the 1013 close finds
    the transport gone. That is nothing to report (it used to escape as an ASGI error)."""
    from starlette.websockets import WebSocket

    from server.edges.net.socket_dispatch import _close_try_again_later

    sent: list[object] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":
            raise OSError("the peer closed the connection")

    async def receive() -> dict[str, str]:
        return {"type": "websocket.connect"}

    ws = WebSocket({"type": "websocket", "path": "/ws/fleet", "headers": []}, receive, send)
    await ws.accept()
    await _close_try_again_later(ws)
    assert sent[1:] == [
        {"type": "websocket.close", "code": 1013, "reason": "database unavailable, retry later"}
    ]
