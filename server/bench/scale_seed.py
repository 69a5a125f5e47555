"""Seeding for `tracker bench --insights-scale` (server/bench/insights_scale.py): issue 18's
scale on a scratch database, as fast as the machine allows, and skipped when it is there.

- Deliveries: `tracker seed`'s made-up history (server/sim/history.py: the same visits,
  drawn from the same seed), written by COPY: orders, their outcome events, one
  `delivery_facts` row and the ETAs shown at each horizon per order; the insights rollups
  summed per cell in memory from the same deltas (server/domain/performance.py) and
  written by COPY, each row once. Skipped when the database holds as many orders as the
  plan makes, and rollups.
- Positions: the first drivers' shifts of 8 hours on each day of the history, generated
  inside PostgreSQL by one INSERT … SELECT per day (store/bench_scale.py), two days at a
  time. A day whose last fix is there is skipped, so an interrupted seeding resumes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from server.base.auth import hash_token, new_token
from server.base.settings import Settings
from server.domain import performance as perf
from server.domain.performance import Delta
from server.sim import history
from server.store import bench_insights, bench_scale, insights, partitions

SHIFT_START_H = 8
SHIFT_S = 8 * 3600
DAY_FIXES = 28_800  # one fix a second over the shift: issue 18's ~30,000-fix driver-day
STOPS = 17  # about, per courier-day (tracker seed's default)
SEED = 18
WRITERS = 2  # days generated at once (the development machine has 2 cores)


@dataclass(frozen=True, slots=True)
class Scale:
    """What to write: `drivers` couriers with about STOPS deliveries on each of `days`
    days, and `position_drivers` of them (ids 1..) with `day_fixes` fixes per shift."""

    days: int
    drivers: int
    position_drivers: int
    day_fixes: int

    @classmethod
    def of(cls, deliveries: int, positions: int, days: int) -> Scale:
        drivers = max(1, round(deliveries / (STOPS * days)))
        day_fixes = max(1, min(DAY_FIXES, positions // days))
        position_drivers = max(1, min(drivers, round(positions / (days * day_fixes))))
        return cls(days, drivers, position_drivers, day_fixes)

    @property
    def interval_s(self) -> float:
        return SHIFT_S / self.day_fixes

    @property
    def positions(self) -> int:
        return self.days * self.position_drivers * self.day_fixes


@dataclass(slots=True)
class Rows:
    """Rows of store/bench_scale.py's ORDER_, EVENT_, FACT_ and ETA_COLUMNS, and the
    rollup cells they add up to."""

    orders: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    facts: list[tuple[Any, ...]] = field(default_factory=list)
    etas: list[tuple[Any, ...]] = field(default_factory=list)
    hourly: dict[bench_scale.Cell, Delta] = field(default_factory=dict)
    daily: dict[bench_scale.Cell, Delta] = field(default_factory=dict)

    def add(self, hour: datetime, driver: int, zone: str, delta: Delta) -> None:
        """The four cells store/insights.py's `add` adds a delta to."""
        day = insights.day_of(hour)
        for cells, key in (
            (self.hourly, (hour, driver, zone)),
            (self.daily, (day, driver, insights.ANY_ZONE)),
            (self.daily, (day, insights.FLEET_DRIVER, zone)),
            (self.hourly, (hour, insights.FLEET_DRIVER, insights.FLEET_ZONE)),
        ):
            history.merge(cells.setdefault(key, Delta()), delta)


def _rows(scale: Scale, today: date, tz: ZoneInfo) -> Rows:
    """The deliveries of `tracker seed`'s history for this scale (the same draws)."""
    plan = history.Plan(scale.days, scale.drivers, STOPS, SEED)
    rows = Rows()
    orders, events, facts, etas = rows.orders, rows.events, rows.facts, rows.etas
    drivers = list(range(1, scale.drivers + 1))
    for driver, visits in history.visit_days(plan, drivers, today, tz):
        previous: datetime | None = None
        for v in visits:
            order_id = len(orders) + 1
            fact = history.finished(v, previous)
            assigned = v.out_at - timedelta(minutes=40)
            status = "delivered" if fact.delivered else "failed"
            orders.append((
                order_id, f"seed-{v.code}", v.code, bench_scale.BENCH_CUSTOMER, v.destination,
                v.promised, fact.window_start, fact.window_end, status, driver,
                assigned - timedelta(hours=2), v.finished, v.finished,
            ))  # fmt: skip
            events.append((order_id, v.out_at, "out_for_delivery", "seed", None))
            events.append((order_id, v.finished, status, "seed", v.reason))
            leg_s = fact.leg_s or 0.0
            facts.append((
                order_id, 1, driver, history.geohash(*v.destination), v.promised,
                fact.window_start, fact.window_end, assigned, v.out_at, v.arrival, v.finished,
                status, v.reason, fact.dwell_s, v.finished - timedelta(seconds=leg_s), leg_s,
                len(visits),
            ))  # fmt: skip
            etas.extend(
                (order_id, 1, s.horizon, s.shown_at, s.eta_at, *s.window, v.arrival,
                 perf.eta_error_s(s, v.arrival), perf.in_window(s, v.arrival))
                for s in v.shown
            )  # fmt: skip
            zone = facts[-1][3]
            rows.add(perf.hour_of(v.finished), driver, zone, perf.finished_delta(fact))
            rows.add(perf.hour_of(v.arrival), driver, zone, perf.arrival_delta(v.shown, v.arrival))
            previous = v.finished
    return rows


