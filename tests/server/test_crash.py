"""SIGKILL the server mid-stream and restart it: every fix acked before the crash is in
the database, and after the courier resends what was not acked, each fix is stored once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import httpx

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.courier import Courier, fix, now
from tests.server.harness import listening_socket

FIXES = 20_000
FRAME_FIXES = 100


@contextlib.asynccontextmanager
async def server_process(
    settings: Settings, fd: int, batch_max_wait_ms: int = 20
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TRACKER_ADMIN_TOKEN": ADMIN_TOKEN,
        "TRACKER_BATCH_MAX_WAIT_MS": str(batch_max_wait_ms),
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "server.cli", "serve", "--fd", str(fd), "--log-level", "warning"),
        env=env,
        pass_fds=(fd,),
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
        async with asyncio.timeout(30):
            await process.wait()


async def wait_healthy(base_url: str, process: asyncio.subprocess.Process) -> None:
    async def healthy() -> bool:
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
                return (await client.get("/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    async with asyncio.timeout(60):
        while not await healthy():
            assert process.returncode is None, "server exited during start-up"
            await asyncio.sleep(0.05)


async def create_driver(client: httpx.AsyncClient) -> tuple[int, str]:
    response = await client.post(
        "/api/drivers", json={"name": "Bo"}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    return int(response.json()["id"]), str(response.json()["token"])


async def test_sigkill_mid_stream_loses_no_acked_fix(
    settings: Settings, db: asyncpg.Connection
) -> None:
    sock = listening_socket()  # kept open across the crash, so clients just queue up
    port = sock.getsockname()[1]
    base_url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    t0 = now() - timedelta(hours=6)
    # Back and forth along a 3.5 km street at ~7 m/s.
    track = [
        fix(i, t0 + timedelta(seconds=i), 11.9 + abs(i % 1000 - 500) * 1e-4, 50.3)
        for i in range(FIXES)
    ]

    async with server_process(settings, sock.fileno()) as first:
        await wait_healthy(base_url, first)
        async with httpx.AsyncClient(base_url=base_url) as client:
            response = await client.post(
                "/api/drivers",
                json={"name": "Bo"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
        driver_id, token = response.json()["id"], response.json()["token"]
        courier = Courier(ws_url, token)
        await courier.connect()
        sent = 0
        while len(courier.acked) < FIXES // 4:  # stream until a good part is stored...
            await courier.send_batch(track[sent : sent + FRAME_FIXES])
            sent += FRAME_FIXES
            await asyncio.sleep(0)
        first.send_signal(signal.SIGKILL)  # ...then crash with more in flight
        await first.wait()
        acked_before_crash = set(courier.acked)
        await courier.wait_closed()
    assert sent > len(acked_before_crash), "the crash should leave fixes unacked"

    rows = await db.fetch("SELECT recorded_at FROM positions WHERE driver_id = $1", driver_id)
    stored = {r["recorded_at"] for r in rows}
    assert {track[s]["t"] for s in acked_before_crash} <= {
        int(t.timestamp() * 1000) for t in stored
    }

    async with server_process(settings, sock.fileno()) as second:
        await wait_healthy(base_url, second)
        await courier.connect()
        unacked = [m for m in track if m["seq"] not in courier.acked]
        for i in range(0, len(unacked), FRAME_FIXES):
            await courier.send_batch(unacked[i : i + FRAME_FIXES])
        await courier.wait_acked(range(FIXES), timeout_s=60)
        await courier.close()
    sock.close()

    counts = await db.fetchrow(
        "SELECT count(*), count(DISTINCT recorded_at) FROM positions WHERE driver_id = $1",
        driver_id,
    )
    assert counts is not None and counts[0] == counts[1] == FIXES


async def test_sigterm_drains_queued_fixes_and_exits_cleanly(
    settings: Settings, db: asyncpg.Connection
) -> None:
    sock = listening_socket()
    port = sock.getsockname()[1]
    t0 = now() - timedelta(minutes=10)
    track = [fix(i, t0 + timedelta(seconds=i), 11.9 + i * 1e-4, 50.3) for i in range(300)]
    # A long batch wait keeps the fixes queued, unstored, when the signal comes.
    async with server_process(settings, sock.fileno(), batch_max_wait_ms=60_000) as process:
        base_url = f"http://127.0.0.1:{port}"
        await wait_healthy(base_url, process)
        async with httpx.AsyncClient(base_url=base_url) as client:
            driver_id, token = await create_driver(client)
        courier = Courier(f"ws://127.0.0.1:{port}", token)
        await courier.connect()
        # The rejection of the last fix is sent only after the others were queued.
        await courier.send_batch([*track, {**track[0], "seq": 999, "lat": 99.0}])
        await courier.wait_until(lambda: 999 in courier.rejected)
        assert courier.acked == set()
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            assert await process.wait() == 0
        await courier.wait_closed()
    sock.close()
    assert (
        await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver_id) == 300
    )
