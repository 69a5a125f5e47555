"""How much slower than the place profile a winding stretch of road is.

The speed profile knows the places the fleet has driven, but a place seen rarely falls back
to coarser cells and in the end to the fleet's pace, which straight main roads dominate; and a
150 m cell mixes the cars that go straight through a junction with those that turn. On the
development traces the cross-fitted error of the remaining time followed how winding the road
ahead is (rank correlation of log actual/predicted with the straightness of the rest of the
route: -0.37 at 25 % progress). So each ~50 m piece of a route gets its straightness (the
chord over the 800 m of road around it, divided by those 800 m: 1 on a straight road, near 0
on a hairpin or a loop) and its pace is multiplied by `exp(intercept + slope * straightness)`,
both learned from past predictions and their actual times (`Detour.learn`).

Geometry only, learned per fleet: where a routing engine gave the route its times, those
times already know the road and are left alone; a provisional straight line has no shape.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from geo.line import MetricLine

SCALE_M = 800.0  # of 400/800 m, the better in cross-validation inside the history (docs/eta.md)
BINS = 10  # straightness 0..1 in tenths, for learning
FACTOR_MIN, FACTOR_MAX = 0.5, 2.0
SMOOTH_S = 30.0  # as the window calibration: ratios stay sane near arrival
# Fewer trips than this teach nothing reliable about two numbers: no correction.
MIN_TRIPS = 20.0
_SLOPES = np.round(np.arange(-3.0, 3.0001, 0.02), 2)

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Detour:
    """Pace factor `exp(intercept + slope * straightness)`, kept within 0.5 to 2.

    >>> Detour().factor(0.3)
    1.0
    >>> d = Detour(0.5, -0.6)
    >>> round(d.factor(1.0), 2), round(d.factor(0.5), 2)
    (0.9, 1.22)
    """

    intercept: float = 0.0
    slope: float = 0.0
    trips: float = 0.0  # how many trips it was learned from

    @property
    def identity(self) -> bool:
        return self.intercept == 0.0 and self.slope == 0.0

    def factor(self, straightness: float) -> float:
        f = math.exp(self.intercept + self.slope * straightness)
        return min(max(f, FACTOR_MIN), FACTOR_MAX)

    def to_json(self) -> dict[str, float]:
        return {"intercept": self.intercept, "slope": self.slope, "trips": self.trips}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Detour:
        """A stored correction; none (a profile stored before it existed) is the identity."""
        if not data:
            return cls()
        return cls(float(data["intercept"]), float(data["slope"]), float(data.get("trips", 0)))

    @classmethod
    def learn(
        cls, samples: Iterable[tuple[float, float, Sequence[float]]], weights: Sequence[float]
    ) -> Detour:
        """Fit from (predicted_s, actual_s, shares): `shares` is how the predicted travel
        time ahead splits over the straightness tenths (`Shares.at`), predicted without any
        correction. Minimises the weighted absolute error of log((actual + 30) / (corrected
        + 30)), the median's loss (the figures judged are mean absolute errors); `weights`
        count each trip once, and their sum must reach `MIN_TRIPS`.
        """
        kept = [(row, w) for row, w in zip(samples, weights, strict=True) if sum(row[2]) > 0]
        rows = [row for row, _ in kept]
        w = np.array([w for _, w in kept], float)
        if not rows or w.sum() < MIN_TRIPS:
            return cls()
        predicted = np.maximum(np.array([r[0] for r in rows]), 0.0)
        actual = np.maximum(np.array([r[1] for r in rows]), 0.0)
        shares = np.array([r[2] for r in rows], float)
        shares /= shares.sum(axis=1, keepdims=True)
        y = np.log((actual + SMOOTH_S) / (predicted + SMOOTH_S))
        centres = (np.arange(BINS) + 0.5) / BINS
        best: tuple[float, float, float] | None = None
        for slope in _SLOPES:
            # For a given slope the best intercept is a weighted median: no search needed.
            shape = np.log(shares @ np.exp(slope * centres))
            intercept = _weighted_median(y - shape, w)
            loss = float((w * np.abs(y - shape - intercept)).sum())
            if best is None or loss < best[0]:
                best = (loss, intercept, float(slope))
        assert best is not None
        return cls(round(best[1], 4), best[2], round(float(w.sum()), 1))


def straightness(line: MetricLine, alongs_m: Sequence[float]) -> FloatArray:
    """Chord over path length of the `SCALE_M` of road centred on each `alongs_m` (clipped
    to the line; the whole line when it is shorter).

    >>> line = MetricLine([(11.90, 50.30), (11.92, 50.30)])
    >>> [round(float(s), 2) for s in straightness(line, [0.0, 700.0])]
    [1.0, 1.0]
    """
    cum = np.asarray(line.cum_m)
    xs, ys = np.asarray(line.xs), np.asarray(line.ys)
    mids = np.asarray(alongs_m, float)
    half = min(SCALE_M, line.length_m) / 2.0
    lo = np.clip(mids - half, 0.0, line.length_m - 2.0 * half)
    hi = lo + 2.0 * half
    chord = np.hypot(
        np.interp(hi, cum, xs) - np.interp(lo, cum, xs),
        np.interp(hi, cum, ys) - np.interp(lo, cum, ys),
    )
    result: FloatArray = np.clip(chord / max(2.0 * half, 1e-9), 0.0, 1.0)
    return result


class Shares:
    """For learning: how the travel time from any place along a run to its end splits over
    straightness tenths, from one table of expected times per piece."""

    __slots__ = ("_cum", "_piece_m")

    def __init__(self, piece_seconds: Sequence[float], piece_m: float, line: MetricLine):
        n = len(piece_seconds)
        s = straightness(line, [(k + 0.5) * piece_m for k in range(n)])
        bins = np.minimum((s * BINS).astype(int), BINS - 1)
        per_bin = np.zeros((n + 1, BINS))
        per_bin[np.arange(1, n + 1), bins] = piece_seconds
        self._cum = np.cumsum(per_bin, axis=0)  # row k: seconds per tenth over pieces < k
        self._piece_m = piece_m

    def at(self, along_m: float) -> tuple[float, ...]:
        """Seconds per straightness tenth from `along_m` to the end."""
        cum = self._cum
        n = len(cum) - 1  # pieces: at least one (ExpectedTimes makes them)
        f = min(max(along_m / self._piece_m, 0.0), float(n))
        k = min(int(f), n - 1)
        # The piece `along_m` is in counts for the part of it still ahead.
        behind = cum[k] + (cum[k + 1] - cum[k]) * (f - k)
        ahead = np.maximum(cum[-1] - behind, 0.0)
        return tuple(float(v) for v in ahead)


def _weighted_median(values: FloatArray, weights: FloatArray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, 0.5 * cum[-1])])
