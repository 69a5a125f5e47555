"""Expected seconds from a run's start to each place along its route.

The route is cut into equal pieces of about 50 m; each piece's pace blends the routing
engine's time for it (when the route came with durations) with the fleet's speed profile at
that place, direction and hour of the week; where no routing engine timed it, the profile's
learned detour factor then scales it by how winding the road around it is (geo/detour.py).
The cumulative table is built once per hour of the week a run is tracked in, so a query is an
index and an interpolation.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate, pairwise

import numpy as np

from geo.crs import to_utm_many, utm_epsg
from geo.detour import straightness
from geo.line import MetricLine
from geo.route import Route
from geo.speed_profile import HourKey, SpeedProfile

PIECE_M = 50.0
# A piece whose fine cell holds at least this much history counts as known.
_KNOWN_M = 100.0


class ExpectedTimes:
    """Cumulative expected travel seconds along one run's route."""

    __slots__ = (
        "_epsg",
        "_hour_keys",
        "_place_paces",
        "_tables",
        "coverage",
        "has_durations",
        "piece_m",
        "profile",
        "provisional",
    )

    def __init__(self, line: MetricLine, route: Route, profile: SpeedProfile | None) -> None:
        self.profile = profile or SpeedProfile()
        self.provisional = route.provisional
        self.has_durations = route.durations_s is not None
        n = max(1, math.ceil(line.length_m / PIECE_M))
        self.piece_m = line.length_m / n
        mid_m = (np.arange(n, dtype=np.float64) + 0.5) * self.piece_m
        mids: list[float] = mid_m.tolist()
        xs, ys, dxs, dys = line.points_at(mid_m)
        headings = [
            math.degrees(math.atan2(dx, dy)) % 360.0
            for dx, dy in zip(dxs.tolist(), dys.tolist(), strict=True)
        ]
        lons, lats = line.frame.to_lonlat_many(xs, ys)
        self._epsg = utm_epsg(float(np.median(lons)), float(np.median(lats)))
        utm_x, utm_y = to_utm_many(self._epsg, lons, lats)
        ux: list[float] = utm_x.tolist()
        uy: list[float] = utm_y.tolist()
        priors = _routing_paces(line, route, mids)
        profile = self.profile
        # Everything but the hour of the week is known now: the place's pace per piece.
        place_paces: list[float] = []
        hour_keys: list[HourKey] = []
        known = 0
        for k in range(n):
            if self.provisional:
                # The line is not the road: the place says nothing, the fleet's speed does.
                pace, evidence = 1.0 / profile.fleet_speed_mps, 0.0
            else:
                pace, evidence = profile.place_pace_s_per_m(
                    self._epsg, ux[k], uy[k], headings[k], priors[k]
                )
                hour_keys.append(profile.hour_key(self._epsg, ux[k], uy[k], headings[k]))
            place_paces.append(pace)
            known += evidence >= _KNOWN_M or priors[k] is not None
        self.coverage = known / n
        detour = profile.detour
        if not self.provisional and not detour.identity:
            for k, s in enumerate(straightness(line, mids).tolist()):
                if priors[k] is None:
                    place_paces[k] *= detour.factor(s)
        self._place_paces = tuple(place_paces)
        self._hour_keys = tuple(hour_keys)
        self._tables: dict[int, tuple[float, ...]] = {}  # tuples: see MetricLine

    def _table(self, hour_of_week: int) -> tuple[float, ...]:
        table = self._tables.get(hour_of_week)
        if table is not None:
            return table
        piece = self.piece_m
        paces: Sequence[float] = self._place_paces
        if self._hour_keys:
            hour_pace = self.profile.hour_pace_s_per_m
            paces = [
                hour_pace(pace, key, hour_of_week)
                for pace, key in zip(paces, self._hour_keys, strict=True)
            ]
        table = (0.0, *accumulate(pace * piece for pace in paces))
        self._tables[hour_of_week] = table
        return table

    def at(self, along_m: float, hour_of_week: int) -> float:
        """Expected seconds from the start to `along_m`."""
        return self.at_in(self._table(hour_of_week), along_m)

    def table(self, hour_of_week: int) -> tuple[float, ...]:
        """The cumulative table of one hour of the week, for several `at_in` queries."""
        return self._table(hour_of_week)

    def piece_seconds(self, hour_of_week: int) -> list[float]:
        """Each piece's expected seconds in one hour of the week (for learning)."""
        table = self._table(hour_of_week)
        return [b - a for a, b in pairwise(table)]

    def at_in(self, table: tuple[float, ...], along_m: float) -> float:
        """Expected seconds from the start to `along_m`, from `table(hour_of_week)`."""
        f = min(max(along_m / self.piece_m, 0.0), len(table) - 1.0)
        k = min(int(f), len(table) - 2)
        return table[k] + (table[k + 1] - table[k]) * (f - k)


def _routing_paces(line: MetricLine, route: Route, mids: list[float]) -> list[float | None]:
    """Seconds per metre the routing engine gave each piece's segment, if it gave any."""
    if route.durations_s is None or len(route.durations_s) != len(line.cum_m):
        return [None] * len(mids)
    durations, cum = route.durations_s, line.cum_m
    paces: list[float | None] = []
    for along in mids:
        i = min(max(bisect_right(cum, along) - 1, 0), len(cum) - 2)
        length = cum[i + 1] - cum[i]
        paces.append((durations[i + 1] - durations[i]) / length if length > 0 else None)
    return paces
