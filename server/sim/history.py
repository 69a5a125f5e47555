"""`tracker seed`: a large delivery history in seconds rather than in days, written through
the same functions the server records with (store/orders.py for each status change,
usecases/insights/facts.py for its facts and rollups, store/insights.py's record_arrival
for GPS arrivals with the ETAs shown before them), so the insights API and its figures can
be tried on 30 days x 200 couriers. `--bench` then times every `/api/insights/*` query
(the use-case, as the handlers call it) and prints p50/p95.

What is made up, per driver and operator-local day: a run of about `--stops` stops from
09:00, legs of 6-20 min, promises in 2-hour windows (a fifth without a window), GPS
arrivals with ETAs shown at each horizon whose error grows with the horizon, 45 s to 6 min
at the door, 5 % failed with a courier's reason. No positions are written (legs have no
distance): the insights never read positions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from server import exit_codes
from server.base.settings import Settings, SettingsError
from server.domain import performance as perf
from server.domain.lifecycle import Status
from server.domain.performance import HORIZONS, Delta, Finished, Shown
from server.store import insight_queries, insights, queries
from server.store import orders as store
from server.store.orders import NewOrder
from server.store.pool import create_pool
from server.usecases.insights import facts, reports

REASONS = ("not_home", "refused", "address_not_found", "no_access", "damaged")
CENTRE = (-8.61, 41.15)  # Porto, as the demo fleet
CONCURRENCY = 4


@dataclass(frozen=True, slots=True)
class Plan:
    days: int
    drivers: int
    stops: int
    seed: int


async def seed(pool: asyncpg.Pool, settings: Settings, plan: Plan) -> int:
    """Write the history; returns the number of orders made."""
    rng = random.Random(plan.seed)
    drivers = await _drivers(pool, plan.drivers)
    tz = ZoneInfo(settings.operator_time_zone)
    today = reports.today(settings.operator_time_zone, datetime.now(tz))
    work = [
        (driver, today - timedelta(days=d), random.Random(rng.random()))
        for d in range(1, plan.days + 1)
        for driver in drivers
    ]
    made = 0
    slots = asyncio.Semaphore(CONCURRENCY)

    async def day(driver: int, on: date, day_rng: random.Random) -> None:
        nonlocal made
        async with slots, pool.acquire() as conn:
            n = await _driver_day(conn, settings, driver, on, tz, plan.stops, day_rng)
        made += n

    await asyncio.gather(*(day(*w) for w in work))
    return made


@dataclass(frozen=True, slots=True)
class Visit:
    """One made-up stop of a driver's day."""

    code: str
    destination: tuple[float, float]
    promised: datetime
    window: tuple[datetime, datetime] | None
    out_at: datetime  # out for delivery
    arrival: datetime
    shown: list[Shown]
    finished: datetime
    reason: str | None  # failed, with this reason; None: delivered


def _visits(driver: int, on: date, tz: ZoneInfo, stops: int, rng: random.Random) -> list[Visit]:
    at = datetime.combine(on, datetime.min.time(), tz).replace(hour=9) + timedelta(
        minutes=rng.uniform(-30, 30)
    )
    visits = []
    for k in range(max(1, round(stops * rng.uniform(0.7, 1.3)))):
        arrival = at + timedelta(minutes=rng.uniform(6, 20))
        window_start = arrival.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
        promised = window_start + timedelta(hours=2 + rng.choice((0, 0, 0, -1)))
        window = (window_start, promised) if rng.random() > 0.2 else None
        lon, lat = CENTRE[0] + rng.gauss(0, 0.05), CENTRE[1] + rng.gauss(0, 0.04)
        out_at = at - timedelta(minutes=20)
        finished = arrival + timedelta(seconds=rng.uniform(45, 360))
        reason = rng.choice(REASONS) if rng.random() < 0.05 else None
        code = f"S{driver:05d}{on:%y%m%d}{k:04d}"
        shown = _shown(arrival, out_at, rng)
        visits.append(
            Visit(code, (lon, lat), promised, window, out_at, arrival, shown, finished, reason)
        )
        at = finished
    return visits


async def _drivers(pool: asyncpg.Pool, count: int) -> list[int]:
    async with pool.acquire() as conn:
        return [
            (await queries.create_driver(
                conn, name=f"Seeded {k + 1}", phone=None, vehicle=None, device_id=None,
                token_hash=f"seed-{secrets.token_hex(16)}",  # no token logs in
            )).id
            for k in range(count)
        ]  # fmt: skip


