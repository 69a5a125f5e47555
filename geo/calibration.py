"""The arrival window: how wrong past ETAs were, by how far off the arrival was.

Learned from pairs (predicted remaining seconds, actual remaining seconds), e.g. every ETA
the tracker published on past runs and when the courier really arrived. The error is kept as
a ratio of (actual + 30 s) / (predicted + 30 s), so it scales with the horizon but stays sane
near arrival; its quantiles per bucket of predicted time give the window.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMAT_VERSION = 1
BUCKET_EDGES_S = (60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0)
SMOOTH_S = 30.0
LOW_Q, MID_Q, HIGH_Q = 0.10, 0.50, 0.90
# A bucket with fewer samples borrows the quantiles of all samples together.
MIN_SAMPLES = 30


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per bucket of predicted remaining time: (low, median, high) error ratio quantiles.

    >>> cal = Calibration.default()
    >>> lo, hi = cal.window_s(600.0)
    >>> lo < 600.0 < hi
    True
    """

    edges_s: tuple[float, ...]
    ratios: tuple[tuple[float, float, float], ...]  # one more than edges_s
    samples: int = 0

    @classmethod
    def default(cls) -> Calibration:
        """An uncalibrated guess (typical urban driving spread), until history exists."""
        return cls(BUCKET_EDGES_S, ((0.75, 1.0, 1.45),) * (len(BUCKET_EDGES_S) + 1))

    def _bucket(self, eta_s: float) -> tuple[float, float, float]:
        return self.ratios[bisect_right(self.edges_s, eta_s)]

    def window_s(self, eta_s: float, widen: float = 1.0) -> tuple[float, float]:
        """(earliest, latest) remaining seconds around a predicted `eta_s`. `widen` > 1
        stretches the window for estimates the history does not cover (no route)."""
        lo, _, hi = self._bucket(eta_s)
        base = eta_s + SMOOTH_S
        earliest = base * (1.0 - (1.0 - lo) * widen) - SMOOTH_S
        latest = base * (1.0 + (hi - 1.0) * widen) - SMOOTH_S
        return max(0.0, min(earliest, eta_s)), max(latest, eta_s)

    def window_and_spread_s(self, eta_s: float, widen: float = 1.0) -> tuple[float, float, float]:
        """`window_s` and `spread` (widened) together, from one bucket lookup."""
        lo, _, hi = self.ratios[bisect_right(self.edges_s, eta_s)]
        base = eta_s + SMOOTH_S
        earliest = base * (1.0 - (1.0 - lo) * widen) - SMOOTH_S
        latest = base * (1.0 + (hi - 1.0) * widen) - SMOOTH_S
        return max(0.0, min(earliest, eta_s)), max(latest, eta_s), (hi - lo) * widen

    def spread(self, eta_s: float) -> float:
        """Relative width of the window: (high - low) ratio."""
        lo, _, hi = self._bucket(eta_s)
        return hi - lo

    @classmethod
    def learn(
        cls,
        samples: Iterable[tuple[float, float]],
        weights: Sequence[float] | None = None,
        edges_s: tuple[float, ...] = BUCKET_EDGES_S,
    ) -> Calibration:
        """Quantiles of actual/predicted per bucket from (predicted_s, actual_s) pairs.

        `weights` lets a caller count each trip once rather than each fix.
        """
        pairs = np.asarray(list(samples), float).reshape(-1, 2)
        if len(pairs) == 0:
            return cls.default()
        w = np.ones(len(pairs)) if weights is None else np.asarray(weights, float)
        predicted = np.maximum(pairs[:, 0], 0.0)
        ratio = (np.maximum(pairs[:, 1], 0.0) + SMOOTH_S) / (predicted + SMOOTH_S)
        buckets = np.searchsorted(np.asarray(edges_s), predicted, side="right")
        pooled = _quantiles(ratio, w)
        ratios = []
        for b in range(len(edges_s) + 1):
            mask = buckets == b
            ratios.append(_quantiles(ratio[mask], w[mask]) if mask.sum() >= MIN_SAMPLES else pooled)
        return cls(tuple(edges_s), tuple(ratios), len(pairs))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "edges_s": list(self.edges_s),
            "ratios": [list(r) for r in self.ratios],
            "samples": self.samples,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Calibration:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"calibration format {data.get('version')!r} is not supported")
        edges = tuple(float(e) for e in data["edges_s"])
        ratios = tuple((float(a), float(b), float(c)) for a, b, c in data["ratios"])
        if len(ratios) != len(edges) + 1:
            raise ValueError("calibration needs one ratio triple more than bucket edges")
        return cls(edges, ratios, int(data.get("samples", 0)))


def _quantiles(
    values: np.ndarray[Any, Any], weights: np.ndarray[Any, Any]
) -> tuple[float, float, float]:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    lo, mid, hi = (float(np.interp(q, cum, v)) for q in (LOW_Q, MID_Q, HIGH_Q))
    return lo, mid, hi
