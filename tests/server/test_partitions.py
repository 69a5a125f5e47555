"""Day partitions: made ahead of time, made on demand for late fixes, dropped after retention."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from server.base.settings import Settings
from server.store import partitions
from server.store.pool import create_pool
from server.usecases.maintenance import maintain_once
from tests.server.courier import Courier, fix, now
from tests.server.harness import run_server

FAKE_TODAY = date(2031, 6, 1)  # far from "now", so other tests' partitions are untouched


@pytest.fixture
async def clean_fake_days(db: asyncpg.Connection) -> None:
    for day in await partitions.existing_days(db):
        if day.year >= 2030:
            await db.execute(f"DROP TABLE {partitions.partition_name(day)}")


async def test_maintain_creates_ahead_and_drops_past_retention(
    settings: Settings, db: asyncpg.Connection, clean_fake_days: None
) -> None:
    settings = dataclasses.replace(settings, partitions_ahead_days=3, retention_days=30)
    old_day = FAKE_TODAY - timedelta(days=31)
    kept_day = FAKE_TODAY - timedelta(days=30)
    await partitions.ensure_days(db, [old_day, kept_day])
    for day in (old_day, kept_day):
        await db.execute(
            """INSERT INTO positions (driver_id, recorded_at, received_at, geom)
               VALUES (1, $1, $1, ST_SetSRID(ST_MakePoint(11.9, 50.3), 4326))""",
            datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
        )
    pool = await create_pool(settings)
    try:
        created, dropped = await maintain_once(pool, settings, today=FAKE_TODAY)
        again = await maintain_once(pool, settings, today=FAKE_TODAY)
    finally:
        await pool.close()
    assert created == [FAKE_TODAY + timedelta(days=n) for n in range(4)]
    assert old_day in dropped and all(day < kept_day for day in dropped)
    assert again == ([], [])
    days = await partitions.existing_days(db)
    assert old_day not in days and kept_day in days
    remaining = await db.fetch("SELECT recorded_at FROM positions WHERE driver_id = 1")
    assert [r["recorded_at"].date() for r in remaining] == [kept_day]


async def test_late_fix_for_a_past_day_is_stored_without_moving_latest(
    settings: Settings, db: asyncpg.Connection
) -> None:
    settings = dataclasses.replace(settings, max_fix_age_s=40 * 86_400.0)
    old = now() - timedelta(days=37)
    await db.execute(f"DROP TABLE IF EXISTS {partitions.partition_name(old.date())}")
    recent = now() - timedelta(seconds=30)
    async with run_server(settings) as server:
        driver_id, token = await server.create_driver()
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, recent, 11.9, 50.3))
            await courier.wait_acked({1})
            await courier.send(fix(2, old, 11.95, 50.31))  # arrives late, from weeks ago
            await courier.wait_acked({2})
    assert old.date() in await partitions.existing_days(db)
    assert await db.fetchval("SELECT count(*) FROM positions WHERE driver_id = $1", driver_id) == 2
    latest = await db.fetchval(
        "SELECT recorded_at FROM driver_latest WHERE driver_id = $1", driver_id
    )
    assert abs((latest - recent).total_seconds()) < 0.001


async def test_cli_command_maintains(settings: Settings, db: asyncpg.Connection) -> None:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "TRACKER_RETENTION_DAYS": "3650"}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "server.cli", "partitions", "maintain"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await process.communicate()
    assert process.returncode == 0
    result = json.loads(stdout)
    assert set(result) == {"created", "dropped"}
    today = datetime.now(UTC).date()
    assert {today + timedelta(days=n) for n in range(4)} <= await partitions.existing_days(db)


async def test_partition_dropped_under_a_running_server_is_recreated(
    settings: Settings, db: asyncpg.Connection
) -> None:
    t = now() - timedelta(seconds=10)
    async with run_server(settings) as server:
        _, token = await server.create_driver()
        async with Courier(server.ws_url, token) as courier:
            await courier.send(fix(1, t, 11.9, 50.3))
            await courier.wait_acked({1})
            await db.execute(
                f"DROP TABLE {partitions.partition_name(t.date())}"
            )  # the writer's cache is now stale
            await courier.send(fix(2, t + timedelta(seconds=1), 11.9001, 50.3))
            await courier.wait_acked({2})
            assert not courier.rejected
    assert await db.fetchval("SELECT count(*) FROM positions") == 1
