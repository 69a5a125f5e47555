"""SIGTERM with watchers connected: customer and dispatcher sockets are parked (no task of
their own, edges/net/ws_direct.py), yet the server still closes them and exits cleanly."""

from __future__ import annotations

import asyncio
import signal

import asyncpg
import httpx
import websockets
from websockets.exceptions import ConnectionClosed

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import listening_socket
from tests.server.test_crash import server_process, wait_healthy

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def closed_code(ws: websockets.ClientConnection) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        async with asyncio.timeout(30):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None


async def test_sigterm_closes_parked_watchers_and_exits_cleanly(
    settings: Settings, db: asyncpg.Connection
) -> None:
    sock = listening_socket()
    port = sock.getsockname()[1]
    async with server_process(settings, sock.fileno()) as process:
        base_url = f"http://127.0.0.1:{port}"
        await wait_healthy(base_url, process)
        async with httpx.AsyncClient(base_url=base_url, headers=ADMIN) as client:
            created = await client.post(
                "/api/orders",
                json={"customer": {"name": "Cleo"}, "destination": {"lat": 50.3, "lon": 11.9}},
            )
        assert created.status_code == 201, created.text
        code = created.json()["tracking_code"]
        ws_url = f"ws://127.0.0.1:{port}"
        customer = await websockets.connect(f"{ws_url}/ws/track/{code}")
        fleet = await websockets.connect(f"{ws_url}/ws/fleet?token={ADMIN_TOKEN}")
        async with asyncio.timeout(30):  # both served and parked: their snapshots came
            assert b'"snapshot"' in str(await customer.recv()).encode()
            assert b'"snapshot"' in str(await fleet.recv()).encode()
        process.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(closed_code(customer), closed_code(fleet))
        async with asyncio.timeout(30):
            assert await process.wait() == 0
    sock.close()
    # Closed by the server going away (1012 service restart, or 1001 going away), not
    # dropped without a close frame.
    assert all(c in (1001, 1012) for c in codes), codes
