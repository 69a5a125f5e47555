"""What a customer may see of a run: nothing within a clearance of anyone else's stop.

Each order's leg starts at the previous stop, so the route shown to one customer would
begin at another's door, and a courier dwelling there would point at it too. `LegView`
keeps only the end of a leg after it last comes within the clearance of any point to
avoid (the other stops, the leg's own start), and of that only what is still ahead of the
courier. `Keepout` says, per fix and cheaply, which stops the courier is within the
clearance of, so it can be withheld from every other customer while there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from geo.crs import local_frame

# The visible part starts this far past the last point inside a clearance, so that no
# projection or rounding error puts its first vertex inside.
MARGIN_M = 1.0
# A visible remainder shorter than this is not worth drawing.
MIN_LENGTH_M = 1.0

_WGS84_A_M = 6_378_137.0
_WGS84_E2 = 0.006_694_379_990_14

Coords = tuple[tuple[float, float], ...]


def metres_per_degree(lat: float) -> tuple[float, float]:
    """(metres per degree of longitude, of latitude) at `lat` on the WGS84 ellipsoid: the
    radii of curvature there. Good to ~1e-4 within a kilometre of `lat`.

    >>> [round(v) for v in metres_per_degree(0.0)]
    [111319, 110574]
    >>> [round(v) for v in metres_per_degree(50.3)]
    [71249, 111235]
    """
    phi = math.radians(lat)
    w = 1.0 - _WGS84_E2 * math.sin(phi) ** 2
    prime_vertical_m = _WGS84_A_M / math.sqrt(w)
    meridian_m = _WGS84_A_M * (1.0 - _WGS84_E2) / w**1.5
    return prime_vertical_m * math.cos(phi) * math.pi / 180.0, meridian_m * math.pi / 180.0


class Keepout:
    """Places (with ids) that a courier must not be shown within `clearance_m` of.

    Each place keeps its own local metres-per-degree, so a check is a few multiplications
    per place and no projection: it runs on every fix.

    >>> keep = Keepout([(7, 11.90, 50.30), (8, 11.95, 50.30)], 300.0)
    >>> keep.near(11.902, 50.301), keep.near(11.925, 50.30), keep.near(11.95, 50.3026)
    ([7], [], [8])
    >>> Keepout([], 300.0).near(11.90, 50.30)
    []
    """

    __slots__ = ("_places", "clearance_m")

    def __init__(self, places: Sequence[tuple[int, float, float]], clearance_m: float) -> None:
        self.clearance_m = clearance_m
        self._places = tuple(
            (place_id, lon, lat, *metres_per_degree(lat)) for place_id, lon, lat in places
        )

    def __len__(self) -> int:
        return len(self._places)

    def near(self, lon: float, lat: float) -> list[int]:
        """The ids of the places (lon, lat) lies within the clearance of."""
        r = self.clearance_m
        r2 = r * r
        found = []
        for place_id, p_lon, p_lat, m_lon, m_lat in self._places:
            dy = (lat - p_lat) * m_lat
            if -r < dy < r:
                dx = (lon - p_lon) * m_lon
                if dx * dx + dy * dy < r2:
                    found.append(place_id)
        return found

    def points(self, excluding: int | None = None) -> list[tuple[float, float]]:
        """The places' (lon, lat), but for the one with id `excluding`."""
        return [(lon, lat) for place_id, lon, lat, _, _ in self._places if place_id != excluding]


