"""The learned speed profile's usual pace per fine cell, looked up in bulk.

The profile (geo/speed_profile.py) keeps seconds and metres per fine cell, per cell and
heading, and per cell, heading and hour of the week (UTC). The bottleneck layer knows no
heading: it wants a cell's pace in any direction, and in one hour of the week. So, per cell:

- place pace: the coarse cell's pace shrunk towards the fleet's, the fine cell's shrunk
  towards that (as `SpeedProfile.place_pace_s_per_m` does before it looks at headings);
- hour pace: the cell's hour-of-week history over all 8 headings (seconds and metres summed)
  shrunk towards the place pace by the same `prior_m`; the place pace when that hour has none.

A cell is *known* when its own history weighs at least as much as the prior it is shrunk
with (`metres >= prior_m`): below that, most of its pace is its parent's (the coarse cell's,
or the fleet's), which says nothing about this cell, and a caller should use its own figure.

Keys are packed into one int64 each and kept sorted, so that a look-up of n cells is one
`np.searchsorted` (no Python per cell): the index is built once per profile (O(its keys)).

>>> from geo.speed_profile import SpeedProfile, LEVEL_CELL, ANY
>>> seen = {(LEVEL_CELL, 32629, 5, 7, ANY, ANY): (60.0, 600.0)}  # 600 m in 60 s
>>> paces = CellPaces.from_profile(SpeedProfile(seen))
>>> pace, known = paces.lookup(np.array([32629, 32629]), np.array([5, 6]), np.array([7, 7]),
...                            np.array([0, 0]))
>>> [round(float(p), 4) for p in pace], known.tolist()  # (60 + 300/8) / 900; the fleet's
([0.1083, 0.125], [True, False])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from geo.speed_profile import LEVEL_CELL, LEVEL_COARSE, LEVEL_HOUR, SpeedProfile

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_EPSG_BASE = 32600  # UTM zones: 326xx (north), 327xx (south)
_OFFSET = 1 << 20  # cell indices are packed as ix + _OFFSET in 21 bits
_HOURS = 168


def cell_keys(epsg: IntArray, ix: IntArray, iy: IntArray) -> IntArray:
    """One int64 per cell (its zone, ix, iy), in the same order as the inputs."""
    zone = np.asarray(epsg, np.int64) - _EPSG_BASE
    return (
        (zone << 42)
        | ((np.asarray(ix, np.int64) + _OFFSET) << 21)
        | (np.asarray(iy, np.int64) + _OFFSET)
    )


def find_keys(keys: IntArray, wanted: IntArray) -> tuple[IntArray, BoolArray]:
    """Positions of `wanted` in the sorted `keys`, and which were there."""
    if len(keys) == 0:
        return np.zeros(len(wanted), np.int64), np.zeros(len(wanted), np.bool_)
    at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
    return at, keys[at] == wanted


@dataclass(frozen=True, slots=True)
class CellPaces:
    cell_m: float
    fleet_pace: float  # s/m, for a cell the profile has never seen
    keys: IntArray  # sorted cell keys the profile has a fine-cell total for
    place_pace: FloatArray  # s/m, shrunk as above
    known: BoolArray  # own metres >= prior_m
    hour_keys: IntArray  # sorted cell key * 168 + hour of week (UTC)
    hour_s: FloatArray  # over all headings
    hour_m: FloatArray
    prior_m: float

    @classmethod
    def from_profile(cls, profile: SpeedProfile) -> CellPaces:
        """The index of `profile` (O(its keys); build it once, off an event loop)."""
        p = profile.params
        fleet_pace = 1.0 / profile.fleet_speed_mps
        coarse: dict[tuple[int, int, int], float] = {}
        cells: list[tuple[int, int, int, float, float]] = []
        hours: dict[tuple[int, int, int, int], list[float]] = {}
        for (level, epsg, ix, iy, _, hour), (seconds, metres) in profile.totals.items():
            if level == LEVEL_COARSE:
                coarse[(epsg, ix, iy)] = (seconds + p.prior_m * fleet_pace) / (metres + p.prior_m)
            elif level == LEVEL_CELL:
                cells.append((epsg, ix, iy, seconds, metres))
            elif level == LEVEL_HOUR:
                acc = hours.setdefault((epsg, ix, iy, hour), [0.0, 0.0])
                acc[0] += seconds
                acc[1] += metres
        paces = np.empty(len(cells))
        for i, (epsg, ix, iy, seconds, metres) in enumerate(cells):
            # the coarse cell holding this fine cell's centre
            cx = math.floor((ix + 0.5) * p.cell_m / p.coarse_cell_m)
            cy = math.floor((iy + 0.5) * p.cell_m / p.coarse_cell_m)
            parent = coarse.get((epsg, cx, cy), fleet_pace)
            paces[i] = (seconds + p.prior_m * parent) / (metres + p.prior_m)
        columns = np.array([c[:3] for c in cells], np.int64).reshape(-1, 3)
        keys = cell_keys(columns[:, 0], columns[:, 1], columns[:, 2])
        order = np.argsort(keys)
        metres_seen = np.array([c[4] for c in cells], np.float64)
        hour_columns = np.array(list(hours), np.int64).reshape(-1, 4)
        hour_keys = (
            cell_keys(hour_columns[:, 0], hour_columns[:, 1], hour_columns[:, 2]) * _HOURS
            + hour_columns[:, 3]
        )
        hour_order = np.argsort(hour_keys)
        totals = np.array(list(hours.values()), np.float64).reshape(-1, 2)
        return cls(
            cell_m=p.cell_m,
            fleet_pace=fleet_pace,
            keys=keys[order],
            place_pace=paces[order],
            known=metres_seen[order] >= p.prior_m,
            hour_keys=hour_keys[hour_order],
            hour_s=totals[hour_order, 0],
            hour_m=totals[hour_order, 1],
            prior_m=p.prior_m,
        )

    def lookup(
        self, epsg: IntArray, ix: IntArray, iy: IntArray, hour_of_week: IntArray
    ) -> tuple[FloatArray, BoolArray]:
        """(usual pace in s/m, known) per row: the cell's hour pace in that hour of the week
        (UTC, 0 = Monday 00:00). Unknown cells get the fleet's or their parent's pace."""
        keys = cell_keys(epsg, ix, iy)
        at, found = find_keys(self.keys, keys)
        place = np.where(found, self.place_pace[at] if len(self.keys) else 0.0, self.fleet_pace)
        known = found & (self.known[at] if len(self.keys) else found)
        hour_at, in_hour = find_keys(self.hour_keys, keys * _HOURS + np.asarray(hour_of_week))
        if len(self.hour_keys):
            seconds = np.where(in_hour, self.hour_s[hour_at], 0.0)
            metres = np.where(in_hour, self.hour_m[hour_at], 0.0)
            place = (seconds + self.prior_m * place) / (metres + self.prior_m)
        return place, known
