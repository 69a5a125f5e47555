"""`tracker bench --run-changes`: how long changes to a long run block the server.

For each run length it seeds one driver with that many stops out for delivery (each with
its routed leg), starts the server, connects the courier (one fix: the driver is tracked,
its tracker built), and then changes the run through the REST API: stops inserted at
index 0, a stop moved to another driver's run, a stop cancelled, one delivered. Meanwhile
a probe pings the courier's socket back to back: the server answers pings on its event
loop, so the longest round trip is the longest the loop was blocked (give or take the
probe's own millisecond): that figure, per run length, is what issue 14 sets a limit on
(20 ms at 1,000 stops). Also printed: each change's request latency, the server's own
`tracker_event_loop_lag_seconds` histogram over the changes, and the machine's load
average, since other processes on the machine stall the loop too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import websockets

from server.base.auth import hash_token, new_token
from server.bench.target import start_server
from server.domain.codes import new_code
from server.store import bench as bench_sql
from server.store import codecs, migrate
from server.store.bench_scale import BENCH_CUSTOMER

START = (11.90, 50.30)
STEP_DEG = 0.003  # ~210 m east between stops; rows of 50 stops ~330 m apart
LEG_VERTICES = 8
INSERTS = 5
PING_GAP_S = 0.002


def _place(i: int) -> tuple[float, float]:
    return (START[0] + STEP_DEG * (i % 50 + 1), START[1] + 0.003 * (i // 50))


def _leg(start: tuple[float, float], end: tuple[float, float]) -> dict[str, Any]:
    """A routed-looking leg: a few vertices from `start` to `end`, slightly zigzagging."""
    points = [
        [
            start[0] + (end[0] - start[0]) * k / LEG_VERTICES,
            start[1] + (end[1] - start[1]) * k / LEG_VERTICES + (0.00005 if k % 2 else 0.0),
        ]
        for k in range(LEG_VERTICES)
    ]
    return {"type": "LineString", "coordinates": [*points, list(end)]}


async def _seed(database_url: str, stops: int) -> tuple[str, str]:
    """Driver 1 with `stops` stops out for delivery, driver 2 with none; their tokens."""
    tokens = [new_token(), new_token()]
    places = [_place(i) for i in range(stops)]
    legs = [_leg(START if i == 0 else places[i - 1], p) for i, p in enumerate(places)]
    conn = await asyncpg.connect(database_url)
    try:
        await codecs.register(conn)
        await bench_sql.reset(conn)
        await bench_sql.seed_run(
            conn,
            [hash_token(t) for t in tokens],
            [new_code() for _ in places],
            places,
            legs,
            datetime.now(UTC),
        )
    finally:
        await conn.close()
    return tokens[0], tokens[1]


class Probe:
    """Pings a socket back to back and keeps every round trip, in seconds. It reads (and
    drops) what the socket is sent meanwhile (the courier's run after each change), as a
    courier app does: unread, it would stop the client reading pongs too."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self._ws = ws
        self.rtts_s: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._drain())
            await self._ping()

    async def _drain(self) -> None:
        async for _ in self._ws:
            pass

    async def _ping(self) -> None:
        while True:
            started = time.perf_counter()
            await (await self._ws.ping())
            self.rtts_s.append(time.perf_counter() - started)
            await asyncio.sleep(PING_GAP_S)

    def start(self) -> None:
        self.rtts_s.clear()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> list[float]:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        return list(self.rtts_s)


