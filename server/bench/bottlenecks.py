"""`tracker bench --bottlenecks`: what the bottleneck rollup and its routes cost.

On a scratch database it writes a synthetic history straight into `positions` (COPY):
`drivers` couriers, `days` days of an 8-hour shift each, a fix every `interval_s`, driving
a street grid in Porto at ~8 m/s with stops of 2 to 6 minutes (a delivered order at each;
a third late against its promise, one in twenty failed), and on the last day three
congested districts where traffic crawls. Then it measures:

- the rollup (server/usecases/insight_rollup.py) over the whole history: seconds, and
  positions rolled up per second;
- a real server (`tracker serve` in a subprocess) answering `GET /api/insights/bottlenecks`
  (each layer) and `GET /api/insights/heatmap` (each metric) over the last day, the last 7
  days and the whole history: p50/p95/max latency of `repeat` requests each, features and
  bytes;
- then a speed profile learned from the history (geo/speed_profile.py's `learn`, at most
  PROFILE_MAX_ROWS fixes; no calibration) stored as the ETA models, and the `slow` layer and
  heat map again, against it ("... profile"; `from_profile`: features whose usual came from
  it). The first answer after start-up builds the profile's index of cells (in `max_ms`).

It prints JSON; nothing is asserted (issue 18 asks for p95 < 300 ms per insights answer).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import numpy as np
from pyproj import Transformer

from geo.calibration import Calibration
from geo.speed_profile import learn
from server.base.auth import hash_token, new_token
from server.base.settings import Settings
from server.bench.target import start_server
from server.domain.codes import new_code
from server.store import bench_insights as sql
from server.store import codecs, eta_models, migrate, partitions
from server.usecases import insight_rollup

EPSG = 32629  # Porto's UTM zone
CENTRE = (532_000.0, 4_555_000.0)
HALF_SIDE_M = 3_000.0
JAMS = ((531_000.0, 4_554_000.0), (533_000.0, 4_556_000.0), (532_000.0, 4_555_500.0))
JAM_RADIUS_M = 500.0
SHIFT_S = 8 * 3600
ORDER_CHUNK_DRIVERS = 10
PROFILE_MAX_ROWS = 1_000_000  # fixes the bench's profile learns from (whole trips, by driver)


@dataclasses.dataclass
class DayOut:
    rows: list[tuple[Any, ...]]
    stops: list[tuple[float, float, datetime]]  # x, y, end of the stop


def _day(rng: np.random.Generator, driver_id: int, start: datetime, interval_s: float,
         jammed: bool, to_lonlat: Transformer) -> DayOut:  # fmt: skip
    n = int(SHIFT_S / interval_s)
    speed = np.zeros(n)
    heading = np.zeros(n)
    stop_ends: list[int] = []
    i = 0
    direction = rng.integers(4)
    while i < n:
        drive = int(rng.uniform(180, 600) / interval_s)
        speed[i : i + drive] = rng.uniform(6.0, 10.0)
        direction = (direction + rng.choice([-1, 0, 1])) % 4
        heading[i : i + drive] = direction * math.pi / 2
        i += drive
        if i < n and rng.random() < 0.7:
            stop = int(rng.uniform(120, 360) / interval_s)
            stop_ends.append(min(n - 1, i + stop))
            i += stop
    x = np.empty(n)
    y = np.empty(n)
    px, py = CENTRE[0] + rng.uniform(-2000, 2000), CENTRE[1] + rng.uniform(-2000, 2000)
    for k in range(n):
        v = speed[k]
        if jammed and v > 0 and any(math.dist((px, py), j) < JAM_RADIUS_M for j in JAMS):
            v *= 0.3
        nx = px + v * interval_s * math.cos(heading[k])
        ny = py + v * interval_s * math.sin(heading[k])
        if abs(nx - CENTRE[0]) > HALF_SIDE_M or abs(ny - CENTRE[1]) > HALF_SIDE_M:
            heading[k:] += math.pi  # turn back at the edge of town
            nx, ny = px, py
        px, py = nx, ny
        x[k], y[k] = px, py
    still = speed == 0
    x[still] += rng.normal(0, 3, still.sum())
    y[still] += rng.normal(0, 3, still.sum())
    lon, lat = to_lonlat.transform(x, y)
    times = [start + timedelta(seconds=k * interval_s) for k in range(n)]
    rows = [
        (driver_id, times[k], times[k], (float(lon[k]), float(lat[k])), 5.0, float(speed[k]),
         None, None, None, None)
        for k in range(n)
    ]  # fmt: skip
    return DayOut(rows, [(float(lon[e]), float(lat[e]), times[e]) for e in stop_ends])


def _orders(
    rng: np.random.Generator,
    first_id: int,
    driver_id: int,
    stops: list[tuple[float, float, datetime]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    orders, events = [], []
    for k, (lon, lat, at) in enumerate(stops):
        order_id = first_id + k
        failed = rng.random() < 0.05
        promised = at + timedelta(minutes=float(rng.uniform(-30, 60)))
        status = "failed" if failed else "delivered"
        orders.append((order_id, new_code(), "bench customer", (lon, lat), status, driver_id,
                       promised, at - timedelta(hours=3), at, None if failed else at))  # fmt: skip
        events.append((order_id, at - timedelta(hours=1), "out_for_delivery", "bench"))
        events.append((order_id, at, status, "bench"))
    return orders, events


async def _seed(conn: asyncpg.Connection, drivers: int, days: int, interval_s: float,
                first_day: datetime) -> dict[str, float]:  # fmt: skip
    rng = np.random.default_rng(18)
    to_lonlat = Transformer.from_crs(f"EPSG:{EPSG}", "EPSG:4326", always_xy=True)
    await sql.reset(conn)
    await sql.add_drivers(conn, [hash_token(new_token()) for _ in range(drivers)])
    await partitions.ensure_days(
        conn, {(first_day + timedelta(days=d)).date() for d in range(days)}
    )
    positions = orders = 0
    made_s = copied_s = 0.0
    for d in range(days):
        start = first_day + timedelta(days=d, hours=8)
        for chunk in range(0, drivers, ORDER_CHUNK_DRIVERS):
            t0 = time.perf_counter()
            rows: list[tuple[Any, ...]] = []
            order_rows: list[tuple[Any, ...]] = []
            event_rows: list[tuple[Any, ...]] = []
            for driver_id in range(chunk + 1, min(drivers, chunk + ORDER_CHUNK_DRIVERS) + 1):
                out = _day(rng, driver_id, start, interval_s, d == days - 1, to_lonlat)
                rows.extend(out.rows)
                o, e = _orders(rng, orders + len(order_rows) + 1, driver_id, out.stops)
                order_rows.extend(o)
                event_rows.extend(e)
            t1 = time.perf_counter()
            await sql.copy_positions(conn, rows)
            await sql.copy_orders(conn, order_rows, event_rows)
            copied_s += time.perf_counter() - t1
            made_s += t1 - t0
            positions += len(rows)
            orders += len(order_rows)
    await sql.analyze(conn)
    return {"positions": positions, "orders": orders, "generate_s": round(made_s, 1),
            "copy_s": round(copied_s, 1),
            "copy_rows_per_s": round((positions + 3 * orders) / max(copied_s, 1e-9))}  # fmt: skip


async def _measure(
    url: str, token: str, path: str, params: dict[str, str], repeat: int
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    times: list[float] = []
    body: dict[str, Any] = {}
    size = 0
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
        for _ in range(repeat):
            t0 = time.perf_counter()
            answer = await client.get(path, params=params)
            times.append((time.perf_counter() - t0) * 1000)
            answer.raise_for_status()
            size = len(answer.content)
            body = answer.json()
    quantiles = (
        statistics.quantiles(times, n=20, method="inclusive") if len(times) > 1 else times * 19
    )
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(quantiles[18], 1),
        "max_ms": round(max(times), 1),
        "features": len(body["features"]) if "features" in body else None,
        "from_profile": sum(
            f["properties"].get("usual_from") == "profile" for f in body.get("features", ())
        ),
        "truncated": body.get("truncated"),
        "bytes": size,
    }


async def seed_history(
    database_url: str, drivers: int, days: int, interval_s: float
) -> tuple[dict[str, Any], datetime]:
    """Migrate the scratch database and write `days` of synthetic history ending today
    (COPY); returns what was written and the first day. Shared with bench/exports.py."""
    await migrate.prepare(database_url)
    await migrate.upgrade_async(database_url)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    first_day = today - timedelta(days=days)
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        seeded = await _seed(conn, drivers, days, interval_s, first_day)
    finally:
        await conn.close()
    return seeded, first_day


async def bench_bottlenecks(
    database_url: str, drivers: int, days: int, interval_s: float, repeat: int
) -> dict[str, Any]:
    seeded, first_day = await seed_history(database_url, drivers, days, interval_s)

    settings = Settings.from_env({}, database_url=database_url)
    until = first_day + timedelta(days=days)  # today, 00:00 UTC
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        async with pool.acquire() as c:
            await sql.start_rollup_at(c, first_day - timedelta(seconds=1))
        t0 = time.perf_counter()
        slices = await insight_rollup.roll_up(pool, settings, until)
        rollup_s = time.perf_counter() - t0
        async with pool.acquire() as c:
            await sql.analyze(c)
            cells, dwells = await sql.rollup_sizes(c)
    rollup = {
        "seconds": round(rollup_s, 1),
        "slices": len(slices),
        "positions_per_s": round(seeded["positions"] / rollup_s),
        "cell_hours": cells,
        "dwells": dwells,
    }

    token = new_token()
    ranges = {"1d": 1, "7d": min(7, days), f"{days}d": days}
    answers = await _answers(database_url, token, until, ranges, ("slow", "dwell", "late"), repeat)
    learned = await _learn_profile(database_url, first_day)
    with_profile = await _answers(
        database_url, token, until, ranges, ("slow",), repeat, wait_for_profile=True
    )
    answers.update({f"{name} profile": figures for name, figures in with_profile.items()})
    return {
        "seed": {"drivers": drivers, "days": days, "interval_s": interval_s, **seeded},
        "rollup": rollup,
        "profile": learned,
        "answers": answers,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }


async def _answers(
    database_url: str,
    token: str,
    until: datetime,
    ranges: dict[str, int],
    layers: tuple[str, ...],
    repeat: int,
    wait_for_profile: bool = False,
) -> dict[str, Any]:
    """Each layer and heat map over each range, on a server started for them (that has
    loaded the stored profile, with `wait_for_profile`)."""
    process, url = await start_server(
        database_url, token, env={"TRACKER_INSIGHT_ROLLUP_INTERVAL_S": "86400"}
    )
    answers: dict[str, Any] = {}
    try:
        if wait_for_profile:  # the server loads it at start-up, as it runs
            params = {"from": (until - timedelta(days=1)).isoformat(), "to": until.isoformat()}
            for _ in range(60):
                seen = await _measure(url, token, "/api/insights/bottlenecks", params, 1)
                if seen["from_profile"]:
                    break
                await asyncio.sleep(0.5)
        for label, span in ranges.items():
            params = {"from": (until - timedelta(days=span)).isoformat(), "to": until.isoformat()}
            for layer in layers:
                answers[f"bottlenecks {layer} {label}"] = await _measure(
                    url, token, "/api/insights/bottlenecks", {**params, "layer": layer}, repeat
                )
                answers[f"heatmap {layer} {label}"] = await _measure(
                    url, token, "/api/insights/heatmap", {**params, "metric": layer}, repeat
                )
    finally:
        process.terminate()
        await process.wait()
    return answers


async def _learn_profile(database_url: str, since: datetime) -> dict[str, Any]:
    """A speed profile learned from the history, stored as the newest ETA models."""
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        t0 = time.perf_counter()
        trips = await eta_models.history_trips(conn, since, PROFILE_MAX_ROWS)
        profile = await asyncio.to_thread(learn, trips.values())
        learn_s = time.perf_counter() - t0
        fixes = sum(map(len, trips.values()))
        await eta_models.save(
            conn, len(trips), fixes, profile.to_json(), Calibration.default().to_json()
        )
    finally:
        await conn.close()
    return {"trips": len(trips), "fixes": fixes, "keys": len(profile.totals),
            "seconds": round(learn_s, 1)}  # fmt: skip
