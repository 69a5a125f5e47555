"""The bottleneck rollup (server/usecases/insight_rollup.py): positions stored with the
store's COPY writer, rolled up in slices, checked against the same rules done in Python
(tests/server/bottleneck_trips.py), and the same whatever the slice length."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from server.base.settings import Settings
from server.store import partitions, queries
from server.usecases import insight_rollup
from tests.server import bottleneck_trips as trips


@pytest.fixture
async def pool(database_url: str, db: asyncpg.Connection) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as p:
        yield p


def _start() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=2) + timedelta(hours=8, minutes=41, seconds=7)


async def store(db: asyncpg.Connection, points: list[trips.Point]) -> int:
    """A new driver with these fixes, stored by the writer's COPY path; its id."""
    driver = await queries.create_driver(
        db, name="Ana", phone=None, vehicle=None, device_id=None, token_hash=secrets.token_hex()
    )
    await partitions.ensure_days(db, {p.t.date() for p in points})
    await queries.create_staging_table(db)
    async with db.transaction():
        await queries.store_positions(db, trips.records(driver.id, points))
    return driver.id


async def _rolled(db: asyncpg.Connection) -> tuple[dict[tuple[Any, ...], list[Any]], list[Any]]:
    cells = {
        (r["hour_at"], r["epsg"], r["ix"], r["iy"]): [r["moving_s"], r["moving_m"], r["steps"]]
        for r in await db.fetch("SELECT * FROM insight_cells")
    }
    dwells = [
        (r["driver_id"], r["started_at"], r["dwell_s"], r["epsg"], r["ix"], r["iy"])
        for r in await db.fetch("SELECT * FROM insight_dwells ORDER BY driver_id, started_at")
    ]
    return cells, dwells


async def test_rollup_matches_the_rules_and_any_slicing(
    settings: Settings, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    start = _start()
    day_a = trips.day(start, slow_mps=2.0, stop_s=600)
    day_b = trips.day(start + timedelta(minutes=3), slow_mps=10.0, stop_s=60)  # short stop
    assert await store(db, day_a) == 1
    assert await store(db, day_b) == 2
    until = start + timedelta(hours=2)

    results = []
    for slice_s in (300.0, 86_400.0):
        await db.execute("TRUNCATE insight_cells, insight_dwells, insight_watermark")
        await db.execute(
            "INSERT INTO insight_watermark VALUES (1, $1)", start - timedelta(minutes=30)
        )
        sliced = dataclasses.replace(settings, insight_rollup_slice_s=slice_s)
        done = await insight_rollup.roll_up(pool, sliced, until)
        assert done[-1].end_at == until
        results.append(await _rolled(db))
    (cells, dwells), (cells_once, dwells_once) = results
    assert dwells == dwells_once
    assert cells.keys() == cells_once.keys()
    for key, (s, m, n) in cells.items():
        assert cells_once[key] == pytest.approx([s, m, n], rel=1e-5)

    want_a = trips.expected(day_a, settings.bottleneck_dwell_min_s)
    want_b = trips.expected(day_b, settings.bottleneck_dwell_min_s)
    # One dwell (driver 1's ten minutes, less the smoothing), none for the one-minute stop.
    assert len(want_a.dwells) == 1 and want_b.dwells == []
    started, dwell_s, (ix, iy) = want_a.dwells[0]
    assert 540 <= dwell_s <= 600
    assert dwells == [(1, started, pytest.approx(dwell_s), trips.EPSG, ix, iy)]
    want: dict[tuple[object, ...], list[float]] = {}
    for part in (want_a, want_b):
        for (hour, cx, cy), (s, m, n) in part.travel.items():
            entry = want.setdefault((hour, trips.EPSG, cx, cy), [0.0, 0.0, 0.0])
            entry[0] += s
            entry[1] += m
            entry[2] += n
    assert cells.keys() == want.keys()
    for key, figures in want.items():
        assert cells[key] == pytest.approx(figures, rel=1e-4), key
    # Nothing lost: every step of driver 2 (no dwell) is travel.
    moved_s = sum(s for (s, _, _) in cells.values())
    total_b = (day_b[-1].t - day_b[0].t).total_seconds()
    stood_a = dwells[0][2]
    total_a = (day_a[-1].t - day_a[0].t).total_seconds()
    assert moved_s == pytest.approx(total_a - stood_a + total_b, rel=1e-5)


async def test_a_second_round_adds_only_new_history(
    settings: Settings, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    start = _start()
    day_a = trips.day(start, slow_mps=2.0, stop_s=600)
    await store(db, day_a)
    first = await insight_rollup.roll_up(pool, settings, start + timedelta(hours=1))
    assert first and sum(s.cells for s in first) > 0
    before = await _rolled(db)
    again = await insight_rollup.roll_up(pool, settings, start + timedelta(hours=1))
    assert again == []  # the watermark is there already
    assert await _rolled(db) == before
    # The first round started at the history's oldest day partition (within retention).
    oldest = datetime.combine(min(await partitions.existing_days(db)), datetime.min.time(), UTC)
    kept = start + timedelta(hours=1) - timedelta(days=settings.retention_days)
    assert first[0].start_at == max(oldest, kept) - timedelta(microseconds=1)
    assert first[0].start_at < day_a[0].t


async def test_the_rollup_is_kept_as_long_as_the_history(
    settings: Settings, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    start = _start()
    await store(db, trips.day(start, slow_mps=2.0, stop_s=600))
    await insight_rollup.roll_up(pool, settings, start + timedelta(hours=1))
    cells, dwells = await _rolled(db)
    assert cells and dwells
    one_day = dataclasses.replace(settings, retention_days=1)
    await insight_rollup.roll_up(pool, one_day, start + timedelta(days=1, minutes=30))
    assert await _rolled(db) == ({}, [])  # all of it older than a day by then


async def test_a_courier_crossing_a_utm_zone_edge_is_rolled_up(
    settings: Settings, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """12°E is the edge between zones 32 and 33 (Hof is at 11.9°E): each side's steps are
    counted in its zone, the step across none (it used to fail the whole slice, and every
    round after it, on PostGIS's mixed SRIDs)."""
    start = _start()
    lons = [11.99 + 0.0005 * i for i in range(41)]  # ~36 m apart, one every 5 s: 7 m/s
    points = [trips.Point(start + timedelta(seconds=5 * i), 0.0, 0.0) for i in range(41)]
    driver = (
        await queries.create_driver(
            db, name="Ben", phone=None, vehicle=None, device_id=None, token_hash="h"
        )
    ).id
    await partitions.ensure_days(db, {start.date()})
    records = [
        (driver, p.t, p.t, (lon, 50.3), 5.0, None, None, None, None, None)
        for p, lon in zip(points, lons, strict=True)
    ]
    await queries.create_staging_table(db)
    async with db.transaction():
        await queries.store_positions(db, records)
    done = await insight_rollup.roll_up(pool, settings, start + timedelta(hours=1))
    assert done and done[-1].end_at == start + timedelta(hours=1)
    cells, dwells = await _rolled(db)
    steps = {epsg: 0 for epsg in (32632, 32633)}
    for (_, epsg, _, _), (_, _, n) in cells.items():
        steps[epsg] += n
    west = sum(1 for lon in lons if lon < 12.0)
    assert steps == {32632: west - 1, 32633: len(lons) - west - 1} and dwells == []
