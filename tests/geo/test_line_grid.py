"""The grid index and the batched place lookups of geo/line.py, computed with numpy for all
samples at once, hold exactly what the sample-by-sample definitions give."""

from __future__ import annotations

import math
import random

import numpy as np

from geo.line import _SAMPLE_M, CELL_M, MetricLine


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


def random_lines(seed: int, count: int) -> list[MetricLine]:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        coords = [(rng.uniform(-170, 170), rng.uniform(-70, 70))]
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