class LegView:
    """A leg as a customer may see it: the part after its last pass within `clearance_m` of
    any of `avoid` (nothing, when its end is within it: a neighbour closer than the
    clearance), cut again at the courier's progress by `ahead`.

    >>> street = [(11.90, 50.30), (11.91, 50.30), (11.92, 50.30)]  # ~1.42 km east
    >>> view = LegView(street, [(11.90, 50.30)], 300.0)
    >>> round(view.clear_from_m), round(view.length_m)
    (301, 1425)
    >>> view.ahead()[0][0] > 11.904, view.ahead()[-1] == (11.92, 50.30)
    (True, True)
    >>> len(view.ahead(500.0)), round(view.ahead(500.0)[0][0], 4)
    (2, 11.913)
    >>> LegView(street, [(11.9205, 50.3001)], 300.0).ahead() is None  # a neighbour's door
    True
    """

    __slots__ = ("_cum_m", "_frame", "_given", "_xs", "_ys", "clear_from_m", "length_m")

    def __init__(
        self,
        coords: Sequence[tuple[float, float]],
        avoid: Sequence[tuple[float, float]],
        clearance_m: float,
    ) -> None:
        self._given: Coords = tuple((float(c[0]), float(c[1])) for c in coords)
        lons = np.array([c[0] for c in coords], float)
        lats = np.array([c[1] for c in coords], float)
        self._frame = local_frame(float((lons.min() + lons.max()) / 2), float(np.median(lats)))
        xs, ys = self._frame.to_xy_many(lons, lats)
        self._xs, self._ys = xs, ys
        seg_m = np.hypot(np.diff(xs), np.diff(ys))
        self._cum_m = np.concatenate(([0.0], np.cumsum(seg_m)))
        self.length_m = float(self._cum_m[-1])
        last_exit_m = -math.inf
        if avoid:
            ax, ay = self._frame.to_xy_many([p[0] for p in avoid], [p[1] for p in avoid])
            for px, py in zip(ax.tolist(), ay.tolist(), strict=True):
                last_exit_m = max(last_exit_m, self._last_exit_m(px, py, clearance_m))
        self.clear_from_m = last_exit_m + MARGIN_M if last_exit_m > -math.inf else 0.0

    def _last_exit_m(self, px: float, py: float, radius_m: float) -> float:
        """How far along the line it last leaves the disc of `radius_m` around (px, py)
        (-inf: it never enters). Exact: each segment is solved against the circle."""
        x0, y0 = self._xs[:-1] - px, self._ys[:-1] - py
        dx, dy = np.diff(self._xs), np.diff(self._ys)
        a = dx * dx + dy * dy
        b = 2.0 * (x0 * dx + y0 * dy)
        c = x0 * x0 + y0 * y0 - radius_m * radius_m
        disc = b * b - 4.0 * a * c
        with np.errstate(divide="ignore", invalid="ignore"):
            root = np.sqrt(np.where(disc >= 0.0, disc, 0.0))
            t_in = (-b - root) / (2.0 * a)
            t_out = (-b + root) / (2.0 * a)
        moving = a > 0.0
        crosses = moving & (disc >= 0.0) & (t_in <= 1.0) & (t_out >= 0.0)
        still_inside = ~moving & (c <= 0.0)  # a repeated vertex inside the disc
        seg_m = np.sqrt(a)
        exits = np.where(
            crosses,
            self._cum_m[:-1] + np.minimum(t_out, 1.0) * seg_m,
            np.where(still_inside, self._cum_m[:-1], -np.inf),
        )
        return float(exits.max()) if len(exits) else -math.inf

    def ahead(self, ahead_m: float | None = None) -> Coords | None:
        """The visible coordinates, (lon, lat), ending at the leg's end: from the clearance
        on, and only the last `ahead_m` metres (the courier's remaining distance on this
        leg) when given. None when nothing worth drawing remains."""
        start_m = self.clear_from_m
        if ahead_m is not None:
            start_m = max(start_m, self.length_m - ahead_m)
        if start_m > self.length_m - MIN_LENGTH_M:
            return None
        cum = self._cum_m
        i = int(np.searchsorted(cum, start_m, side="right")) - 1
        i = min(max(i, 0), len(cum) - 2)
        f = (start_m - cum[i]) / (cum[i + 1] - cum[i]) if cum[i + 1] > cum[i] else 0.0
        first = (
            float(self._xs[i] + (self._xs[i + 1] - self._xs[i]) * f),
            float(self._ys[i] + (self._ys[i + 1] - self._ys[i]) * f),
        )
        # The leg's own vertices as given after the cut, not a round trip through the frame.
        return (self._frame.to_lonlat(*first), *self._given[i + 1 :])
