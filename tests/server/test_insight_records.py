"""The recording functions on a real PostGIS, in the orders the server can meet them: a
GPS arrival recorded after the delivery it preceded (the recorder is behind the status
change), and one that comes again or after a later attempt began."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from server.base.settings import Settings
from server.bench import scale_seed
from server.domain.histograms import DWELL
from server.domain.lifecycle import Status
from server.domain.performance import Shown
from server.sim import history
from server.store import insights, queries
from server.store import orders as store
from server.store.orders import NewOrder
from server.store.pool import create_pool
from server.store.schema_insights import SUM_COLUMNS
from server.usecases.insights import reports
from tests.conftest import empty_tables

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def _order(db: asyncpg.Connection) -> tuple[int, int]:
    driver = await queries.create_driver(
        db, name="Ana", phone=None, vehicle=None, device_id=None, token_hash="h"
    )
    new = NewOrder(None, "CODE1", "Cleo", None, None, (11.92, 50.31), None, None, None, None)
    order, _ = await store.create_order(db, new, "admin", T0)
    await store.assign(db, order.id, driver.id, None, None, T0, 100)
    for status in (Status.SHIPPED, Status.OUT_FOR_DELIVERY):
        await store.change_status(db, order.id, status, "admin", None, T0)
    await insights.out_for_delivery(db, order.id, T0)
    return order.id, driver.id


async def _counts(db: asyncpg.Connection) -> dict[tuple[str, int], int]:
    rows = await db.fetch(
        """SELECT metric, bucket, sum(n) AS n FROM insight_counts WHERE driver_id >= 0
           GROUP BY 1, 2"""
    )
    return {(r["metric"], r["bucket"]): int(r["n"]) for r in rows}


async def test_an_arrival_recorded_after_the_delivery_still_counts_its_time_at_the_door(
    db: asyncpg.Connection,
) -> None:
    order_id, driver_id = await _order(db)
    arrived = T0 + timedelta(minutes=10)
    delivered = arrived + timedelta(seconds=95)
    async with db.transaction():
        await insights.finished(db, order_id, driver_id, delivered, True, None)
    assert (await _counts(db)).get((DWELL.name, DWELL.index(95.0))) is None
    shown = Shown("dispatch", T0, arrived + timedelta(seconds=40), (T0, arrived))
    async with db.transaction():
        assert await insights.record_arrival(db, order_id, arrived, [shown])
    row = await db.fetchrow("SELECT * FROM delivery_facts")
    assert row is not None and row["dwell_s"] == 95.0
    counts = await _counts(db)
    assert counts[(DWELL.name, DWELL.index(95.0))] == 1
    sums = await db.fetchrow(
        """SELECT sum(dwell_n) AS n, sum(dwell_s) AS s, sum(eta_n_dispatch) AS eta_n,
                  sum(eta_abs_s_dispatch) AS eta_abs, sum(eta_in_window_dispatch) AS inside
           FROM insight_rollups WHERE driver_id >= 0"""
    )
    assert sums is not None and (sums["n"], sums["s"]) == (1, 95.0)
    assert (sums["eta_n"], sums["eta_abs"], sums["inside"]) == (1, 40.0, 1)
    # The same arrival heard again (a retry) changes nothing.
    async with db.transaction():
        assert not await insights.record_arrival(db, order_id, arrived, [shown])
    assert await _counts(db) == counts


async def test_an_arrival_after_the_attempt_ended_is_not_recorded(
    db: asyncpg.Connection,
) -> None:
    order_id, driver_id = await _order(db)
    async with db.transaction():
        await insights.finished(db, order_id, driver_id, T0 + timedelta(minutes=5), False, "x")
    async with db.transaction():
        late = T0 + timedelta(minutes=6)
        assert not await insights.record_arrival(db, order_id, late, [])
    assert await db.fetchval("SELECT arrived_at FROM delivery_facts") is None


async def test_a_seeded_history_and_its_fast_rollups_agree(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """`tracker seed` through the recording functions, then `--fast` with the same plan:
    the same made-up days give the same rollups (the fast one's drivers numbered on)."""
    plan = history.Plan(days=2, drivers=2, stops=5, seed=3)
    pool = await create_pool(settings)
    try:
        made = await history.seed(pool, settings, plan)
        full = await _totals(db)
        await empty_tables(db)
        assert await history.seed_rollups(pool, settings, plan) == made
        fast = await _totals(db)
    finally:
        await pool.close()
    facts = await db.fetchval("SELECT count(*) FROM delivery_facts")
    assert facts == 0 and made > 0  # --fast writes no facts
    assert full == pytest.approx(fast)
    assert full[0] == made


async def _totals(db: asyncpg.Connection) -> tuple[float, ...]:
    """The fleet's sums (attempts first), and its histogram counts, over everything."""
    row = await db.fetchrow(
        f"SELECT {', '.join(f'sum({c})' for c in SUM_COLUMNS)} FROM insight_rollups "
        "WHERE driver_id = -1"
    )
    assert row is not None
    n = await db.fetchval("SELECT sum(n * (bucket + 1)) FROM insight_counts WHERE driver_id = -1")
    return (*(float(v) for v in row.values()), float(n))


async def test_the_scale_benchs_copied_history_is_what_tracker_seed_records(
    settings: Settings, db: asyncpg.Connection
) -> None:
    """`tracker bench --insights-scale` writes `tracker seed`'s history by COPY (facts,
    ETAs and the rollups summed in memory): the same as the recording functions write
    for the same plan, hourly and daily, fleet and per-zone rows alike."""
    scale = scale_seed.Scale(days=2, drivers=2, position_drivers=1, day_fixes=1)
    plan = history.Plan(scale.days, scale.drivers, scale_seed.STOPS, scale_seed.SEED)
    today = reports.today(settings.operator_time_zone, datetime.now(UTC))
    pool = await create_pool(settings)
    try:
        copied = await scale_seed.seed_deliveries(pool, settings, scale, today)
        fast = await _everything(db)
        await empty_tables(db)
        assert await history.seed(pool, settings, plan) == copied["orders"] > 0
        recorded = await _everything(db)
    finally:
        await pool.close()
    assert fast == pytest.approx(recorded)


async def _everything(db: asyncpg.Connection) -> tuple[float, ...]:
    """The fleet's totals, hourly and daily (zones' rows), and the facts' and ETAs' sums."""
    sums = ", ".join(f"sum({c})" for c in SUM_COLUMNS)
    hourly = await db.fetchrow(f"SELECT {sums} FROM insight_rollups WHERE driver_id = -1")
    daily = await db.fetchrow(f"SELECT {sums} FROM insight_day_rollups WHERE driver_id = -1")
    rest = await db.fetchrow(
        """SELECT (SELECT sum(n * (bucket + 1)) FROM insight_counts WHERE driver_id = -1),
                  (SELECT sum(n * (bucket + 1)) FROM insight_day_counts WHERE zone = '*'),
                  (SELECT count(*) FROM insight_rollups),
                  (SELECT count(*) FROM insight_day_rollups),
                  (SELECT sum(leg_s) + sum(dwell_s) FROM delivery_facts),
                  (SELECT count(*) FILTER (WHERE outcome = 'failed') FROM delivery_facts),
                  (SELECT sum(error_s) FROM eta_accuracy),
                  (SELECT count(*) FILTER (WHERE in_window) FROM eta_accuracy)"""
    )
    assert hourly is not None and daily is not None and rest is not None
    return tuple(float(v) for row in (hourly, daily, rest) for v in row.values())
