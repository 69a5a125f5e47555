"""Deliveries during a bench step (`tracker bench --recording-ab`): the couriers of
server/bench/worker.py drive up and down their street and never stop at a door, so on
their own nothing is ever delivered and the insights' record (issue 18) is never written.

These are: at a fixed rate, a delivery from start to end through the public API, as a
shop and a courier would make it: a new courier, an order assigned to it with its route,
shipped, out for delivery; the courier's trace over its socket (300 m driven at 10 m/s,
then a minute standing at the door: the tracker's GPS arrival, which the customer
watching the order is told of); then delivered. With the recording on, that is an
attempt's facts written with each status change, the ETAs shown sampled, the GPS arrival
recorded and the rollups updated, which is what is measured.

The trace lies in the recent past (fixes are sent at once, as an offline backlog is):
a delivery takes a few round trips, not a minute and a half.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from server.bench.target import HOF

LEG_M = 300.0
SPEED_MPS = 10.0
FIX_S = 5.0
STAND_S = 60.0
DEG_PER_M_LON = 1 / 71_400.0  # at lat ~50
ACK_WAIT_S = 60.0  # a loaded machine's database
ARRIVED_WAIT_S = 10.0  # after the last fix's ack
MAX_IN_FLIGHT = 50  # deliveries under way at once; beyond, one due is skipped (counted)


@dataclass
class Counts:
    started: int = 0
    delivered: int = 0
    arrived: int = 0  # the customer was told of the GPS arrival before the delivery
    skipped: int = 0  # due while MAX_IN_FLIGHT were under way
    errors: dict[str, int] = field(default_factory=dict)  # by kind ("503 status": code, path)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


def _trace(start: tuple[float, float], now_s: float) -> list[tuple[float, float, float]]:
    """(t_s, lon, speed_mps) of the fixes: driving, then standing at the door; the last
    fix a few seconds ago."""
    drive_s = LEG_M / SPEED_MPS
    t0 = now_s - drive_s - STAND_S - FIX_S
    fixes = []
    t = 0.0
    while t <= drive_s + STAND_S:
        along = min(LEG_M, SPEED_MPS * t)
        fixes.append((t0 + t, start[0] + along * DEG_PER_M_LON, SPEED_MPS if t < drive_s else 0.0))
        t += FIX_S
    return fixes


async def _deliver(client: httpx.AsyncClient, ws_url: str, k: int, counts: Counts) -> None:
    lon0, lat = HOF[0] + (k % 200) * 0.01, HOF[1] - 0.05 - (k // 200 % 50) * 0.005
    door = (lon0 + LEG_M * DEG_PER_M_LON, lat)
    created = await client.post("/api/drivers", json={"name": f"delivery {k}"})
    driver = created.raise_for_status().json()
    created = await client.post(
        "/api/orders",
        json={
            "customer": {"name": "bench customer"},
            "destination": {"lon": door[0], "lat": door[1]},
            "promised_by": _iso(time.time() + 900),
        },
    )
    order = created.raise_for_status().json()
    route = {"type": "LineString", "coordinates": [[lon0, lat], list(door)]}
    path = f"/api/orders/{order['id']}"
    assign = {"driver_id": driver["id"], "route": route}
    (await client.post(f"{path}/assign", json=assign)).raise_for_status()
    for status in ("shipped", "out_for_delivery"):
        (await client.post(f"{path}/status", json={"status": status})).raise_for_status()
    async with (
        websockets.connect(f"{ws_url}/ws/track/{order['tracking_code']}") as customer,
        websockets.connect(f"{ws_url}/ws/driver?token={driver['token']}") as courier,
    ):
        # Watching from its snapshot on: the server subscribes the socket after the handshake
        # and a look-up, and an arrival published before that would reach it only as the
        # snapshot's `arrived_at`, not as the message counted here (a slow day's CI missed
        # one that way).
        await _until(customer, lambda m: m.get("type") == "snapshot", ACK_WAIT_S)
        fixes = _trace((lon0, lat), time.time())
        for seq, (t_s, lon, speed) in enumerate(fixes, 1):
            await courier.send(json.dumps({
                "type": "fix", "seq": seq, "t": int(t_s * 1000), "lat": lat, "lon": lon,
                "acc": 5, "speed": speed,
            }))  # fmt: skip
        acked = lambda m: m.get("type") == "ack" and len(fixes) in m["seqs"]  # noqa: E731
        await _until(courier, acked, ACK_WAIT_S)
        with contextlib.suppress(TimeoutError):
            await _until(customer, lambda m: m.get("type") == "arrived", ARRIVED_WAIT_S)
            counts.arrived += 1
    (await client.post(f"{path}/status", json={"status": "delivered"})).raise_for_status()
    counts.delivered += 1


async def _until(ws: Any, condition: Any, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition(json.loads(await ws.recv())):
            pass


def _iso(t_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t_s))


async def deliveries(
    base_url: str, admin_token: str, rate_per_s: float, seconds: float, first: int = 0
) -> dict[str, Any]:
    """Deliveries started at `rate_per_s` for `seconds`; returns the counts and the rate
    delivered. `first` numbers them (where their streets are), apart per call."""
    counts = Counts()
    if rate_per_s <= 0:
        return {**counts.__dict__, "delivered_per_s": 0.0}
    ws_url = base_url.replace("http", "ws", 1)
    headers = {"Authorization": f"Bearer {admin_token}"}
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
    began = time.perf_counter()
    tasks: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=30, limits=limits
    ) as client:

        async def one(k: int) -> None:
            try:
                await _deliver(client, ws_url, k, counts)
            except httpx.HTTPStatusError as exc:  # counted: the others go on
                counts.error(f"{exc.response.status_code} {exc.request.url.path.split('/')[-1]}")
            except Exception as exc:
                counts.error(type(exc).__name__)

        while (elapsed := time.perf_counter() - began) < seconds:
            while counts.started + counts.skipped < int(elapsed * rate_per_s):
                if len(tasks) >= MAX_IN_FLIGHT:
                    counts.skipped += 1
                    continue
                task = asyncio.create_task(one(first + counts.started))
                counts.started += 1
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.sleep(0.01)
        if tasks:
            await asyncio.wait(tasks, timeout=60)
    window_s = time.perf_counter() - began
    return {**counts.__dict__, "delivered_per_s": round(counts.delivered / window_s, 2)}