async def _lag_buckets(client: httpx.AsyncClient) -> dict[str, float]:
    """The server's event-loop lag histogram: cumulative counts by upper bound."""
    text = (await client.get("/metrics")).text
    buckets = {}
    for line in text.splitlines():
        if line.startswith("tracker_event_loop_lag_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[bound] = float(line.rsplit(" ", 1)[1])
    return buckets


async def _change(
    client: httpx.AsyncClient, what: str, method: str, path: str, body: Any
) -> tuple[str, float]:
    started = time.perf_counter()
    response = await client.request(method, path, json=body)
    elapsed = time.perf_counter() - started
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: {response.status_code} {response.text}")
    return what, elapsed


async def one_length(database_url: str, stops: int) -> dict[str, Any]:
    token, _ = await _seed(database_url, stops)
    admin = secrets.token_urlsafe(24)
    env = {"TRACKER_MAX_STOPS_PER_RUN": str(stops + INSERTS + 10)}
    server, url = await start_server(database_url, admin, env=env)
    headers = {"Authorization": f"Bearer {admin}"}
    # Other processes on the machine stall the loop too: the figure is read with this.
    result: dict[str, Any] = {"stops": stops, "load_avg_1m": round(os.getloadavg()[0], 2)}
    try:
        async with (
            httpx.AsyncClient(base_url=url, headers=headers, timeout=600) as client,
            websockets.connect(
                f"{url.replace('http', 'ws', 1)}/ws/driver?token={token}", ping_interval=None
            ) as courier,
        ):
            t_ms = int(time.time() * 1000) - 1000
            await courier.send(
                json.dumps({"type": "fix", "seq": 1, "t": t_ms, "lon": START[0], "lat": START[1]})
            )
            while json.loads(await courier.recv()).get("type") != "ack":
                pass
            # The first fix built the tracker; the changes rebuild it.
            new_ids = []
            for i in range(INSERTS):
                place = {"lon": START[0] + 0.0005 * (i + 1), "lat": START[1] - 0.001}
                response = await client.post(
                    "/api/orders", json={"customer": {"name": BENCH_CUSTOMER}, "destination": place}
                )
                new_ids.append(int(response.json()["id"]))
            lag_before = await _lag_buckets(client)
            probe = Probe(courier)
            probe.start()
            timings = []
            for order_id in new_ids:
                leg = _leg(START, (START[0] + 0.0005, START[1] - 0.001))
                body = {"driver_id": 1, "stop_index": 0, "route": leg}
                timings.append(
                    await _change(client, "insert", "POST", f"/api/orders/{order_id}/assign", body)
                )
            middle = stops // 2 + 1  # a seeded order (ids 1..stops)
            timings.append(
                await _change(
                    client, "move", "POST", f"/api/orders/{middle}/assign", {"driver_id": 2}
                )
            )
            timings.append(
                await _change(
                    client,
                    "cancel",
                    "POST",
                    f"/api/orders/{new_ids[0]}/status",
                    {"status": "cancelled"},
                )
            )
            timings.append(
                await _change(
                    client, "deliver", "POST", "/api/orders/1/status", {"status": "delivered"}
                )
            )
            await asyncio.sleep(0.3)  # the probe sees the loop settle after the last change
            rtts = await probe.stop()
            lag_after = await _lag_buckets(client)
    finally:
        server.terminate()
        await server.wait()
    inserts = [s for what, s in timings if what == "insert"]
    result["loop_block_max_ms"] = round(max(rtts) * 1000, 1)
    result["loop_blocks_top_ms"] = [round(r * 1000, 1) for r in sorted(rtts)[-8:]]
    result["ping_rtt_p50_ms"] = round(statistics.median(rtts) * 1000, 2)
    result["pings"] = len(rtts)
    result["insert_latency_ms"] = {
        "p50": round(statistics.median(inserts) * 1000, 1),
        "max": round(max(inserts) * 1000, 1),
    }
    result["other_latency_ms"] = {w: round(s * 1000, 1) for w, s in timings if w != "insert"}
    result["server_lag_timers_over"] = {
        f"{float(bound) * 1000:g}ms": int(
            (lag_after["+Inf"] - lag_after[bound]) - (lag_before["+Inf"] - lag_before[bound])
        )
        for bound in ("0.01", "0.025", "0.1")
    }
    return result


async def bench_run_changes(database_url: str, lengths: list[int]) -> dict[str, Any]:
    await migrate.prepare(database_url)
    await migrate.upgrade_async(database_url)
    report: dict[str, Any] = {"inserts_per_length": INSERTS, "lengths": []}
    print(HEADER, file=sys.stderr, flush=True)
    for stops in lengths:
        result = await one_length(database_url, stops)
        report["lengths"].append(result)
        print(_row(result), file=sys.stderr, flush=True)
    stalls = ", ".join(f"{r['stops']}: {r['loop_block_max_ms']:.1f} ms" for r in report["lengths"])
    print(f"longest event-loop stall by run length: {stalls}", file=sys.stderr, flush=True)
    return report


HEADER = (
    f"{'stops':>6} {'loop block max ms':>17} {'insert p50 ms':>13} {'insert max ms':>13} "
    f"{'move ms':>8} {'cancel ms':>9} {'deliver ms':>10} {'lag>25ms':>8} {'load 1m':>7}"
)


def _row(r: dict[str, Any]) -> str:
    other = r["other_latency_ms"]
    return (
        f"{r['stops']:>6} {r['loop_block_max_ms']:>17.1f} {r['insert_latency_ms']['p50']:>13.1f} "
        f"{r['insert_latency_ms']['max']:>13.1f} {other['move']:>8.1f} {other['cancel']:>9.1f} "
        f"{other['deliver']:>10.1f} {r['server_lag_timers_over']['25ms']:>8} "
        f"{r['load_avg_1m']:>7.2f}"
    )
