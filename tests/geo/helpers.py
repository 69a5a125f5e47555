"""Build routes and fixes in metres around a fixed place, so tests read as geometry."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from geo.crs import local_frame
from geo.model import Fix
from geo.route import Route

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday morning
FRAME = local_frame(11.9, 50.3)


def lonlat(x_m: float, y_m: float) -> tuple[float, float]:
    """(lon, lat) of a point x_m east and y_m north of the test origin."""
    return FRAME.to_lonlat(x_m, y_m)


def route_m(points: Sequence[tuple[float, float]], **kwargs: object) -> Route:
    return Route(tuple(lonlat(x, y) for x, y in points), **kwargs)  # type: ignore[arg-type]


def fix_m(t_s: float, x_m: float, y_m: float, **readings: float) -> Fix:
    lon, lat = lonlat(x_m, y_m)
    return Fix(T0 + timedelta(seconds=t_s), lon, lat, **readings)


def point_along(path: Sequence[tuple[float, float]], distance_m: float) -> tuple[float, float]:
    """The point `distance_m` along a polyline given in metres (clamped to its ends)."""
    done = 0.0
    for a, b in itertools.pairwise(path):
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        if length > 0 and distance_m <= done + length:
            f = max(0.0, (distance_m - done) / length)
            return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f
        done += length
    return path[-1]


def path_length(path: Sequence[tuple[float, float]]) -> float:
    return sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in itertools.pairwise(path))


def drive(
    path: Sequence[tuple[float, float]], speed_mps: float, every_s: float, t0_s: float = 0.0
) -> list[Fix]:
    """Fixes every `every_s` seconds along `path` (metres) at a constant speed, ending at the
    path's end."""
    total = path_length(path)
    fixes = []
    t = 0.0
    while t * speed_mps < total:
        fixes.append(fix_m(t0_s + t, *point_along(path, t * speed_mps)))
        t += every_s
    fixes.append(fix_m(t0_s + total / speed_mps, *path[-1]))
    return fixes
