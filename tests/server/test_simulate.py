"""The demo fleet drives real streets through the real protocols and runs its orders."""

from __future__ import annotations

import json

import asyncpg

from server.base.settings import Settings
from server.sim.fleet import RUNS_FILE, load_runs, simulate
from tests.conftest import ADMIN_TOKEN
from tests.server.harness import run_server


def test_demo_routes_carry_their_attribution() -> None:

    data = json.loads(RUNS_FILE.read_text())
    assert "OpenStreetMap contributors" in data["attribution"] and data["licence"] == "ODbL-1.0"
    runs = load_runs()
    assert len(runs) >= 12 and all(len(r["legs"]) == 3 for r in runs)


async def test_couriers_drive_and_orders_go_out(settings: Settings, db: asyncpg.Connection) -> None:
    async with run_server(settings) as server:
        stats = await simulate(
            server.base_url,
            ADMIN_TOKEN,
            4,
            seconds=6,
            speedup=3.0,
            interval_s=1.0,
            osmand_share=0.5,
        )
    assert stats.fixes > 0 and len(stats.tracking_urls) == 4
    drivers = await db.fetch("SELECT id, device_id FROM drivers ORDER BY id")
    assert sorted(d["device_id"] for d in drivers) == [f"demo-{n:03d}" for n in range(4)]
    stored = await db.fetch("SELECT driver_id, count(*) AS n FROM positions GROUP BY driver_id")
    assert {r["driver_id"] for r in stored} == {d["id"] for d in drivers}  # socket and OsmAnd
    statuses = await db.fetch("SELECT status, count(*) AS n FROM orders GROUP BY status")
    assert sum(r["n"] for r in statuses) == 12
    assert {r["status"] for r in statuses} <= {"out_for_delivery", "delivered"}


async def test_a_restarted_demo_reuses_its_couriers(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(settings) as server:
        await simulate(server.base_url, ADMIN_TOKEN, 2, seconds=2, speedup=3.0, interval_s=1.0)
        await simulate(server.base_url, ADMIN_TOKEN, 2, seconds=2, speedup=3.0, interval_s=1.0)
    assert await db.fetchval("SELECT count(*) FROM drivers") == 2
    # The first demo's orders left on the road were closed, not left dangling.
    open_orders = await db.fetchval(
        "SELECT count(*) FROM orders WHERE status IN ('shipped', 'out_for_delivery')"
    )
    assert open_orders == 6
