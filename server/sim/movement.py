"""How a simulated courier moves along a leg: second by second, at the routing engine's
speeds give or take, stopping at some junctions (lights), with GPS noise on what it reports.
Pure: a seeded random generator in, samples out."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

METRES_PER_DEG_LAT = 110_540.0


@dataclass(frozen=True, slots=True)
class Sample:
    elapsed_s: float
    lon: float
    lat: float
    speed_mps: float
    heading_deg: float
    accuracy_m: float


def _metres_per_deg_lon(lat: float) -> float:
    return 111_320.0 * math.cos(math.radians(lat))


def drive(
    coords: list[list[float]],
    durations_s: list[float],
    rng: random.Random,
    *,
    interval_s: float = 2.0,
    light_chance: float = 0.06,
    noise_m: float = 4.0,
    start_fraction: float = 0.0,
) -> Iterator[Sample]:
    """Samples every `interval_s` from (a `start_fraction` of the way along) to the end."""
    pace = rng.uniform(0.85, 1.15)  # this courier, today: a bit faster or slower than routed
    elapsed = 0.0
    clock = 0.0  # time since the last sample
    start_index = int(start_fraction * (len(coords) - 1))
    for i in range(start_index, len(coords) - 1):
        (x0, y0), (x1, y1) = coords[i], coords[i + 1]
        kx = _metres_per_deg_lon(y0)
        dx, dy = (x1 - x0) * kx, (y1 - y0) * METRES_PER_DEG_LAT
        length_m = math.hypot(dx, dy)
        routed_s = max(durations_s[i + 1] - durations_s[i], 0.5)
        speed = max(1.5, length_m / routed_s / pace)
        heading = math.degrees(math.atan2(dx, dy)) % 360
        travelled = 0.0
        while travelled < length_m:
            step = min(interval_s - clock, (length_m - travelled) / speed)
            travelled += step * speed
            clock += step
            elapsed += step
            if clock >= interval_s - 1e-9:
                clock = 0.0
                f = travelled / length_m if length_m else 1.0
                yield _noisy(
                    x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, elapsed, speed, heading, rng, noise_m
                )
        if i + 2 < len(coords) and rng.random() < light_chance:  # a red light at this junction
            for _ in range(int(rng.uniform(15, 60) / interval_s)):
                elapsed += interval_s
                yield _noisy(x1, y1, elapsed, 0.0, heading, rng, noise_m * 0.5)


def dwell(
    lon: float, lat: float, seconds: float, rng: random.Random, interval_s: float = 2.0
) -> Iterator[Sample]:
    """Standing at a stop, handing over a parcel."""
    elapsed = 0.0
    while elapsed < seconds:
        elapsed += interval_s
        yield _noisy(lon, lat, elapsed, 0.0, 0.0, rng, 2.0)


def _noisy(
    lon: float,
    lat: float,
    elapsed: float,
    speed: float,
    heading: float,
    rng: random.Random,
    noise_m: float,
) -> Sample:
    east, north = rng.gauss(0, noise_m), rng.gauss(0, noise_m)
    accuracy = round(abs(rng.gauss(noise_m * 1.5, 2.0)) + 3.0, 1)
    return Sample(
        elapsed,
        lon + east / _metres_per_deg_lon(lat),
        lat + north / METRES_PER_DEG_LAT,
        round(max(0.0, speed + rng.gauss(0, 0.3 if speed else 0.0)), 2),
        round(heading, 1),
        accuracy,
    )
