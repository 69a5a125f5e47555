"""`/healthz` and `/metrics` report what operators need."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from server.settings import Settings
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


async def test_metrics_count_what_happened(settings: Settings, db: asyncpg.Connection) -> None:
    t0 = now() - timedelta(minutes=1)
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        async with Courier(server.ws_url, token) as courier, server.http() as client:
            await courier.send_batch(
                [fix(i, t0 + timedelta(seconds=i), 11.9, 50.3) for i in range(10)]
            )
            await courier.wait_acked(range(10))
            await courier.send(fix(3, t0 + timedelta(seconds=3), 11.9, 50.3))  # a duplicate
            await courier.send(fix(20, t0, 11.9, 95.0))
            await courier.send("junk")
            await courier.wait_acked({3})
            await courier.wait_until(lambda: bool(courier.errors and courier.rejected))
            text = (await client.get("/metrics")).text
            health = await client.get("/healthz")
    assert sample(text, "tracker_fixes_received_total") == 12
    assert sample(text, "tracker_fixes_stored_total") == 10
    assert sample(text, "tracker_fixes_duplicate_total") == 1
    assert sample(text, 'tracker_fixes_rejected_total{reason="lat_range"}') == 1
    assert sample(text, "tracker_frames_invalid_total") == 1
    assert sample(text, "tracker_drivers_connected") == 1
    assert sample(text, "tracker_write_queue_rows") == 0
    assert sample(text, "tracker_write_batch_rows_count") >= 2
    assert health.status_code == 200
    assert health.json() == {
        "status": "ok",
        "database": "ok",
        "writes": "ok",
        "write_queue_rows": 0,
    }
