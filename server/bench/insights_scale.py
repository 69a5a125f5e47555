"""`tracker bench --insights-scale`: issue 18's figures at issue 18's scale, in one command.

"With 100,000 delivered orders and 50 million stored positions, every /api/insights/*
answer p95 < 300 ms, one driver-day export (~30,000 fixes) < 500 ms." On a scratch
database (refused if it holds anything no bench wrote) it:

1. seeds `deliveries` orders over `days` days with their facts, ETAs and rollups, and
   `positions` fixes (one fix a second over 8-hour shifts: 28,800 a driver-day) for as
   many drivers as that takes (server/bench/scale_seed.py; skipped when already there,
   so the timing can be rerun at once);
2. runs the bottleneck rollup over the last `rollup_days` days (where the watermark left
   it: a rerun has nothing left to do) so the bottleneck layers have data;
3. starts a real server (server/bench/target.py) and times, over HTTP to the last byte,
   every /api/insights/* route (summary; series by hour, day and week; drivers; zones:
   each also as CSV; each bottleneck layer and heat map over 1 and 7 days), one day of
   `GET /api/orders?format=csv` and one driver-day's track in each format: p50/p95/max
   and bytes of `repeat` requests each.

It prints JSON (and a table on stderr); nothing is asserted.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from server.base.auth import new_token
from server.base.settings import Settings
from server.bench import scale_seed
from server.bench.target import start_server
from server.store import bench_insights, bench_scale, codecs, migrate
from server.usecases import insight_rollup
from server.usecases.insights import reports
from server.wire import exports

LAYERS = ("slow", "dwell", "late")


async def last_byte(
    client: httpx.AsyncClient, path: str, params: dict[str, str]
) -> tuple[float, int]:
    """Milliseconds from sending the request to the answer's last byte, and its bytes."""
    started = time.perf_counter()
    size = 0
    async with client.stream("GET", path, params=params) as answer:
        answer.raise_for_status()
        async for chunk in answer.aiter_raw():
            size += len(chunk)
    return (time.perf_counter() - started) * 1000.0, size


def figures(times: list[float], size: int) -> dict[str, Any]:
    """p50/p95/max (nearest rank) of `times` in ms, and the answer's bytes."""
    times = sorted(times)
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "max_ms": round(times[-1], 1),
        "bytes": size,
    }


def requests(scale: scale_seed.Scale, today: date) -> dict[str, tuple[str, dict[str, str]]]:
    """Every measured answer: name -> (path, query)."""
    first, last = today - timedelta(days=scale.days), today - timedelta(days=1)
    period = {"from": first.isoformat(), "to": last.isoformat()}
    week = {
        "from": (today - timedelta(days=min(7, scale.days))).isoformat(),
        "to": last.isoformat(),
    }
    asked: dict[str, tuple[str, dict[str, str]]] = {
        "summary": ("/api/insights/summary", period),
        "summary driver 1": ("/api/insights/summary", {**period, "driver_id": "1"}),
    }
    tables = {
        "series hour 7d": ("/api/insights/series", {**week, "bucket": "hour"}),
        "series day": ("/api/insights/series", {**period, "bucket": "day"}),
        "series week": ("/api/insights/series", {**period, "bucket": "week"}),
        "drivers": ("/api/insights/drivers", period),
        "zones": ("/api/insights/zones", period),
    }
    for name, (path, query) in tables.items():
        asked[name] = (path, query)
        asked[f"{name} csv"] = (path, {**query, "format": "csv"})
    midnight = datetime(today.year, today.month, today.day, tzinfo=UTC)
    for span in sorted({1, min(7, scale.days)}):
        instants = {
            "from": (midnight - timedelta(days=span)).isoformat(),
            "to": midnight.isoformat(),
        }
        for layer in LAYERS:
            asked[f"bottlenecks {layer} {span}d"] = (
                "/api/insights/bottlenecks", {**instants, "layer": layer},
            )  # fmt: skip
            asked[f"heatmap {layer} {span}d"] = (
                "/api/insights/heatmap", {**instants, "metric": layer},
            )  # fmt: skip
    day = {"from": (midnight - timedelta(days=2)).isoformat(),
           "to": (midnight - timedelta(days=1)).isoformat()}  # fmt: skip
    asked["orders csv 1 day"] = ("/api/orders", {**day, "format": "csv"})
    shift = scale_seed.shift_start(today, 1)
    end = shift + timedelta(seconds=scale_seed.SHIFT_S)
    for fmt in exports.FORMATS:
        track = {"from": shift.isoformat(), "to": end.isoformat(), "format": fmt}
        asked[f"track {fmt}"] = ("/api/drivers/1/track", track)
    return asked


