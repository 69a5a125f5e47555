"""A leg routed on the road network, as a route with per-vertex times.

Pure: the path's edges (each oriented as driven, with its travel time) come from the
database (server/store/roads.py); this joins them into one line from the courier's (or
previous stop's) point to the stop, with cumulative seconds at each vertex. The stretch
from a point to the road vertex it was snapped to is a straight connector at
`connector_speed_mps`.

>>> r = leg_route((0.0, 0.0), (0.002, 0.0), [([(0.0, 0.0), (0.002, 0.0)], 20.0, 222.0)])
>>> r["properties"]["durations_s"], r["properties"]["length_m"]
([0.0, 20.0], 222.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geo.distance import haversine_m

CONNECTOR_SPEED_MPS = 3.0  # walking the car/bike from the road to the door, roughly
NETWORK_SOURCE = "network"  # properties.source of a leg routed here


def leg_route(
    start: tuple[float, float],
    end: tuple[float, float],
    pieces: Sequence[tuple[Sequence[tuple[float, float]], float, float]],
    connector_speed_mps: float = CONNECTOR_SPEED_MPS,
    profile: str = "car",
) -> dict[str, Any]:
    """A GeoJSON Feature: `start`, the pieces' vertices (coords, cost_s, length_m), `end`;
    `properties.durations_s` cumulative, `length_m`, `duration_s`, `source: "network"`."""
    coords: list[tuple[float, float]] = [start]
    durations: list[float] = [0.0]
    length_m = 0.0

    def add(point: tuple[float, float], seconds: float, metres: float) -> None:
        nonlocal length_m
        if point == coords[-1]:
            return
        coords.append(point)
        durations.append(durations[-1] + seconds)
        length_m += metres

    for line, cost_s, piece_m in pieces:
        first = line[0]
        gap_m = haversine_m(*coords[-1], *first)
        add(first, gap_m / connector_speed_mps, gap_m)
        steps = [haversine_m(*line[i], *line[i + 1]) for i in range(len(line) - 1)]
        total = sum(steps) or 1.0
        for point, step_m in zip(line[1:], steps, strict=True):
            add(point, cost_s * step_m / total, piece_m * step_m / total)
    gap_m = haversine_m(*coords[-1], *end)
    add(end, gap_m / connector_speed_mps, gap_m)
    if len(coords) < 2:  # start and end at one place: a line needs two points
        coords.append((end[0], end[1] + 1e-6))
        durations.append(durations[-1])
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
        "properties": {
            "source": NETWORK_SOURCE,
            "profile": profile,
            "durations_s": [round(d, 1) for d in durations],
            "length_m": round(length_m, 1),
            "duration_s": round(durations[-1], 1),
        },
    }


def is_network_leg(route: object) -> bool:
    """A route this server routed (as opposed to one a client sent)."""
    return (
        isinstance(route, dict)
        and isinstance(route.get("properties"), dict)
        and route["properties"].get("source") == NETWORK_SOURCE
    )


def leg_start(route: object) -> tuple[float, float] | None:
    """The first vertex of a GeoJSON Feature/LineString route, if it is one."""
    if not isinstance(route, dict):
        return None
    geometry = route.get("geometry", route)
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not coords:
        return None
    return float(coords[0][0]), float(coords[0][1])
