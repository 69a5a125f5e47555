"""A Redis bus outage shows in /readyz and in the metrics, and both recover with it."""

from __future__ import annotations

import dataclasses

import asyncpg
import httpx

from server.base.settings import Settings
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import run_server
from tests.server.processes import TEST_REDIS_URL, bus_prefix, require_redis
from tests.server.tcp_proxy import TcpProxy
from tests.server.test_health_metrics import sample
from tests.server.waiting import readyz_until

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def test_redis_outage_shows_in_readyz_and_metrics(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    host, _, rest = TEST_REDIS_URL.removeprefix("redis://").partition(":")
    port, _, database = rest.partition("/")
    proxy = TcpProxy(host, int(port))
    await proxy.start()
    settings = dataclasses.replace(
        settings,
        bus=f"redis://127.0.0.1:{proxy.port}/{database or 0}",
        bus_prefix=bus_prefix(),
        bus_timeout_s=0.5,
        bus_retry_max_s=0.5,
    )
    try:
        async with run_server(settings) as server, server.http() as client:
            up = await readyz_until(client, lambda r: r.status_code == 200)
            assert up.json()["bus"] == "ok"
            assert await metric(client, "tracker_bus_connected") == 1

            proxy.cut()
            down = await readyz_until(client, lambda r: r.status_code == 503)
            assert down.json()["bus"] == "disconnected"
            assert down.json()["database"] == "ok"  # only the bus is named
            assert await metric(client, "tracker_bus_connected") == 0
            assert (await client.get("/livez")).status_code == 200  # no restart for this

            proxy.restore()
            await readyz_until(client, lambda r: r.status_code == 200)
            assert await metric(client, "tracker_bus_connected") == 1
            assert await metric(client, "tracker_bus_reconnects_total") == 1
    finally:
        await proxy.stop()


async def metric(client: httpx.AsyncClient, name: str) -> float:
    return sample((await client.get("/metrics", headers=ADMIN)).text, name)
