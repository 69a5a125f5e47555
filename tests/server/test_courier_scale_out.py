"""The courier's run and actions across processes (Redis bus): a change committed on one
process reaches the courier's socket on another, and so does the run after their own
action over REST on a third; after a bus outage the courier's socket stays open and gets
the run afresh."""

from __future__ import annotations

import asyncpg
import httpx

from server.base.settings import Settings
from tests.server.processes import redis_proxy, require_redis, server_processes
from tests.server.test_courier_actions import run_ids
from tests.server.test_scale_out import DESTINATION, bus_env, order_out
from tests.server.watcher import Watcher


async def test_the_run_reaches_a_courier_connected_to_another_process(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    async with server_processes(settings, ["A", "B", "C"], bus_env()) as (a, b, c):
        driver_id, token = await a.create_driver("Ana")
        first = await order_out(b, driver_id)
        async with Watcher(f"{a.ws_url}/ws/driver?token={token}") as socket:
            assert run_ids(socket.messages[0]) == [first["id"]]
            since = socket.mark()
            second = await order_out(b, driver_id, DESTINATION, stop_index=0)  # committed on B
            await socket.next_of("run", lambda m: run_ids(m) == [second["id"], first["id"]], since)
            since = socket.mark()
            async with httpx.AsyncClient(
                base_url=c.base_url, headers={"Authorization": f"Bearer {token}"}
            ) as courier:  # the courier's own action, over REST on C
                response = await courier.post(
                    f"/api/orders/{second['id']}/status",
                    json={"status": "delivered"},
                    headers={"Idempotency-Key": "k1"},
                )
            assert response.status_code == 200, response.text
            await socket.next_of("run", lambda m: run_ids(m) == [first["id"]], since)


async def test_after_a_bus_outage_the_courier_stays_connected_and_gets_the_run(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await require_redis()
    async with (
        redis_proxy() as (proxy, bus_url),
        server_processes(settings, ["A", "B"], bus_env(bus_url)) as (a, b),
    ):
        driver_id, token = await a.create_driver("Ana")
        first = await order_out(a, driver_id)
        async with Watcher(f"{a.ws_url}/ws/driver?token={token}") as socket:
            assert run_ids(socket.messages[0]) == [first["id"]]
            proxy.cut()
            since = socket.mark()
            missed = await order_out(b, driver_id, DESTINATION)  # A cannot hear of it
            proxy.restore()
            # A catches up from PostGIS and sends the run afresh; the socket stays.
            await socket.next_of("run", lambda m: run_ids(m) == [first["id"], missed["id"]], since)
            assert socket.close_code is None
