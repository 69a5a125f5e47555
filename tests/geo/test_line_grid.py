"""The grid index and the batched place lookups of geo/line.py, computed with numpy for all
samples at once, hold exactly what the sample-by-sample definitions give; the plain loop
over a short window finds what the grid and the vectorised scan find."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from geo import line as line_module
from geo.line import _SAMPLE_M, CELL_M, Hit, MetricLine


def grid_by_sample(line: MetricLine) -> dict[tuple[int, int], tuple[int, ...]]:
    """The definition: each segment sampled every `_SAMPLE_M` (both ends), in every cell a
    sample falls in, segments ascending."""
    grid: dict[tuple[int, int], list[int]] = {}
    xs, ys = line.xs, line.ys
    for i in range(len(xs) - 1):
        steps = max(1, math.ceil(math.hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i]) / _SAMPLE_M))
        cells = set()
        for k in range(steps + 1):
            f = k / steps
            x = xs[i] + (xs[i + 1] - xs[i]) * f
            y = ys[i] + (ys[i + 1] - ys[i]) * f
            cells.add((math.floor(x / CELL_M), math.floor(y / CELL_M)))
        for cell in cells:
            grid.setdefault(cell, []).append(i)
    return {cell: tuple(segments) for cell, segments in grid.items()}


def random_lines(
    seed: int, count: int, near: tuple[float, float] | None = None
) -> list[MetricLine]:
    """Lines anywhere, or starting `near` a place (one cached frame or a few)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        coords = [near or (rng.uniform(-170, 170), rng.uniform(-70, 70))]
        for _ in range(rng.randint(1, 60)):
            if rng.random() < 0.1:
                coords.append(coords[-1])  # a segment of no length
                continue
            step = 0.02 * rng.random() ** 3  # from a few metres to ~2 km
            lon, lat = coords[-1]
            coords.append((lon + rng.uniform(-step, step), lat + rng.uniform(-step, step)))
        lines.append(MetricLine(coords, length_scale=rng.choice([1.0, 1.3])))
    return lines


def test_the_grid_is_the_sample_by_sample_one() -> None:
    for line in random_lines(1, 200):
        assert line._grid == grid_by_sample(line)


def test_points_at_are_point_at_and_direction_at() -> None:
    for line in random_lines(2, 50):
        along = np.linspace(-10.0, line.length_m + 10.0, 97)
        xs, ys, ux, uy = line.points_at(along)
        for k, a in enumerate(along.tolist()):
            assert (xs[k], ys[k]) == line.point_at(a)
            assert (ux[k], uy[k]) == line.direction_at(a)


def queries(line: MetricLine, rng: random.Random) -> list[tuple[float, ...]]:
    """Points near the line and far off it, windows of every size, with and without an
    expected place and a heading."""
    found: list[tuple[float, ...]] = []
    for _ in range(40):
        x, y = line.point_at(rng.uniform(0.0, line.length_m))
        spread = rng.choice([5.0, 60.0, 150.0, 2_000.0])
        lo = rng.uniform(-50.0, line.length_m)
        hi = lo + rng.choice([0.0, 30.0, 400.0, line.length_m])
        expected = rng.choice([math.nan, rng.uniform(0.0, line.length_m)])
        heading = rng.choice([math.nan, 1.0, -1.0])
        found.append(
            (x + rng.uniform(-spread, spread), y + rng.uniform(-spread, spread), lo, hi,
             expected, heading)
        )  # fmt: skip
    return found


def nearest(line: MetricLine, query: tuple[float, ...]) -> Hit:
    x, y, lo, hi, expected, heading = query
    return line.nearest(
        x, y, lo, hi,
        None if math.isnan(expected) else expected, 0.05,
        None if math.isnan(heading) else (heading, 0.0),
    )  # fmt: skip


def test_the_loop_over_a_short_window_finds_what_grid_and_scan_find(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(3)
    lines = [line for line in random_lines(4, 150, (11.9, 50.3)) if len(line.xs) <= 30]
    cases = [(line, query) for line in lines for query in queries(line, rng)]
    looped = [nearest(line, query) for line, query in cases]
    monkeypatch.setattr(line_module, "_LOOP_MAX_SEGMENTS", 0)
    monkeypatch.setattr(line_module, "_SCAN_LOOP_MAX_SEGMENTS", 0)
    assert len(cases) > 1_500
    for (line, query), hit in zip(cases, looped, strict=True):
        other = nearest(line, query)
        # Equal scores (a vertex two segments share) may name either segment.
        assert hit.along_m == pytest.approx(other.along_m, abs=1e-6), query
        assert hit.offset_m == pytest.approx(other.offset_m, abs=1e-6), query
