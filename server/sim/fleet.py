"""`tracker simulate`: a fleet of couriers on real streets, with their orders.

Each courier takes a run (three stops on Porto's streets), the dispatcher side creates the
orders, assigns them with their routes and sends them out for delivery; the courier drives
(GPS noise, red lights, the odd tunnel with an offline backlog, the odd duplicate), waits
at each door, and the order is marked delivered. Some couriers use the courier socket,
some Traccar Client's OsmAnd protocol. Timestamps are real time; `--speedup` only makes
them drive faster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from server.sim.links import OsmandLink, SocketLink
from server.sim.movement import Sample, drive, dwell

log = logging.getLogger("tracker.sim")
RUNS_FILE = Path(__file__).with_name("data") / "porto_runs.json"
CUSTOMERS = ["Ana", "Bruno", "Carla", "Duarte", "Eva", "Filipe", "Graça", "Hugo", "Inês", "João"]


def load_runs() -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(RUNS_FILE.read_text())["runs"]
    return runs


class Dispatcher:
    """The shop's side, over the REST API with the admin key."""

    def __init__(self, base_url: str, admin_token: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {admin_token}"}, timeout=30
        )

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.client.request(method, path, json=body)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    async def courier(self, n: int) -> tuple[int, str, str]:
        """The demo driver number n (reused across runs: its token is rotated)."""
        device_id = f"demo-{n:03d}"
        for driver in await self.call("GET", "/api/drivers"):
            if driver["device_id"] == device_id:
                rotated = await self.call("POST", f"/api/drivers/{driver['id']}/token")
                await self._close_leftovers(driver["id"])
                return int(driver["id"]), rotated["token"], device_id
        made = await self.call(
            "POST",
            "/api/drivers",
            {"name": f"Demo courier {n}", "vehicle": f"van {n}", "device_id": device_id},
        )
        return int(made["id"]), made["token"], device_id

    async def _close_leftovers(self, driver_id: int) -> None:
        """Orders a previous demo left on the road are marked failed."""
        page = await self.call(
            "GET", f"/api/orders?driver_id={driver_id}&status=shipped,out_for_delivery&limit=500"
        )
        for order in page["orders"]:
            with contextlib.suppress(RuntimeError):
                await self.call(
                    "POST",
                    f"/api/orders/{order['id']}/status",
                    {"status": "failed", "note": "demo restarted"},
                )

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class Stats:
    couriers: int
    fixes: int = 0
    delivered: int = 0
    tracking_urls: list[str] = field(default_factory=list)