async def _driver_day(
    conn: PoolConnectionProxy, settings: Settings, driver: int, on: date, tz: ZoneInfo,
    stops: int, rng: random.Random,
) -> int:  # fmt: skip
    visits = _visits(driver, on, tz, stops, rng)
    for v in visits:
        window = v.window or (None, None)
        new = NewOrder(
            f"seed-{v.code}", v.code, "Seeded customer", None, None, v.destination, None,
            v.promised, *window,
        )  # fmt: skip
        assigned = v.out_at - timedelta(minutes=40)
        async with conn.transaction():
            order, _ = await store.create_order(conn, new, "seed", assigned - timedelta(hours=2))
            await store.assign(conn, order.id, driver, None, None, assigned, 10**6)
            await facts.assigned(conn, order.id, assigned)
            await _status(conn, order.id, Status.SHIPPED, v.out_at - timedelta(minutes=10))
            await _status(conn, order.id, Status.OUT_FOR_DELIVERY, v.out_at)
            await insights.record_arrival(conn, order.id, v.arrival, v.shown)
            done = Status.FAILED if v.reason else Status.DELIVERED
            await _status(conn, order.id, done, v.finished, v.reason)
    return len(visits)


def merge(into: Delta, more: Delta) -> None:
    for name, value in more.sums.items():
        into.sums[name] = into.sums.get(name, 0) + value
    for key, n in more.counts.items():
        into.counts[key] = into.counts.get(key, 0) + n


def visit_days(
    plan: Plan, drivers: list[int], today: date, tz: ZoneInfo
) -> Iterator[tuple[int, list[Visit]]]:
    """Each driver-day's visits, drawn as seed() draws them (the same history): the days
    before `today`, most recent first, every driver in turn."""
    rng = random.Random(plan.seed)
    for d in range(1, plan.days + 1):
        for driver in drivers:
            day_rng = random.Random(rng.random())
            yield driver, _visits(driver, today - timedelta(days=d), tz, plan.stops, day_rng)


def finished(v: Visit, previous: datetime | None) -> Finished:
    """The visit's attempt as it ended; its leg starts at out for delivery or when the
    courier's previous stop ended, whichever is later."""
    start = v.out_at if previous is None else max(v.out_at, previous)
    window_start, window_end = v.window or (None, None)
    return Finished(
        v.finished, v.reason is None, v.reason, 1, v.promised, window_start, window_end,
        (v.finished - v.arrival).total_seconds(), (v.finished - start).total_seconds(), 0.0,
    )  # fmt: skip


async def seed_rollups(
    pool: asyncpg.Pool, settings: Settings, plan: Plan, drivers: list[int] | None = None
) -> int:
    """`--fast`: the rollups alone, for sizing the read side in minutes. The same deltas
    (server/domain/performance.py) merged per cell in memory, each cell written once with
    store/insights.py's upsert; no orders or facts. `drivers`: existing drivers' ids
    (default: `plan.drivers` new ones)."""
    if drivers is None:
        drivers = await _drivers(pool, plan.drivers)
    tz = ZoneInfo(settings.operator_time_zone)
    today = reports.today(settings.operator_time_zone, datetime.now(tz))
    cells: dict[tuple[datetime, int, str], Delta] = {}
    made = 0
    for driver, visits in visit_days(plan, drivers, today, tz):
        previous: datetime | None = None
        for v in visits:
            zone = geohash(*v.destination)
            for hour, delta in (
                (perf.hour_of(v.finished), perf.finished_delta(finished(v, previous))),
                (perf.hour_of(v.arrival), perf.arrival_delta(v.shown, v.arrival)),
            ):
                merge(cells.setdefault((hour, driver, zone), Delta()), delta)
            previous = v.finished
            made += 1
    slots = asyncio.Semaphore(CONCURRENCY)

    async def write(key: tuple[datetime, int, str], delta: Delta) -> None:
        async with slots, pool.acquire() as conn:
            await insights.add(conn, *key, delta)

    await asyncio.gather(*(write(key, delta) for key, delta in cells.items()))
    return made


def geohash(lon: float, lat: float, length: int = 5) -> str:
    """What PostGIS's ST_GeoHash gives (the zones of the real recording)."""
    alphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
    bounds = [[-180.0, 180.0], [-90.0, 90.0]]
    code: list[str] = []
    bits, value, even = 0, 0, True
    while len(code) < length:
        axis = bounds[0] if even else bounds[1]
        mid = (axis[0] + axis[1]) / 2
        value = value * 2 + ((lon if even else lat) >= mid)
        axis[0 if (lon if even else lat) >= mid else 1] = mid
        even, bits = not even, bits + 1
        if bits == 5:
            code.append(alphabet[value])
            bits, value = 0, 0
    return "".join(code)


