"""Synthetic courier days for the bottleneck tests, laid out in metres of one UTM zone (so
the cells they cross are known exactly), and the rollup's rules re-done in plain Python to
check the SQL against (server/store/insight_rollup.py states the rules)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyproj import Transformer

from server.store.queries import PositionRecord

EPSG = 32629  # Porto's zone
TO_LONLAT = Transformer.from_crs(f"EPSG:{EPSG}", "EPSG:4326", always_xy=True)
CELL_M = 150.0
X0, Y0 = 531_037.3, 4_555_012.7  # never on a cell border: fixes move by whole metres
MAX_GAP_S, STOP_MPS, SMOOTH_S, LOOKBACK_S = 300.0, 1.0, 30.0, 3_600.0


@dataclass(frozen=True)
class Point:
    t: datetime
    x: float
    y: float


def day(
    start: datetime,
    slow_mps: float,
    stop_s: float,
    step_s: float = 2.0,
    x0: float = X0,
    fast_mps: float = 10.0,
) -> list[Point]:
    """East along one street from `x0`: 1,200 m at `fast_mps`, a stop of `stop_s` (jitter of
    2 m), 600 m at `slow_mps`, 1,200 m at `fast_mps`; a fix every `step_s`."""
    points: list[Point] = []
    t, x = start, x0

    def drive(metres: float, mps: float) -> None:
        nonlocal t, x
        for _ in range(round(metres / (mps * step_s))):
            t += timedelta(seconds=step_s)
            x += mps * step_s
            points.append(Point(t, x, Y0))

    points.append(Point(t, x, Y0))
    drive(1_200, fast_mps)
    for i in range(round(stop_s / step_s)):
        t += timedelta(seconds=step_s)
        points.append(Point(t, x + (2.0 if i % 2 else -2.0), Y0 + (1.0 if i % 3 else -1.0)))
    drive(600, slow_mps)
    drive(1_200, fast_mps)
    return points


def records(driver_id: int, points: list[Point]) -> list[PositionRecord]:
    out: list[PositionRecord] = []
    for p in points:
        lon, lat = TO_LONLAT.transform(p.x, p.y)
        out.append((driver_id, p.t, p.t, (lon, lat), 5.0, None, None, None, None, None))
    return out


def cell(x: float, y: float) -> tuple[int, int]:
    return math.floor(x / CELL_M), math.floor(y / CELL_M)


@dataclass
class Expected:
    travel: dict[tuple[datetime, int, int], list[float]]  # (hour, ix, iy) -> [s, m, steps]
    dwells: list[tuple[datetime, float, tuple[int, int]]]  # started_at, dwell_s, cell


def expected(points: list[Point], dwell_min_s: float) -> Expected:
    """The rollup of one driver's whole day, by the documented rules, in Python."""
    steps = []  # (point, dt_s, d_m, still)
    for i in range(1, len(points)):
        p, q = points[i - 1], points[i]
        dt = (q.t - p.t).total_seconds()
        if dt > MAX_GAP_S:
            steps.append((q, dt, 0.0, False, False))
            continue
        d = math.dist((p.x, p.y), (q.x, q.y))
        back = next(b for b in points[: i + 1] if (q.t - b.t).total_seconds() <= SMOOTH_S)
        if back.t < q.t:
            speed = math.dist((back.x, back.y), (q.x, q.y)) / (q.t - back.t).total_seconds()
        else:
            speed = d / dt
        steps.append((q, dt, d, True, speed < STOP_MPS))
    out = Expected(defaultdict(lambda: [0.0, 0.0, 0.0]), [])
    i = 0
    while i < len(steps):
        q, dt, d, valid, still = steps[i]
        if not still:
            if valid:
                _add(out, q, dt, d)
            i += 1
            continue
        j = i
        while j < len(steps) and steps[j][4]:
            j += 1
        island = steps[i:j]
        started = points[points.index(island[0][0]) - 1].t
        dwell_s = (island[-1][0].t - started).total_seconds()
        if dwell_s >= dwell_min_s:
            xs = [s[0].x for s in island]
            ys = [s[0].y for s in island]
            out.dwells.append((started, dwell_s, cell(sum(xs) / len(xs), sum(ys) / len(ys))))
        else:
            for s in island:
                _add(out, s[0], s[1], s[2])
        i = j
    return out


def _add(out: Expected, q: Point, dt: float, d: float) -> None:
    hour = q.t.replace(minute=0, second=0, microsecond=0)
    entry = out.travel[(hour, *cell(q.x, q.y))]
    entry[0] += dt
    entry[1] += d
    entry[2] += 1
