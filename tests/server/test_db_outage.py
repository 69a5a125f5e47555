"""The database goes away mid-stream: the server keeps the courier connected, stops
acking, holds back (bounded), and acks everything once the database is back."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from server.base.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server
from tests.server.tcp_proxy import TcpProxy
from tests.server.waiting import eventually, readyz_until

QUEUE_MAX_ROWS = 200
FRAME_FIXES = 50


async def test_outage_no_acked_fix_lost_and_recovery(
    settings: Settings, db: asyncpg.Connection
) -> None:
    target = urlsplit(settings.database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    credentials, at, _ = target.netloc.rpartition("@")
    proxied_url = urlunsplit(target._replace(netloc=f"{credentials}{at}127.0.0.1:{proxy.port}"))
    settings = dataclasses.replace(
        settings, database_url=proxied_url, write_queue_max_rows=QUEUE_MAX_ROWS, db_retry_max_s=0.2
    )
    t0 = now() - timedelta(minutes=30)
    track = [fix(i, t0 + timedelta(seconds=i), 11.9 + i * 1e-4, 50.3) for i in range(1_200)]
    try:
        async with run_server(settings) as server:
            driver_id, token = await server.create_driver()
            courier = Courier(server.ws_url, token)
            await courier.connect()
            await courier.send_batch(track[:100])
            await courier.wait_acked(range(100))

            proxy.cut()
            writer = server.services.writer
            for i in range(100, 1_200, FRAME_FIXES):
                await courier.send_batch(track[i : i + FRAME_FIXES])
            await eventually(lambda: not writer.healthy, what="the writer to notice the outage")
            # Backpressure: the server stopped reading instead of queueing everything.
            await eventually(lambda: writer.depth >= QUEUE_MAX_ROWS, what="the queue to fill")
            assert writer.depth <= QUEUE_MAX_ROWS + FRAME_FIXES
            async with server.http() as client:
                health = await client.get("/healthz")
            assert health.status_code == 503
            assert courier.acked == set(range(100))  # nothing acked while nothing is stored
            assert courier.close_code is None  # and the courier stays connected

            proxy.restore()
            await courier.wait_acked(range(1_200))
            assert writer.healthy
            async with server.http() as client:
                await readyz_until(client, lambda r: r.status_code == 200, timeout_s=10)
            await courier.close()
    finally:
        await proxy.stop()
    assert (
        await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver_id) == 1_200
    )
