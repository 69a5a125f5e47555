"""`tracker eval-eta --route-with-network`: the road network's travel times against real trips.

For each evaluated trace whose first and last fixes are both on the imported network (within
TRACKER_ROUTING_MAX_SNAP_M of a road), the leg first fix -> last fix is routed as the server
routes an order's leg (usecases/router.py), and its travel time is set against the time the
trip actually took, next to the provisional line's (straight line x TRACKER_DETOUR_FACTOR at
the fleet's median trip speed, what an order without a route is estimated by). A trip's
actual time includes its stops and traffic; the routed time knows neither, so the two sets of
figures say how much the network's shape alone improves on a straight line.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from geo.distance import haversine_m
from geo.model import Fix
from server.base.settings import Settings
from server.store.pool import create_pool
from server.usecases.router import Router


def run(
    settings: Settings, trips: Mapping[str, Sequence[Fix]], fleet_speed_mps: float
) -> dict[str, Any]:
    return asyncio.run(_evaluate(settings, trips, fleet_speed_mps))


async def _evaluate(
    settings: Settings, trips: Mapping[str, Sequence[Fix]], fleet_speed_mps: float
) -> dict[str, Any]:
    pool = await create_pool(settings)
    rows: list[tuple[float, float, float]] = []  # actual, routed, provisional (s)
    outside = failed = 0
    try:
        router = Router(pool, settings)
        for trip in trips.values():
            first, last = trip[0], trip[-1]
            actual_s = (last.recorded_at - first.recorded_at).total_seconds()
            if actual_s <= 0:
                continue
            leg, note = await router.leg((first.lon, first.lat), (last.lon, last.lat))
            if leg is None:
                if note is not None and "nearest road" in note:
                    outside += 1
                else:
                    failed += 1
                continue
            crow_m = haversine_m(first.lon, first.lat, last.lon, last.lat)
            provisional_s = crow_m * settings.detour_factor / fleet_speed_mps
            rows.append((actual_s, float(leg["properties"]["duration_s"]), provisional_s))
    finally:
        await pool.close()
    return {
        "trips_routed": len(rows),
        "trips_outside_network": outside,
        "trips_not_routed": failed,
        "fleet_speed_mps": round(fleet_speed_mps, 2),
        "routed": _figures([(a, r) for a, r, _ in rows]),
        "provisional_line": _figures([(a, p) for a, _, p in rows]),
    }


def _figures(pairs: list[tuple[float, float]]) -> dict[str, float | None]:
    """MAE, median absolute percentage error, and the median predicted/actual ratio."""
    if not pairs:
        return {"mae_s": None, "mdape_pct": None, "median_ratio": None}
    errors = [abs(p - a) for a, p in pairs]
    return {
        "mae_s": round(statistics.fmean(errors), 1),
        "mdape_pct": round(
            statistics.median(e / a for e, (a, _) in zip(errors, pairs, strict=True)) * 100, 1
        ),
        "median_ratio": round(statistics.median(p / a for a, p in pairs), 3),
    }
