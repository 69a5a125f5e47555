"""A route projected once into metres, with cumulative lengths and a grid index.

Locating a fix is the hot path (every fix of every courier), so the vertices are projected
once with pyproj and each query looks only at the segments registered in the grid cells
around the fix and inside an along-route window; plain float arithmetic on Python lists
beats calling shapely per fix by an order of magnitude. Queries that find nothing near
(an off-route courier) fall back to a vectorised scan of the window.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from geo.crs import FloatArray, LocalFrame, local_frame
from geo.frozen import maker

CELL_M = 50.0
# Segments are registered at samples this far apart, so a query must reach this much further.
_SAMPLE_M = CELL_M / 2
# Fixes further than this from every segment in the window are found by a slower scan.
SEARCH_RADIUS_M = 120.0
# A window of this many segments or fewer is searched by a plain loop over them: cheaper
# than the grid's rings of cells (an off-route fix looks in 49 of them, then scans anyway).
_LOOP_MAX_SEGMENTS = 8
# A scan over this many segments or fewer is a plain loop too: numpy's per-call overhead (a
# dozen array operations, ~40 us) is most of a short window's cost.
_SCAN_LOOP_MAX_SEGMENTS = 24


@dataclass(frozen=True, slots=True)
class Hit:
    """Where a point projects on the line: `along_m` from the start, `offset_m` away from it."""

    along_m: float
    offset_m: float
    segment: int


_hit = maker(Hit)  # one or two per fix: see geo/frozen.py


class MetricLine:
    """A polyline in a local metric frame. `length_scale` stretches along-distances only
    (a provisional straight line stands for a road `length_scale` times longer).

    >>> line = MetricLine([(11.90, 50.30), (11.91, 50.30), (11.91, 50.31)])
    >>> round(line.length_m)
    1825
    >>> x, y = line.to_xy(11.905, 50.3002)
    >>> hit = line.nearest(x, y, 0.0, line.length_m)
    >>> round(hit.along_m), round(hit.offset_m)
    (356, 22)
    """

    __slots__ = (
        "_grid",
        "_seg_m",
        "_ux",
        "_uy",
        "cum_m",
        "frame",
        "length_m",
        "length_scale",
        "xs",
        "ys",
    )

    def __init__(
        self,
        coords: Sequence[tuple[float, float]],
        frame: LocalFrame | None = None,
        length_scale: float = 1.0,
    ) -> None:
        lons = np.array([c[0] for c in coords], float)
        lats = np.array([c[1] for c in coords], float)
        if frame is None:
            frame = local_frame(float((lons.min() + lons.max()) / 2), float(np.median(lats)))
        self.frame = frame
        self.length_scale = length_scale
        xs, ys = frame.to_xy_many(lons, lats)
        dx, dy = np.diff(xs), np.diff(ys)
        seg = np.hypot(dx, dy)
        safe = np.where(seg > 0, seg, 1.0)
        # Tuples, not lists: a server holds a line per courier for hours, and tuples of
        # numbers drop out of the garbage collector's sight (lists never do).
        self.xs: tuple[float, ...] = tuple(xs.tolist())
        self.ys: tuple[float, ...] = tuple(ys.tolist())
        self._seg_m: tuple[float, ...] = tuple(seg.tolist())
        self._ux: tuple[float, ...] = tuple((dx / safe).tolist())
        self._uy: tuple[float, ...] = tuple((dy / safe).tolist())
        self.cum_m: tuple[float, ...] = tuple(
            np.concatenate(([0.0], np.cumsum(seg) * length_scale)).tolist()
        )
        self.length_m: float = self.cum_m[-1]
        self._grid = self._build_grid()

    def _build_grid(self) -> dict[tuple[int, int], tuple[int, ...]]:
        """Each cell's segments, ascending: a segment is in every cell one of its samples
        (`_SAMPLE_M` apart, both ends included) falls in. Computed for all samples at once
        (the same float operations, in the same order, as sample by sample), then grouped."""
        if not self._seg_m:
            return {}
        xs, ys = np.asarray(self.xs), np.asarray(self.ys)
        steps = np.maximum(np.ceil(np.asarray(self._seg_m) / _SAMPLE_M), 1.0).astype(np.int64)
        counts = steps + 1
        seg = np.repeat(np.arange(len(steps)), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        f = (np.arange(len(seg)) - first) / steps[seg]
        x0, y0 = xs[seg], ys[seg]
        cx = np.floor((x0 + (xs[seg + 1] - x0) * f) / CELL_M).astype(np.int64)
        cy = np.floor((y0 + (ys[seg + 1] - y0) * f) / CELL_M).astype(np.int64)
        order = np.lexsort((seg, cy, cx))
        cx, cy, seg = cx[order], cy[order], seg[order]
        new_cell = np.ones(len(seg), bool)
        new_cell[1:] = (cx[1:] != cx[:-1]) | (cy[1:] != cy[:-1])
        keep = new_cell.copy()
        keep[1:] |= seg[1:] != seg[:-1]  # a segment once per cell
        cx, cy, seg, new_cell = cx[keep], cy[keep], seg[keep], new_cell[keep]
        starts = np.flatnonzero(new_cell)
        bounds = [*starts.tolist(), len(seg)]
        segments = seg.tolist()
        cells = zip(cx[starts].tolist(), cy[starts].tolist(), strict=True)
        spans = pairwise(bounds)
        return {cell: tuple(segments[a:b]) for cell, (a, b) in zip(cells, spans, strict=True)}

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        return self.frame.to_xy(lon, lat)

    def point_at(self, along_m: float) -> tuple[float, float]:
        """The (x, y) at `along_m`, clamped to the line."""
        i = min(max(bisect_right(self.cum_m, along_m) - 1, 0), len(self._seg_m) - 1)
        t = min(max((along_m - self.cum_m[i]) / self.length_scale, 0.0), self._seg_m[i])
        return self.xs[i] + self._ux[i] * t, self.ys[i] + self._uy[i] * t

    def points_at(
        self, along_m: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """`point_at` and `direction_at` for many places at once: x, y, ux, uy (the same
        float operations as one by one)."""
        cum = np.asarray(self.cum_m)
        i = np.clip(np.searchsorted(cum, along_m, side="right") - 1, 0, len(self._seg_m) - 1)
        seg = np.asarray(self._seg_m)[i]
        t = np.minimum(np.maximum((along_m - cum[i]) / self.length_scale, 0.0), seg)
        ux, uy = np.asarray(self._ux)[i], np.asarray(self._uy)[i]
        return np.asarray(self.xs)[i] + ux * t, np.asarray(self.ys)[i] + uy * t, ux, uy

    def direction_at(self, along_m: float) -> tuple[float, float]:
        """Unit vector of travel at `along_m`."""
        i = min(max(bisect_right(self.cum_m, along_m) - 1, 0), len(self._seg_m) - 1)
        return self._ux[i], self._uy[i]

    def nearest(
        self,
        x: float,
        y: float,
        lo_m: float,
        hi_m: float,
        expected_m: float | None = None,
        along_weight: float = 0.05,
        heading: tuple[float, float] | None = None,
        heading_penalty_m: float = 40.0,
        radius_m: float = SEARCH_RADIUS_M,
    ) -> Hit:
        """The best place for (x, y) on the line between `lo_m` and `hi_m`.

        "Best" is the smallest offset, plus `along_weight` per metre away from `expected_m`
        (where the courier should be by now: on a street driven twice, the pass the courier
        is on) and `heading_penalty_m` when the travel direction opposes `heading` (a unit
        vector: out-and-back on one street).
        """
        lo_m, hi_m = max(lo_m, 0.0), min(hi_m, self.length_m)
        if hi_m < lo_m:
            lo_m = hi_m
        i0, i1 = self._segment_range(lo_m, hi_m)
        if 0 < i1 - i0 <= _LOOP_MAX_SEGMENTS:
            return self._nearest_in_range(x, y, i0, i1, lo_m, hi_m, expected_m, along_weight,
                                          heading, heading_penalty_m, radius_m)  # fmt: skip
        hit = self._nearest_in_grid(
            x, y, lo_m, hi_m, expected_m, along_weight, heading, heading_penalty_m, radius_m
        )
        if hit is not None:
            return hit
        return self._nearest_by_scan(
            x, y, lo_m, hi_m, expected_m, along_weight, heading, heading_penalty_m
        )

    def _nearest_in_grid(
        self,
        x: float,
        y: float,
        lo_m: float,
        hi_m: float,
        expected_m: float | None,
        along_weight: float,
        heading: tuple[float, float] | None,
        heading_penalty_m: float,
        radius_m: float,
    ) -> Hit | None:
        """Search rings of cells outwards; stop once no unseen segment could score better."""
        cx, cy = math.floor(x / CELL_M), math.floor(y / CELL_M)
        grid, cum, scored = self._grid, self.cum_m, self._scored
        seen: set[int] = set()
        best: tuple[float, float, int] | None = None  # a Hit's fields: one Hit is made, at the end
        best_score = math.inf
        max_reach = math.ceil((radius_m + _SAMPLE_M / 2) / CELL_M)
        for reach in range(max_reach + 1):
            for gx in range(cx - reach, cx + reach + 1):
                edge_x = gx in (cx - reach, cx + reach)
                for gy in range(cy - reach, cy + reach + 1):
                    if not edge_x and gy not in (cy - reach, cy + reach):
                        continue  # inside the ring: searched already
                    for i in grid.get((gx, gy), ()):
                        if i in seen or cum[i + 1] < lo_m or cum[i] > hi_m:
                            continue
                        seen.add(i)
                        score, along, offset = scored(
                            x, y, i, lo_m, hi_m, expected_m, along_weight, heading,
                            heading_penalty_m,
                        )  # fmt: skip
                        if offset <= radius_m and score < best_score:
                            best_score, best = score, (along, offset, i)
            # Every segment within this distance has a sample in the rings searched so far.
            if best_score <= reach * CELL_M - _SAMPLE_M / 2:
                break
        return None if best is None else _hit(*best)

    def _nearest_by_scan(
        self,
        x: float,
        y: float,
        lo_m: float,
        hi_m: float,
        expected_m: float | None,
        along_weight: float,
        heading: tuple[float, float] | None,
        heading_penalty_m: float,
    ) -> Hit:
        i0, i1 = self._segment_range(lo_m, hi_m)
        if 0 < i1 - i0 <= _SCAN_LOOP_MAX_SEGMENTS:
            return self._nearest_in_range(x, y, i0, i1, lo_m, hi_m, expected_m, along_weight,
                                          heading, heading_penalty_m, math.inf)  # fmt: skip
        along, offset, _ = self._project_range(x, y, i0, i1, lo_m, hi_m)
        score = offset.copy()
        if expected_m is not None:
            score += along_weight * np.abs(along - expected_m)
        if heading is not None:
            dots = heading[0] * np.asarray(self._ux[i0:i1]) + heading[1] * np.asarray(
                self._uy[i0:i1]
            )
            score += np.where(dots < -0.3, heading_penalty_m, 0.0)
        k = int(np.argmin(score))
        return Hit(float(along[k]), float(offset[k]), i0 + k)

    def _nearest_in_range(
        self,
        x: float,
        y: float,
        i0: int,
        i1: int,
        lo_m: float,
        hi_m: float,
        expected_m: float | None,
        along_weight: float,
        heading: tuple[float, float] | None,
        heading_penalty_m: float,
        radius_m: float,
    ) -> Hit:
        """The grid's search then `_nearest_by_scan`'s over a few segments, one at a time:
        the best within `radius_m`, else the best of all (the same
        arithmetic as `_project_range`; the first of equal scores wins, as with argmin)."""
        scored = self._scored
        # A Hit's fields, as tuples: the one Hit returned is made at the end.
        best = near = (0.0, 0.0, i0)
        best_score = near_score = math.inf
        for i in range(i0, i1):
            score, along, offset = scored(x, y, i, lo_m, hi_m, expected_m, along_weight,
                                          heading, heading_penalty_m)  # fmt: skip
            if score < best_score or i == i0:
                best_score, best = score, (along, offset, i)
            if offset <= radius_m and score < near_score:
                near_score, near = score, (along, offset, i)
        return _hit(*near) if near_score < math.inf else _hit(*best)

    def _scored(
        self,
        x: float,
        y: float,
        i: int,
        lo_m: float,
        hi_m: float,
        expected_m: float | None,
        along_weight: float,
        heading: tuple[float, float] | None,
        heading_penalty_m: float,
    ) -> tuple[float, float, float]:
        """Segment i's score for (x, y) within lo_m..hi_m, with the along and offset of the
        place on it (`_project_range`'s arithmetic, for one segment)."""
        cum_i, seg_i, ux, uy = self.cum_m[i], self._seg_m[i], self._ux[i], self._uy[i]
        px, py = x - self.xs[i], y - self.ys[i]
        t_lo = (lo_m - cum_i) / self.length_scale
        t_lo = t_lo if t_lo > 0.0 else 0.0
        t_hi = (hi_m - cum_i) / self.length_scale
        t_hi = seg_i if seg_i < t_hi else t_hi
        t_hi = t_hi if t_hi > t_lo else t_lo
        t = px * ux + py * uy
        t = t_hi if t > t_hi else (t_lo if t < t_lo else t)
        offset = math.hypot(px - ux * t, py - uy * t)
        along = cum_i + t * self.length_scale
        score = offset
        if expected_m is not None:
            score += along_weight * abs(along - expected_m)
        if heading is not None and heading[0] * ux + heading[1] * uy < -0.3:
            score += heading_penalty_m
        return score, along, offset

    def place(
        self,
        x: float,
        y: float,
        from_m: float = 0.0,
        tolerance_m: float = 25.0,
        last_pass: bool = False,
    ) -> Hit:
        """Where a stop at (x, y) lies, at or after `from_m`: the first pass that comes within
        `tolerance_m` of the closest approach, so on an out-and-back route a stop is placed on
        the pass that reaches it first after the previous stop. With `last_pass`, the last
        such pass instead (a run's final stop on a route that loops back past it).
        """
        i0, i1 = self._segment_range(from_m, self.length_m)
        along, offset, interior = self._project_range(x, y, i0, i1, from_m, self.length_m)
        limit = float(offset.min()) + tolerance_m
        n = len(offset)
        for k in reversed(range(n)) if last_pass else range(n):
            if offset[k] > limit:
                continue
            # A local minimum of the distance along the line: an interior foot of the
            # perpendicular, or a corner no worse than its neighbours.
            if interior[k] or (
                (k == 0 or offset[k] <= offset[k - 1])
                and (k == n - 1 or offset[k] <= offset[k + 1])
            ):
                return Hit(float(along[k]), float(offset[k]), i0 + k)
        k = int(np.argmin(offset))
        return Hit(float(along[k]), float(offset[k]), i0 + k)

    def _segment_range(self, lo_m: float, hi_m: float) -> tuple[int, int]:
        n = len(self._seg_m)
        i0 = min(max(bisect_right(self.cum_m, lo_m) - 1, 0), n - 1)
        i1 = min(max(bisect_right(self.cum_m, hi_m), i0 + 1), n)
        return i0, i1

    def _project_range(
        self, x: float, y: float, i0: int, i1: int, lo_m: float, hi_m: float
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.bool_]]:
        """Along, offset and whether the foot is strictly inside its segment, per segment."""
        xs = np.asarray(self.xs[i0:i1])
        ys = np.asarray(self.ys[i0:i1])
        ux = np.asarray(self._ux[i0:i1])
        uy = np.asarray(self._uy[i0:i1])
        cum = np.asarray(self.cum_m[i0:i1])
        seg = np.asarray(self._seg_m[i0:i1])
        scale = self.length_scale
        px, py = x - xs, y - ys
        t_lo = np.maximum(0.0, (lo_m - cum) / scale)
        t_hi = np.maximum(np.minimum(seg, (hi_m - cum) / scale), t_lo)
        t = np.clip(px * ux + py * uy, t_lo, t_hi)
        offset = np.hypot(px - ux * t, py - uy * t)
        interior = (t > t_lo + 1e-9) & (t < t_hi - 1e-9)
        return cum + t * scale, offset, interior