async def seeded_today(pool: asyncpg.Pool, scale: Scale) -> date | None:
    """The day after the history already seeded at this scale (the day it was seeded on:
    a rerun on a later day times the same days), or None."""
    async with pool.acquire() as conn:
        drivers, stored, days, last = await bench_scale.seeded(conn)
    if stored and (drivers, days) == (scale.drivers, scale.days) and last is not None:
        return last + timedelta(days=1)
    return None


async def seed_deliveries(
    pool: asyncpg.Pool, settings: Settings, scale: Scale, today: date
) -> dict[str, Any]:
    """The deliveries, facts and rollups; an empty database first (unless they are there)."""
    async with pool.acquire() as conn:
        await bench_scale.refuse_foreign(conn)
        drivers, stored, days, _ = await bench_scale.seeded(conn)
    if stored and (drivers, days) == (scale.drivers, scale.days):
        return {"orders": stored, "skipped": True}
    t0 = time.perf_counter()
    rows = _rows(scale, today, ZoneInfo(settings.operator_time_zone))
    made_s = time.perf_counter() - t0
    async with pool.acquire() as conn:
        await bench_scale.reset(conn)
        await bench_insights.add_drivers(
            conn, [hash_token(new_token()) for _ in range(scale.drivers)]
        )
        t1 = time.perf_counter()
        async with conn.transaction():
            await bench_scale.copy_deliveries(conn, rows.orders, rows.events, rows.facts, rows.etas)
            rollups = await bench_scale.copy_rollups(conn, rows.hourly, rows.daily)
        copy_s = time.perf_counter() - t1
    copied = len(rows.orders) + len(rows.events) + len(rows.facts) + len(rows.etas) + rollups
    return {
        "orders": len(rows.orders),
        "skipped": False,
        "generate_s": round(made_s, 1),
        "copy_s": round(copy_s, 1),
        "copy_rows": copied,
        "rollup_rows": rollups,
        "copy_rows_per_s": round(copied / max(copy_s, 1e-9)),
    }


def shift_start(today: date, days_ago: int) -> datetime:
    day = today - timedelta(days=days_ago)
    return datetime(day.year, day.month, day.day, SHIFT_START_H, tzinfo=UTC)


async def seed_positions(pool: asyncpg.Pool, scale: Scale, today: date) -> dict[str, Any]:
    """Each day's shifts, WRITERS days at a time; days already written are skipped."""
    async with pool.acquire() as conn:
        await partitions.ensure_days(
            conn, {today - timedelta(days=d) for d in range(1, scale.days + 1)}
        )
    last_fix = timedelta(seconds=(scale.day_fixes - 1) * scale.interval_s)
    slots = asyncio.Semaphore(WRITERS)
    written = 0

    async def day(days_ago: int) -> None:
        nonlocal written
        start = shift_start(today, days_ago)
        async with slots, pool.acquire() as conn:
            if await bench_scale.day_written(conn, scale.position_drivers, start + last_fix):
                return
            await bench_scale.generate_day(
                conn, scale.position_drivers, start, scale.day_fixes, scale.interval_s,
                history.CENTRE,
            )  # fmt: skip
            written += scale.position_drivers * scale.day_fixes

    t0 = time.perf_counter()
    await asyncio.gather(*(day(d) for d in range(1, scale.days + 1)))
    seconds = time.perf_counter() - t0
    if written:  # else as the run that wrote it left it (ANALYZE of 50M rows: a minute)
        async with pool.acquire() as conn:
            await bench_scale.analyze(conn)
    return {
        "positions": scale.positions,
        "written": written,
        "seconds": round(seconds, 1),
        "rows_per_s": round(written / seconds) if written else None,
        "analyze_s": round(time.perf_counter() - t0 - seconds, 1),
    }
