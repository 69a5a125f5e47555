"""The fleet's speed by place, direction and time of week, learned from its own history.

Travel between consecutive stored fixes is cut into pieces, and each piece's seconds and
metres are added to grid cells of a UTM zone: a coarse cell (any direction, any hour), a
fine cell, the fine cell in one of 8 heading buckets, and that again in one hour of the week
(UTC). Keeping seconds and metres (not an average of speeds) makes pace = seconds / metre the
time-weighted quantity an ETA needs, stops at lights included. Queries shrink each level
towards the one above it, so a cell seen once barely moves the estimate.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np

from geo.crs import to_utm_many, utm_epsg
from geo.detour import Detour
from geo.model import Fix

FORMAT_VERSION = 1
HEADING_BUCKETS = 8
ANY = -1  # a key part that is not split on (heading or hour)
LEVEL_COARSE, LEVEL_CELL, LEVEL_HEADING, LEVEL_HOUR = 0, 1, 2, 3

Key = tuple[int, int, int, int, int, int]  # (level, epsg, ix, iy, heading bucket, hour of week)
HourKey = tuple[int, int, int, int, int]  # a Key without its hour


@dataclass(frozen=True, slots=True)
class LearnParams:
    cell_m: float = 150.0
    coarse_cell_m: float = 600.0
    piece_m: float = 75.0  # travel between two fixes is spread over pieces this long
    max_gap_s: float = 300.0  # longer gaps between fixes are lost signal, not travel
    stop_speed_mps: float = 1.0
    # Standing still longer than this is parking or a delivery, not traffic: the excess is
    # not travel at all (it counts towards no trip's average speed).
    max_stop_s: float = 180.0
    # Of each standing episode, only this much is added to the place's time. A red light
    # costs most passes a little and a few passes a lot: the long waits made the mean pace
    # a poor middle (MAE wants the median), and they are handled by the tracker as they
    # happen. 45 s was the best of 20/30/45/60/180 s in 5-fold cross-validation on the
    # history halves of fcd_hof (docs/eta.md).
    max_wait_s: float = 45.0
    # Shrinkage: a level's own data counts like this many metres of its parent's pace.
    prior_m: float = 300.0


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """Seconds and metres per key, and fleet-wide figures for when a place is unknown."""

    totals: Mapping[Key, tuple[float, float]] = field(default_factory=dict)
    fleet_speed_mps: float = 8.0  # all travel time-weighted, stops included
    median_trip_speed_mps: float = 8.0  # the median of trips' average speeds (the baseline)
    params: LearnParams = LearnParams()
    # Learned afterwards, from predictions this profile made (geo/detour.py).
    detour: Detour = field(default_factory=Detour)

    def with_detour(self, detour: Detour) -> SpeedProfile:
        return replace(self, detour=detour)

    def pace_s_per_m(
        self,
        epsg: int,
        x: float,
        y: float,
        heading_deg: float,
        hour_of_week: int,
        prior_pace: float | None = None,
    ) -> tuple[float, float]:
        """(pace in s/m, metres of history at this fine cell) for a place in UTM zone `epsg`.

        `prior_pace` (a routing engine's) replaces the fleet-wide pace as the starting point.
        """
        pace, evidence_m = self.place_pace_s_per_m(epsg, x, y, heading_deg, prior_pace)
        key = self.hour_key(epsg, x, y, heading_deg)
        return self.hour_pace_s_per_m(pace, key, hour_of_week), evidence_m

    def place_pace_s_per_m(
        self, epsg: int, x: float, y: float, heading_deg: float, prior_pace: float | None = None
    ) -> tuple[float, float]:
        """Like `pace_s_per_m` at any hour: the coarse cell, the fine cell, its heading."""
        p = self.params
        pace = prior_pace if prior_pace is not None else 1.0 / self.fleet_speed_mps
        cx, cy = math.floor(x / p.coarse_cell_m), math.floor(y / p.coarse_cell_m)
        ix, iy = math.floor(x / p.cell_m), math.floor(y / p.cell_m)
        h = heading_bucket(heading_deg)
        evidence_m = 0.0
        for key in (
            (LEVEL_COARSE, epsg, cx, cy, ANY, ANY),
            (LEVEL_CELL, epsg, ix, iy, ANY, ANY),
            (LEVEL_HEADING, epsg, ix, iy, h, ANY),
        ):
            seen = self.totals.get(key)
            if seen is None:
                continue
            seconds, metres = seen
            pace = (seconds + p.prior_m * pace) / (metres + p.prior_m)
            if key[0] == LEVEL_CELL:
                evidence_m = metres
        return pace, evidence_m

    def hour_key(self, epsg: int, x: float, y: float, heading_deg: float) -> HourKey:
        """The key of a place and heading at some hour of the week, without the hour."""
        p = self.params
        ix, iy = math.floor(x / p.cell_m), math.floor(y / p.cell_m)
        return (LEVEL_HOUR, epsg, ix, iy, heading_bucket(heading_deg))

    def hour_pace_s_per_m(self, place_pace: float, key: HourKey, hour_of_week: int) -> float:
        """`place_pace` shrunk towards the history of that place in one hour of the week."""
        seen = self.totals.get((*key, hour_of_week))
        if seen is None:
            return place_pace
        prior_m = self.params.prior_m
        return (seen[0] + prior_m * place_pace) / (seen[1] + prior_m)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (for the server to store); `from_json` reads it back."""
        return {
            "version": FORMAT_VERSION,
            "fleet_speed_mps": self.fleet_speed_mps,
            "median_trip_speed_mps": self.median_trip_speed_mps,
            "params": {
                "cell_m": self.params.cell_m,
                "coarse_cell_m": self.params.coarse_cell_m,
                "piece_m": self.params.piece_m,
                "max_gap_s": self.params.max_gap_s,
                "stop_speed_mps": self.params.stop_speed_mps,
                "max_stop_s": self.params.max_stop_s,
                "max_wait_s": self.params.max_wait_s,
                "prior_m": self.params.prior_m,
            },
            "detour": self.detour.to_json(),
            "cells": [
                [*key, round(seconds, 2), round(metres, 2)]
                for key, (seconds, metres) in sorted(self.totals.items())
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpeedProfile:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"speed profile format {data.get('version')!r} is not supported")
        totals: dict[Key, tuple[float, float]] = {}
        for row in data["cells"]:
            level, epsg, ix, iy, h, w = (int(v) for v in row[:6])
            totals[(level, epsg, ix, iy, h, w)] = (float(row[6]), float(row[7]))
        return cls(
            totals,
            float(data["fleet_speed_mps"]),
            float(data["median_trip_speed_mps"]),
            LearnParams(**{k: float(v) for k, v in data["params"].items()}),
            Detour.from_json(data.get("detour")),
        )


def heading_bucket(heading_deg: float) -> int:
    """One of 8 compass sectors centred on N, NE, E, ...

    >>> heading_bucket(0.0), heading_bucket(350.0), heading_bucket(95.0)
    (0, 0, 2)
    """
    return int(((heading_deg % 360.0) + 22.5) // 45.0) % HEADING_BUCKETS


def hour_of_week(at: datetime) -> int:
    """Hours since Monday 00:00 UTC (0..167)."""
    return at.weekday() * 24 + at.hour


def learn(trips: Iterable[Sequence[Fix]], params: LearnParams | None = None) -> SpeedProfile:
    """Learn a profile from stored trips (each a time-ordered sequence of one vehicle's fixes).

    >>> from datetime import UTC, timedelta
    >>> t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    >>> trip = [Fix(t0 + timedelta(seconds=10 * i), 11.9 + 0.0014 * i, 50.3) for i in range(30)]
    >>> round(learn([trip]).fleet_speed_mps, 1)
    10.0
    """
    p = params or LearnParams()
    totals: dict[Key, list[float]] = {}
    all_seconds = all_metres = 0.0
    trip_speeds: list[float] = []
    for trip in trips:
        if len(trip) < 2:
            continue
        seconds, metres = _learn_trip(trip, p, totals)
        all_seconds += seconds
        all_metres += metres
        span_s = (trip[-1].recorded_at - trip[0].recorded_at).total_seconds()
        if span_s > 0 and metres > 0:
            trip_speeds.append(metres / span_s)
    fleet = all_metres / all_seconds if all_seconds > 0 else 8.0
    median = float(np.median(trip_speeds)) if trip_speeds else fleet
    return SpeedProfile(
        {k: (v[0], v[1]) for k, v in totals.items()}, max(fleet, 0.5), max(median, 0.5), p
    )


def _learn_trip(
    trip: Sequence[Fix], p: LearnParams, totals: dict[Key, list[float]]
) -> tuple[float, float]:
    """Add one trip's travel to `totals`; return the (seconds, metres) it counted."""
    lons = [f.lon for f in trip]
    lats = [f.lat for f in trip]
    epsg = utm_epsg(float(np.median(lons)), float(np.median(lats)))
    xs, ys = to_utm_many(epsg, lons, lats)
    ts = [f.recorded_at.timestamp() for f in trip]
    hours = [hour_of_week(f.recorded_at) for f in trip]
    dts = np.diff(ts)
    dists = np.hypot(np.diff(xs), np.diff(ys))
    moving = np.flatnonzero((dts > 0) & (dists >= p.stop_speed_mps * np.maximum(dts, 1e-9)))
    if len(moving) == 0:
        return 0.0, 0.0
    heading: float | None = None
    stopped_s = 0.0
    counted_s = counted_m = 0.0
    # Standing before the first move and after the last is parking, not travel.
    for i in range(int(moving[0]), int(moving[-1]) + 1):
        dt = ts[i + 1] - ts[i]
        if dt <= 0 or dt > p.max_gap_s:
            continue
        dx, dy = float(xs[i + 1] - xs[i]), float(ys[i + 1] - ys[i])
        dist = math.hypot(dx, dy)
        if dist / dt < p.stop_speed_mps:
            # Standing: part of the trip up to max_stop_s (lights, queues), of which the
            # place is charged up to max_wait_s per episode.
            if min(dt, p.max_stop_s - stopped_s) <= 0:
                stopped_s += dt
                continue
            waited_s = min(dt, max(0.0, p.max_wait_s - stopped_s))
            stopped_s += dt
            dt = waited_s
        else:
            stopped_s = 0.0
            heading = math.degrees(math.atan2(dx, dy)) % 360.0
        n = max(1, math.ceil(dist / p.piece_m))
        for k in range(n):
            f = (k + 0.5) / n
            _add(
                totals, p, epsg, xs[i] + dx * f, ys[i] + dy * f, heading, hours[i], dt / n, dist / n
            )
        counted_s += dt
        counted_m += dist
    return counted_s, counted_m


def _add(
    totals: dict[Key, list[float]],
    p: LearnParams,
    epsg: int,
    x: float,
    y: float,
    heading_deg: float | None,
    hour: int,
    seconds: float,
    metres: float,
) -> None:
    ix, iy = math.floor(x / p.cell_m), math.floor(y / p.cell_m)
    keys: list[Key] = [
        (
            LEVEL_COARSE,
            epsg,
            math.floor(x / p.coarse_cell_m),
            math.floor(y / p.coarse_cell_m),
            ANY,
            ANY,
        ),
        (LEVEL_CELL, epsg, ix, iy, ANY, ANY),
    ]
    if heading_deg is not None:
        h = heading_bucket(heading_deg)
        keys.append((LEVEL_HEADING, epsg, ix, iy, h, ANY))
        keys.append((LEVEL_HOUR, epsg, ix, iy, h, hour))
    for key in keys:
        acc = totals.get(key)
        if acc is None:
            totals[key] = [seconds, metres]
        else:
            acc[0] += seconds
            acc[1] += metres
