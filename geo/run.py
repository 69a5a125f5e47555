"""A driver's run: one route through several stops, each placed at its distance along it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from geo.line import MetricLine
from geo.route import Route, RouteError, concat_routes

# A stop further than this from its route is a mistake (wrong route or wrong address).
MAX_STOP_OFFSET_M = 1_000.0


@dataclass(frozen=True, slots=True)
class Stop:
    """A place to deliver to; `service_s` is the time spent there (parking, handing over)."""

    id: str
    lon: float
    lat: float
    service_s: float = 0.0


@dataclass(frozen=True, slots=True)
class PlacedStop:
    """A stop with its place on the run's route, and its own position in the run's frame."""

    stop: Stop
    along_m: float
    offset_m: float
    x_m: float
    y_m: float


@dataclass(frozen=True, slots=True, eq=False)
class Run:
    route: Route
    line: MetricLine
    stops: tuple[PlacedStop, ...]

    @property
    def length_m(self) -> float:
        return self.line.length_m


def build_run(route: Route, stops: Sequence[Stop]) -> Run:
    """Place `stops` (in visiting order) along `route`, each searched for after the one before,
    so a route that loops or comes back along the same street places each stop on the right
    pass.

    >>> from geo.route import Route
    >>> out_and_back = Route(((11.90, 50.30), (11.92, 50.30), (11.90, 50.3001)))
    >>> run = build_run(out_and_back, [Stop("a", 11.91, 50.30005), Stop("b", 11.91, 50.30005)])
    >>> [round(s.along_m / 100) for s in run.stops]
    [7, 21]
    """
    if not stops:
        raise RouteError("a run needs at least one stop")
    line = MetricLine(route.coords, length_scale=route.detour_factor)
    placed: list[PlacedStop] = []
    from_m = 0.0
    for i, stop in enumerate(stops):
        _check_stop(stop)
        x, y = line.to_xy(stop.lon, stop.lat)
        # A straight line is no road: a stop on it is where it comes closest. The final stop
        # takes the last pass: routes end at their last stop, and may start there too.
        tolerance_m = 0.0 if route.provisional else 25.0
        hit = line.place(x, y, from_m, tolerance_m, last_pass=i == len(stops) - 1)
        if hit.offset_m > MAX_STOP_OFFSET_M and not route.provisional:
            raise RouteError(
                f"stop {stop.id!r} is {hit.offset_m:.0f} m from the route "
                f"(limit {MAX_STOP_OFFSET_M:.0f} m): check its coordinates or the route"
            )
        placed.append(PlacedStop(stop, hit.along_m, hit.offset_m, x, y))
        from_m = hit.along_m
    return Run(route, line, tuple(placed))


def run_from_legs(legs: Sequence[tuple[Route, Stop]]) -> Run:
    """A run from per-order legs, each a route ending at its stop, in visiting order.

    Each stop sits at the end of its own leg, whatever the geometry looks like elsewhere.
    """
    route = concat_routes([leg for leg, _ in legs])
    line = MetricLine(route.coords, length_scale=route.detour_factor)
    placed: list[PlacedStop] = []
    for _, stop in legs:
        _check_stop(stop)
    # Projected all at once: one call into pyproj per stop was a sixth of a long run's build.
    stop_xs, stop_ys = line.frame.to_xy_many([s.lon for _, s in legs], [s.lat for _, s in legs])
    vertex = -1
    for i, ((leg, stop), x, y) in enumerate(
        zip(legs, stop_xs.tolist(), stop_ys.tolist(), strict=True)
    ):
        # concat_routes drops a leg's first vertex when it repeats the previous leg's end.
        joined = i > 0 and leg.coords[0] == legs[i - 1][0].coords[-1]
        vertex += len(leg.coords) - (1 if joined else 0)
        along_m = line.cum_m[vertex]
        end_x, end_y = line.xs[vertex], line.ys[vertex]
        placed.append(PlacedStop(stop, along_m, math.hypot(x - end_x, y - end_y), x, y))
    return Run(route, line, tuple(placed))


def _check_stop(stop: Stop) -> None:
    if not (math.isfinite(stop.lon) and math.isfinite(stop.lat)):
        raise RouteError(f"stop {stop.id!r} has non-finite coordinates")
    if not (-90.0 <= stop.lat <= 90.0 and -180.0 <= stop.lon <= 180.0):
        raise RouteError(f"stop {stop.id!r} is outside lon -180..180 / lat -90..90")
    if not (math.isfinite(stop.service_s) and stop.service_s >= 0):
        raise RouteError(f"stop {stop.id!r} service_s must be a finite number >= 0")
