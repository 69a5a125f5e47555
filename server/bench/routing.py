"""`tracker osm bench`: how fast legs and stop orders come from the imported network.

Legs: random pairs of the network's main vertices, routed through the server's own Router
(one database round trip, pgRouting on the bounded subgraph), timed end to end; the figures
are for legs whose road length is 4-6 km ("5 km legs") and for all of them. Orders: a
courier and `stops` random stops inside the network: the time and length matrices plus the
order (geo/stop_order.py), end to end, as `POST /api/drivers/{id}/run/optimize` does them.
Prints JSON; nothing is asserted (the targets are in the README).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import statistics
from time import perf_counter
from typing import Any

from geo.distance import haversine_m
from geo.stop_order import best_order, path_cost
from server.base.settings import Settings
from server.store import roads
from server.store.pool import create_pool
from server.usecases.router import Router


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {
        "n": len(values),
        "p50_ms": round(_p(values, 0.5) * 1000, 1),
        "p95_ms": round(_p(values, 0.95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


async def run(settings: Settings, legs: int, runs: int, stops: int, seed: int) -> dict[str, Any]:
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            net = await roads.network(conn, settings.routing_profile)
            if net is None:
                raise SystemExit("no road network: run `tracker osm import FILE.osm.pbf` first")
            points = await roads.main_vertices(conn, net)
        router = Router(
            pool, dataclasses.replace(settings, routing_concurrency=settings.db_pool_size)
        )
        rng = random.Random(seed)
        # Warm every pooled connection: its first pgRouting call loads the library (~35 ms,
        # once per connection); the server's pool pays it once per connection too.
        warm = [rng.sample(points, 2) for _ in range(2 * settings.db_pool_size)]
        await asyncio.gather(*(router.leg(a, b) for a, b in warm))
        five_km: list[float] = []
        every: list[float] = []
        lengths: list[float] = []
        failed = 0
        tries = 0
        while len(five_km) < legs and tries < legs * 20:
            tries += 1
            a, b = rng.sample(points, 2)
            if haversine_m(*a, *b) < 2_500.0:
                continue
            started = perf_counter()
            leg, _ = await router.leg(a, b)
            spent = perf_counter() - started
            every.append(spent)
            if leg is None:
                failed += 1
                continue
            length_m = leg["properties"]["length_m"]
            lengths.append(length_m)
            if 4_000.0 <= length_m <= 6_000.0:
                five_km.append(spent)
        orders: list[dict[str, Any]] = []
        for _ in range(runs):
            places = rng.sample(points, stops + 1)
            started = perf_counter()
            matrix = await router.matrix(places)
            matrix_s = perf_counter() - started
            order = await asyncio.to_thread(best_order, matrix.time_s)
            total_s = perf_counter() - started
            given = list(range(1, stops + 1))
            orders.append({
                "matrix_ms": round(matrix_s * 1000, 1),
                "total_ms": round(total_s * 1000, 1),
                "time_before_s": round(path_cost(matrix.time_s, given)),
                "time_after_s": round(path_cost(matrix.time_s, order)),
            })  # fmt: skip
    finally:
        await pool.close()
    return {
        "network": {"profile": net.profile, "edges": net.edge_count,
                    "vertices": net.vertex_count, "length_km": round(net.length_km, 1)},
        "legs_4_to_6_km": _ms(five_km),
        "legs_all_over_2_5_km_crow": _ms(every),
        "leg_length_m_median": round(statistics.median(lengths)) if lengths else None,
        "legs_failed": failed,
        f"order_{stops}_stops": orders,
    }  # fmt: skip
