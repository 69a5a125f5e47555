"""The daily rollups (migration 0020) the driver and zone tables read for whole UTC days:
a history written through the recording functions, then the daily cells against the
hourly ones summed per UTC day, and the tables against the same tables read from the
hourly cells alone, in time zones whose days are not UTC's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from server.base.settings import Settings
from server.sim import history
from server.store import insight_queries
from server.store.pool import create_pool
from server.store.schema_insights import SUM_COLUMNS
from server.usecases.insights import reports

TABLE_METRICS = list(reports.TABLE_METRICS)


async def _seeded(settings: Settings) -> None:
    pool = await create_pool(settings)
    try:
        assert await history.seed(pool, settings, history.Plan(3, 3, 6, seed=5)) > 0
    finally:
        await pool.close()


async def test_the_daily_cells_are_the_hourly_ones_summed_per_utc_day(
    settings: Settings, db: asyncpg.Connection
) -> None:
    await _seeded(settings)
    day = "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    sums = ", ".join(f"sum({c})::float8 AS {c}" for c in SUM_COLUMNS)
    for driver, zone, where in (
        ("driver_id", "'*'", "zone = '*'"),
        ("-1", "zone", "driver_id = -1"),
    ):
        hourly = await db.fetch(
            f"""SELECT {day} AS day, {driver} AS driver_id, {zone} AS zone, {sums}
                FROM insight_rollups WHERE driver_id >= 0 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        )
        daily = await db.fetch(
            f"""SELECT day, driver_id, zone, {sums} FROM insight_day_rollups WHERE {where}
                GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
        )
        assert len(hourly) > 3
        assert [tuple(r)[:3] for r in daily] == [tuple(r)[:3] for r in hourly]
        assert [tuple(r)[3:] for r in daily] == [pytest.approx(tuple(r)[3:]) for r in hourly]
        hourly_counts = await db.fetch(
            f"""SELECT {day} AS day, {driver} AS driver_id, {zone} AS zone, metric, bucket,
                       sum(n) AS n
                FROM insight_counts WHERE driver_id >= 0 GROUP BY 1, 2, 3, 4, 5
                ORDER BY 1, 2, 3, 4, 5"""
        )
        daily_counts = await db.fetch(
            f"""SELECT day, driver_id, zone, metric, bucket, n FROM insight_day_counts
                WHERE {where} ORDER BY 1, 2, 3, 4, 5"""
        )
        assert [tuple(r) for r in daily_counts] == [tuple(r) for r in hourly_counts]
    # Nothing else in them: no day has a fleet cell, every row is one of the two kinds.
    assert not await db.fetchval(
        "SELECT count(*) FROM insight_day_rollups WHERE (zone = '*') = (driver_id = -1)"
    )


@pytest.mark.parametrize(
    "time_zone", ["UTC", "Asia/Kolkata", "America/New_York", "Pacific/Chatham"]
)
async def test_the_tables_read_from_days_are_those_read_from_hours(
    settings: Settings, db: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch, time_zone: str
) -> None:
    await _seeded(settings)
    # The periods end on the day the history was counted back from (the operator's today),
    # not on today in `time_zone`: after 18:30 UTC Kolkata's today is UTC's tomorrow, and a
    # one-day period there would hold none of the seeded days.
    last = reports.today(settings.operator_time_zone, datetime.now(UTC))
    used_days = 0
    for days in (1, 2, 3, 4):
        period = reports.Period(last - timedelta(days=days), last, time_zone)
        whole = insight_queries._whole_days(period.from_at, period.to_at)
        used_days += whole is not None
        for by in ("driver", "zone"):
            args = (by, period.from_at, period.to_at, None, None, time_zone, TABLE_METRICS)
            from_days = await insight_queries.grouped(db, *args)
            with monkeypatch.context() as m:
                m.setattr(insight_queries, "_whole_days", lambda _from, _to: None)
                from_hours = await insight_queries.grouped(db, *args)
            assert from_hours, (by, days)
            assert [g.key for g in from_days] == [g.key for g in from_hours]
            for a, b in zip(from_days, from_hours, strict=True):
                assert a.counts == b.counts
                assert a.sums == pytest.approx(b.sums)
    assert used_days >= 2  # whole UTC days inside the periods: the daily cells were read