async def _roll_up(
    database_url: str, settings: Settings, scale: scale_seed.Scale, today: date, days: int
) -> dict[str, Any]:
    until = datetime(today.year, today.month, today.day, tzinfo=UTC)
    start = until - timedelta(days=min(days, scale.days))
    async with asyncpg.create_pool(database_url, min_size=1, max_size=2) as pool:
        async with pool.acquire() as c:
            if not await bench_scale.rollup_started(c):
                await bench_insights.start_rollup_at(c, start - timedelta(seconds=1))
        t0 = time.perf_counter()
        slices = await insight_rollup.roll_up(pool, settings, until)
        seconds = time.perf_counter() - t0
        async with pool.acquire() as c:
            await bench_scale.analyze(c, bench_scale.ROLLUP_TABLES)
            cells, dwells = await bench_insights.rollup_sizes(c)
    rolled = min(days, scale.days) * scale.position_drivers * scale.day_fixes if slices else 0
    return {
        "days": min(days, scale.days),
        "seconds": round(seconds, 1),
        "slices": len(slices),
        "positions": rolled,
        "positions_per_s": round(rolled / seconds) if slices else None,
        "cell_hours": cells,
        "dwells": dwells,
    }


async def _time_answers(
    database_url: str, asked: dict[str, tuple[str, dict[str, str]]], repeat: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    token = new_token()
    process, url = await start_server(
        database_url, token, env={"TRACKER_INSIGHT_ROLLUP_INTERVAL_S": "86400"}
    )
    answers: dict[str, Any] = {}
    try:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
            for name, (path, query) in asked.items():
                await last_byte(client, path, query)  # warm: plans cached, pages read
                times: list[float] = []
                size = 0
                for _ in range(repeat):
                    ms, size = await last_byte(client, path, query)
                    times.append(ms)
                answers[name] = figures(times, size)
                progress(f"{name}: {answers[name]}")
    finally:
        process.terminate()
        await process.wait()
    return answers


async def bench_insights_scale(
    database_url: str, deliveries: int, positions: int, days: int, rollup_days: int,
    repeat: int,
) -> dict[str, Any]:  # fmt: skip
    def progress(line: str) -> None:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {line}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    scale = scale_seed.Scale.of(deliveries, positions, days)
    progress(f"scale: {scale}")
    await migrate.prepare(database_url)
    await migrate.upgrade_async(database_url)
    settings = Settings.from_env({}, database_url=database_url)
    async with asyncpg.create_pool(
        database_url, min_size=1, max_size=scale_seed.WRITERS + 2, init=codecs.register
    ) as pool:
        today = await scale_seed.seeded_today(pool, scale) or reports.today(
            settings.operator_time_zone, datetime.now(UTC)
        )
        orders = await scale_seed.seed_deliveries(pool, settings, scale, today)
        progress(f"deliveries: {orders}")
        fixes = await scale_seed.seed_positions(pool, scale, today)
        progress(f"positions: {fixes}")
    rollup = await _roll_up(database_url, settings, scale, today, rollup_days)
    progress(f"rollup: {rollup}")
    asked = requests(scale, today)
    answers = await _time_answers(database_url, asked, repeat, progress)
    return {
        "scale": {
            "days": scale.days, "drivers": scale.drivers,
            "position_drivers": scale.position_drivers, "driver_day_fixes": scale.day_fixes,
            "fix_interval_s": round(scale.interval_s, 3),
        },
        "deliveries": orders,
        "positions": fixes,
        "rollup": rollup,
        "answers": answers,
        "total_s": round(time.perf_counter() - started, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }  # fmt: skip


def table(report: dict[str, Any]) -> str:
    """The answers, one line each: p50 / p95 / max ms and bytes."""
    lines = [f"{'answer':<26} {'p50':>8} {'p95':>8} {'max':>8} {'bytes':>11}"]
    for name, f in report["answers"].items():
        lines.append(
            f"{name:<26} {f['p50_ms']:>8.1f} {f['p95_ms']:>8.1f} {f['max_ms']:>8.1f} "
            f"{f['bytes']:>11,}"
        )
    lines.append(f"load average {report['load_average']}, {report['total_s']} s in all")
    return "\n".join(lines)
