"""A proposed order for a run's open stops, from a travel-time matrix on the road network.

The matrix comes from the database (pgRouting, usecases/router.py); the order from
geo/stop_order.py on a worker thread (exact up to 9 stops, 2-opt/or-opt beyond), never
worse than the run's current order. Nothing is applied: the dispatcher does, with the
existing reorder action.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from geo.stop_order import best_order, path_cost, reachable
from server.live.state import Live
from server.usecases.router import Router
from server.wire.routing import RunProposal, RunTotals


class CannotOptimize(Exception):
    """The run cannot be ordered now; the message says why (409)."""


class RunTooLong(Exception):
    """More stops than TRACKER_OPTIMIZE_MAX_STOPS (422)."""


async def propose(live: Live, router: Router, driver_id: int, max_stops: int) -> RunProposal:
    stops = live.runs.stops(driver_id)
    if len(stops) > max_stops:
        raise RunTooLong(
            f"the run has {len(stops)} open stops; at most {max_stops} are ordered at once "
            "(TRACKER_OPTIMIZE_MAX_STOPS)"
        )
    current = [s.order_id for s in stops]
    fix = live.last_fix(driver_id)
    start = "courier" if fix is not None else "first_stop"
    points = [s.destination for s in stops]
    if fix is not None:
        points.insert(0, (fix.lon, fix.lat))
    if len(points) <= 2:  # nothing to choose between
        return RunProposal(driver_id, current, current, RunTotals(0, 0), RunTotals(0, 0),
                           False, start)  # fmt: skip
    matrix = await router.matrix(points)
    if matrix.note is not None:
        raise CannotOptimize(matrix.note)
    # Node 0 is where the run starts: the courier, or the first stop (which stays first).
    ids = current if fix is not None else current[1:]
    order = await asyncio.to_thread(best_order, matrix.time_s)
    proposed = ([] if fix is not None else [current[0]]) + [ids[i - 1] for i in order]
    given = list(range(1, len(points)))
    return RunProposal(
        driver_id,
        current,
        proposed,
        _totals(matrix.time_s, matrix.length_m, given),
        _totals(matrix.time_s, matrix.length_m, order),
        proposed != current,
        start,
    )


def _totals(time_s: Sequence[Sequence[float]], length_m: Sequence[Sequence[float]],
            order: Sequence[int]) -> RunTotals:  # fmt: skip
    if not reachable(time_s, order):  # a hop with no path: no total to tell (-1)
        return RunTotals(-1, -1)
    return RunTotals(round(path_cost(time_s, order)), round(path_cost(length_m, order)))