async def _status(
    conn: PoolConnectionProxy, order_id: int, status: Status, at: datetime,
    reason: str | None = None,
) -> None:  # fmt: skip
    changed = await store.change_status(conn, order_id, status, "seed", None, at, reason)
    assert changed is not None
    await facts.status_changed(conn, changed[1], changed[2])


def _shown(arrival: datetime, dispatched: datetime, rng: random.Random) -> list[Shown]:
    """ETAs as a tracker would have shown them: the further out, the further off."""
    shown = []
    for name, minutes in HORIZONS:
        at = dispatched if minutes is None else arrival - timedelta(minutes=minutes)
        if at < dispatched:
            continue
        ahead_s = (arrival - at).total_seconds()
        eta = arrival + timedelta(seconds=rng.gauss(0, 30 + 0.12 * ahead_s))
        half = timedelta(seconds=60 + 0.15 * ahead_s)
        shown.append(Shown(name, at, eta, (eta - half, eta + half)))
    return shown


class _Services:
    """What the insights use-case needs, for timing it without HTTP."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.settings = settings
        self._pool = pool

    def db(self) -> AbstractAsyncContextManager[PoolConnectionProxy]:
        return self._pool.acquire()


async def bench(
    pool: asyncpg.Pool, settings: Settings, days: int, rounds: int, driver: int | None
) -> dict[str, Any]:
    """p50/p95 of each insights query over the last `days` days, `rounds` times each."""
    services = _Services(pool, settings)
    last = reports.today(settings.operator_time_zone, datetime.now(ZoneInfo("UTC")))
    period = reports.Period(last - timedelta(days=days - 1), last, settings.operator_time_zone)
    week = reports.Period(last - timedelta(days=6), last, settings.operator_time_zone)
    queries_: dict[str, Callable[[], Awaitable[object]]] = {
        "summary": lambda: reports.summary(services, period, None, None),
        "summary_one_driver": lambda: reports.summary(services, period, driver, None),
        "series_day": lambda: reports.table(services, "day", period, None, None),
        "series_hour_7d": lambda: reports.table(services, "hour", week, None, None),
        "drivers": lambda: reports.table(services, "driver", period, None, None),
        "zones": lambda: reports.table(services, "zone", period, None, None),
    }
    figures: dict[str, Any] = {}
    for name, query in queries_.items():
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            await query()
            times.append((time.perf_counter() - started) * 1000.0)
        times.sort()
        figures[name] = {
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        }
    return figures


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(None)
    except SettingsError as exc:
        exit_codes.fail(exit_codes.CONFIGURATION, f"configuration error: {exc}")

    async def main() -> dict[str, Any]:
        pool = await create_pool(settings)
        try:
            result: dict[str, Any] = {}
            if args.days > 0 and args.drivers > 0:
                started = time.perf_counter()
                plan = Plan(args.days, args.drivers, args.stops, args.seed)
                write = seed_rollups if args.fast else seed
                result["orders"] = await write(pool, settings, plan)
                result["seconds"] = round(time.perf_counter() - started, 1)
            async with pool.acquire() as conn:
                result["rollup_rows"], result["count_rows"] = await insight_queries.sizes(conn)
                driver = await insight_queries.busiest_driver(conn)
            if args.bench:
                result["latency"] = await bench(
                    pool, settings, max(args.days, 1), args.rounds, driver
                )
            return result
        finally:
            await pool.close()

    print(json.dumps(asyncio.run(main()), indent=1), file=sys.stdout)
    return 0


def add_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "seed",
        help="write a made-up delivery history (orders, facts, rollups) into DATABASE_URL "
        "through the server's own recording functions; --bench times the insights queries",
    )
    parser.add_argument("--days", type=int, default=30, help="days before today (default 30)")
    parser.add_argument("--drivers", type=int, default=20, help="couriers (default 20)")
    parser.add_argument("--stops", type=int, default=17, help="stops per courier-day (about)")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument(
        "--fast",
        action="store_true",
        help="the rollups only (no orders, facts or drivers): sizes the read side in minutes",
    )
    parser.add_argument("--bench", action="store_true", help="then time the insights queries")
    parser.add_argument("--rounds", type=int, default=20, help="--bench: calls per query")
    parser.set_defaults(func=run)
