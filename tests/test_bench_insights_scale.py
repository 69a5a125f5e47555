"""`tracker bench --insights-scale`, tiny: it seeds, rolls up and times every answer it
names, prints them all; a rerun on the same database seeds nothing again; a database with
data no bench wrote is refused and left as it was. No speed is asserted."""

from __future__ import annotations

import asyncio
import json
import subprocess

import asyncpg

from tests.bench_cli import fetch_value, run_bench
from tests.conftest import TEST_DATABASE_URL

SCALE_URL = TEST_DATABASE_URL + "_scale_bench"  # its own scratch database: the bench empties it
ROUTES = {
    "summary", "summary driver 1", "series hour 7d", "series day", "series week", "drivers",
    "zones", "series hour 7d csv", "series day csv", "series week csv", "drivers csv",
    "zones csv", "orders csv 1 day", "track geojson", "track gpx", "track csv",
    *(f"{kind} {layer} {span}" for kind in ("bottlenecks", "heatmap")
      for layer in ("slow", "dwell", "late") for span in ("1d", "2d")),
}  # fmt: skip


def _bench(repeat: int) -> subprocess.CompletedProcess[str]:
    return run_bench(
        "--insights-scale", "--deliveries", "120", "--positions", "6000", "--days", "2",
        "--rollup-days", "2", "--repeat", str(repeat), "--database-url", SCALE_URL,
    )  # fmt: skip


async def _fetch(sql: str) -> object:
    return await fetch_value(SCALE_URL, sql)


async def _fresh_database() -> None:
    """No database: the bench creates it (a previous run leaves one it refuses)."""
    base, name = SCALE_URL.rsplit("/", 1)
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def test_insights_scale_bench_seeds_times_and_reruns() -> None:
    asyncio.run(_fresh_database())
    result = _bench(repeat=2)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    scale = report["scale"]
    # 120 deliveries over 2 days at ~17 stops: 4 couriers; 6,000 fixes: 3,000 a driver-day.
    assert scale == {"days": 2, "drivers": 4, "position_drivers": 1, "driver_day_fixes": 3000,
                     "fix_interval_s": 9.6}  # fmt: skip
    deliveries, positions, rollup = report["deliveries"], report["positions"], report["rollup"]
    assert deliveries["skipped"] is False and deliveries["orders"] > 0
    assert deliveries["rollup_rows"] > 0 and deliveries["copy_rows_per_s"] > 0
    assert positions["positions"] == positions["written"] == 6000 and positions["rows_per_s"] > 0
    assert rollup["slices"] == 2 * 24 + 1 and rollup["positions"] == 6000
    assert rollup["cell_hours"] > 0 and rollup["dwells"] > 0
    assert set(report["answers"]) == ROUTES
    for name, answer in report["answers"].items():
        assert answer["p50_ms"] > 0 and answer["bytes"] > 0, name
    assert report["load_average"] and report["total_s"] > 0
    assert "track gpx" in result.stderr  # the table
    stored = asyncio.run(_fetch("SELECT count(*) FROM orders"))
    assert stored == deliveries["orders"]
    assert asyncio.run(_fetch("SELECT count(*) FROM positions")) == 6000
    assert asyncio.run(_fetch("SELECT count(*) FROM delivery_facts")) == stored

    again = _bench(repeat=1)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun = json.loads(again.stdout)
    assert rerun["deliveries"] == {"orders": stored, "skipped": True}
    assert rerun["positions"]["written"] == 0 and rerun["rollup"]["slices"] == 0
    assert set(rerun["answers"]) == ROUTES

    asyncio.run(_fetch("INSERT INTO drivers (name, token_hash) VALUES ('Ana', 'not-a-bench')"))
    refused = _bench(repeat=1)
    assert refused.returncode != 0
    assert "scratch database" in refused.stderr
    assert asyncio.run(_fetch("SELECT count(*) FROM orders")) == stored  # left as it was
