"""Expected seconds from a run's start to each place along its route.

The route is cut into equal pieces of about 50 m; each piece's pace blends the routing
engine's time for it (when the route came with durations) with the fleet's speed profile at
that place, direction and hour of the week. The cumulative table is built once per hour of
the week a run is tracked in, so a query is an index and an interpolation.
"""

from __future__ import annotations

import math
from bisect import bisect_right

import numpy as np

from geo.crs import to_utm_many, utm_epsg
from geo.line import MetricLine
from geo.route import Route
from geo.speed_profile import SpeedProfile

PIECE_M = 50.0
# A piece whose fine cell holds at least this much history counts as known.
_KNOWN_M = 100.0


class ExpectedTimes:
    """Cumulative expected travel seconds along one run's route."""

    __slots__ = (
        "_epsg",
        "_headings",
        "_priors",
        "_tables",
        "_ux",
        "_uy",
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
        mids = [(k + 0.5) * self.piece_m for k in range(n)]
        xs, ys, headings = [], [], []
        for along in mids:
            x, y = line.point_at(along)
            dx, dy = line.direction_at(along)
            xs.append(x)
            ys.append(y)
            headings.append(math.degrees(math.atan2(dx, dy)) % 360.0)
        lons, lats = line.frame.to_lonlat_many(xs, ys)
        self._epsg = utm_epsg(float(np.median(lons)), float(np.median(lats)))
        ux, uy = to_utm_many(self._epsg, lons, lats)
        self._ux: list[float] = ux.tolist()
        self._uy: list[float] = uy.tolist()
        self._headings = headings
        self._priors = _routing_paces(line, route, mids)
        self._tables: dict[int, list[float]] = {}
        self.coverage = 1.0 if self.has_durations else 0.0

    def _table(self, hour_of_week: int) -> list[float]:
        table = self._tables.get(hour_of_week)
        if table is not None:
            return table
        profile, piece = self.profile, self.piece_m
        table = [0.0]
        known = 0
        for k in range(len(self._ux)):
            prior = self._priors[k]
            if self.provisional:
                # The line is not the road: the place says nothing, the fleet's speed does.
                pace, evidence = 1.0 / profile.fleet_speed_mps, 0.0
            else:
                pace, evidence = profile.pace_s_per_m(
                    self._epsg, self._ux[k], self._uy[k], self._headings[k], hour_of_week, prior
                )
            known += evidence >= _KNOWN_M or prior is not None
            table.append(table[-1] + pace * piece)
        self._tables[hour_of_week] = table
        self.coverage = known / len(self._ux)
        return table

    def at(self, along_m: float, hour_of_week: int) -> float:
        """Expected seconds from the start to `along_m`."""
        table = self._table(hour_of_week)
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
