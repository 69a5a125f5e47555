"""`tracker bench --exports`: what a driver-day export costs on a history with many
positions (issue 18: one driver-day of ~30,000 fixes in under 500 ms, last byte).

On a scratch database it writes the bottleneck bench's synthetic history straight into
`positions` (COPY; server/bench/bottlenecks.py): `drivers` couriers, `days` days of an
8-hour shift, a fix every `interval_s` (1 s: 28,800 fixes a driver-day). Then a real
server (`tracker serve` in a subprocess) answers `GET /api/drivers/{id}/track` for one
driver's last day in each format, `repeat` times each: p50/p95/max time to the last byte,
and bytes. It prints JSON; nothing is asserted.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import asyncpg
import httpx

from server.base.auth import new_token
from server.bench.bottlenecks import seed_history
from server.bench.insights_scale import figures, last_byte
from server.bench.target import start_server
from server.store import bench_insights as sql
from server.store import codecs
from server.wire import exports

SHIFT_START_H = 8
SHIFT_H = 8


async def bench_exports(
    database_url: str, drivers: int, days: int, interval_s: float, repeat: int
) -> dict[str, Any]:
    seeded, first_day = await seed_history(database_url, drivers, days, interval_s)
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        day_start = first_day + timedelta(days=days - 1, hours=SHIFT_START_H)
        day_end = day_start + timedelta(hours=SHIFT_H)
        fixes = await sql.fixes_between(conn, 1, day_start, day_end)
    finally:
        await conn.close()

    token = new_token()
    process, url = await start_server(database_url, token)
    params = {"from": day_start.isoformat(), "to": day_end.isoformat()}
    answers: dict[str, Any] = {}
    try:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as client:
            for fmt in exports.FORMATS:
                times: list[float] = []
                size = 0
                for _ in range(repeat):
                    ms, size = await last_byte(
                        client, "/api/drivers/1/track", {**params, "format": fmt}
                    )
                    times.append(ms)
                answers[fmt] = figures(times, size)
    finally:
        process.terminate()
        await process.wait()
    return {
        "seed": {"drivers": drivers, "days": days, "interval_s": interval_s, **seeded},
        "driver_day_fixes": int(fixes),
        "answers": answers,
        "load_average": [round(v, 2) for v in os.getloadavg()],
    }