@dataclass
class Courier:
    """One simulated courier: takes runs one after another, forever."""

    n: int
    dispatcher: Dispatcher
    base_url: str
    runs: list[dict[str, Any]]
    rng: random.Random
    stats: Stats
    speedup: float
    interval_s: float
    use_osmand: bool
    seq: int = field(default_factory=lambda: int(time.time() * 1000))  # grows across demos

    async def run(self, ready: asyncio.Event) -> None:
        driver_id, token, device_id = await self.dispatcher.courier(self.n)
        if self.use_osmand:
            self.link: SocketLink | OsmandLink = OsmandLink(
                self.base_url, device_id, self.dispatcher.client
            )
        else:
            self.link = SocketLink(self.base_url.replace("http", "ws", 1), token)
        await self.link.connect()
        run_index = self.n
        first = True
        try:
            while True:
                run = self.runs[run_index % len(self.runs)]
                run_index += len(self.runs) // 3 + 1
                orders = await self._dispatch(run, driver_id)
                self.stats.tracking_urls.append(orders[0]["tracking_url"])
                if len(self.stats.tracking_urls) >= self.stats.couriers:
                    ready.set()  # every courier is on the road
                for leg, order in zip(run["legs"], orders, strict=True):
                    # The first run starts part-way, so that the demo shows deliveries soon.
                    await self._drive(leg, self.rng.uniform(0.3, 0.8) if first else 0.0)
                    first = False
                    await self.dispatcher.call(
                        "POST",
                        f"/api/orders/{order['id']}/status",
                        {"status": "delivered", "note": "handed to the customer"},
                    )
                    self.stats.delivered += 1
        finally:
            await self.link.disconnect()

    async def _dispatch(self, run: dict[str, Any], driver_id: int) -> list[dict[str, Any]]:
        """The shop's side of a run: orders created, assigned with their legs, sent out."""
        orders = []
        for i, leg in enumerate(run["legs"]):
            lon, lat = leg["coordinates"][-1]
            order = await self.dispatcher.call(
                "POST",
                "/api/orders",
                {
                    "reference": f"DEMO-{self.n:03d}-{self.rng.randrange(10_000, 99_999)}",
                    "customer": {"name": self.rng.choice(CUSTOMERS)},
                    "destination": {"lat": lat, "lon": lon, "address": f"Demo stop {i + 1}, Porto"},
                    "promised_by": _iso(time.time() + 900 * (i + 1)),
                },
            )
            route = {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": leg["coordinates"]},
                "properties": {"durations_s": leg["durations_s"]},
            }
            path = f"/api/orders/{order['id']}"
            await self.dispatcher.call(
                "POST", f"{path}/assign", {"driver_id": driver_id, "route": route}
            )
            for status in ("shipped", "out_for_delivery"):
                await self.dispatcher.call("POST", f"{path}/status", {"status": status})
            orders.append(order)
        return orders

    async def _drive(self, leg: dict[str, Any], start_fraction: float) -> None:
        rng, link = self.rng, self.link
        samples = list(
            drive(leg["coordinates"], leg["durations_s"], rng, interval_s=self.interval_s,
                  start_fraction=start_fraction)
        )  # fmt: skip
        lon, lat = leg["coordinates"][-1]
        offset_s = samples[-1].elapsed_s if samples else 0.0
        for s in dwell(lon, lat, rng.uniform(30, 70), rng, self.interval_s):
            samples.append(Sample(offset_s + s.elapsed_s, s.lon, s.lat, 0.0, 0.0, s.accuracy_m))
        tunnel = _tunnel(samples, rng)
        started = time.monotonic()
        for sample in samples:
            delay = started + sample.elapsed_s / self.speedup - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            in_tunnel = tunnel is not None and tunnel[0] <= sample.elapsed_s < tunnel[1]
            if in_tunnel and link.online:
                await link.disconnect()
            elif not in_tunnel and not link.online:
                await link.connect()  # out of the tunnel: the backlog goes as a batch
            self.seq += 1
            fix = {
                "type": "fix", "seq": self.seq, "t": int(time.time() * 1000),
                "lat": round(sample.lat, 6), "lon": round(sample.lon, 6),
                "acc": sample.accuracy_m, "speed": sample.speed_mps,
                "heading": sample.heading_deg, "battery": 0.8,
            }  # fmt: skip
            await link.send(fix)
            self.stats.fixes += 1
            if rng.random() < 0.02:
                await link.send(fix)  # a duplicate, as phones sometimes send
        if not link.online:
            await link.connect()


def _tunnel(samples: list[Sample], rng: random.Random) -> tuple[float, float] | None:
    """A stretch without signal on some legs: 30 to 90 s somewhere in the middle."""
    if not samples or rng.random() > 0.3:
        return None
    total = samples[-1].elapsed_s
    length = rng.uniform(30, 90)
    if total < length * 2:
        return None
    start = rng.uniform(total * 0.2, total * 0.8 - length)
    return (start, start + length)


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


async def simulate(
    base_url: str,
    admin_token: str,
    couriers: int,
    *,
    seconds: float | None = None,
    speedup: float = 1.0,
    interval_s: float = 2.0,
    osmand_share: float = 0.25,
    seed: int = 7,
    on_ready: Any = None,
) -> Stats:
    """Run the fleet (for `seconds`, or until cancelled)."""
    runs = load_runs()
    stats = Stats(couriers)
    dispatcher = Dispatcher(base_url, admin_token)
    ready = asyncio.Event()
    fleet = [
        Courier(
            n, dispatcher, base_url, runs, random.Random(seed + n), stats, speedup, interval_s,
            use_osmand=n < couriers * osmand_share,
        )
        for n in range(couriers)
    ]  # fmt: skip
    tasks = [asyncio.create_task(c.run(ready)) for c in fleet]
    try:
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait([waiting, *tasks], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        for task in tasks:
            if task.done():
                task.result()  # a courier that could not start: say why
        if on_ready is not None:
            on_ready(stats)
        done, _ = await asyncio.wait(tasks, timeout=seconds, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # a courier that crashed: say why
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await dispatcher.close()
    return stats
