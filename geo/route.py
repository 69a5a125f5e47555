"""A route as clients send it: GeoJSON or an encoded polyline, with optional durations.

Parsing is strict and every `RouteError` says what to fix. Coordinates are (lon, lat).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polyline as polyline_codec

from geo.distance import haversine_m

MAX_VERTICES = 20_000
DEFAULT_DETOUR_FACTOR = 1.3
# Encoded polylines use the printable ASCII range '?'..'~' only.
_POLYLINE_CHARS = frozenset(chr(c) for c in range(63, 127))


class RouteError(ValueError):
    """A route could not be read; the message names the problem and the expected shape."""


@dataclass(frozen=True, slots=True)
class Route:
    """A path to drive, (lon, lat) vertices in order.

    `durations_s`, when a routing engine supplied them, are cumulative seconds at each vertex.
    A `provisional` route is a guess (a straight line) whose lengths are stretched by
    `detour_factor`; ETAs on it are marked low-confidence.
    """

    coords: tuple[tuple[float, float], ...]
    durations_s: tuple[float, ...] | None = None
    provisional: bool = False
    detour_factor: float = 1.0

    def __post_init__(self) -> None:
        _check_coords(self.coords)
        if self.durations_s is not None:
            _check_durations(self.durations_s, len(self.coords))
        if not (math.isfinite(self.detour_factor) and 1.0 <= self.detour_factor <= 5.0):
            raise RouteError(f"detour_factor {self.detour_factor} must be within 1..5")

    @property
    def start(self) -> tuple[float, float]:
        return self.coords[0]

    @property
    def end(self) -> tuple[float, float]:
        return self.coords[-1]

    def to_geojson(self) -> dict[str, Any]:
        """A GeoJSON Feature for clients; durations and the provisional flag in properties."""
        properties: dict[str, Any] = {"provisional": self.provisional}
        if self.durations_s is not None:
            properties["durations_s"] = list(self.durations_s)
        return {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in self.coords]},
            "properties": properties,
        }


def provisional_route(
    start: tuple[float, float],
    destination: tuple[float, float],
    detour_factor: float = DEFAULT_DETOUR_FACTOR,
) -> Route:
    """A straight line from `start` to `destination`, for when no routing engine answered.

    >>> r = provisional_route((11.90, 50.30), (11.92, 50.31))
    >>> r.provisional, r.detour_factor, len(r.coords)
    (True, 1.3, 2)
    """
    if haversine_m(*start, *destination) < 1.0:
        # A zero-length line has no direction to project onto; nudge the start ~1 m south.
        start = (start[0], start[1] - 1e-5)
    return Route((start, destination), provisional=True, detour_factor=detour_factor)


def concat_routes(routes: Sequence[Route]) -> Route:
    """Legs driven one after another, as one route (the run built from per-order legs).

    A leg's first vertex is dropped when it repeats the previous leg's last one. Durations
    are kept only if every leg has them, each leg's offset by the time before it.
    """
    if not routes:
        raise RouteError("a run needs at least one leg")
    coords: list[tuple[float, float]] = []
    durations: list[float] | None = [] if all(r.durations_s for r in routes) else None
    offset_s = 0.0
    for route in routes:
        leg_coords = list(route.coords)
        leg_durations = list(route.durations_s or ())
        base_s = leg_durations[0] if leg_durations else 0.0
        if coords and leg_coords[0] == coords[-1]:
            leg_coords, leg_durations = leg_coords[1:], leg_durations[1:]
        coords.extend(leg_coords)
        if durations is not None:
            durations.extend(offset_s + d - base_s for d in leg_durations)
            offset_s = durations[-1] if durations else offset_s
    if len(coords) > MAX_VERTICES:
        raise RouteError(f"the legs together have {len(coords)} vertices, limit {MAX_VERTICES}")
    provisional = any(r.provisional for r in routes)
    detour = max(r.detour_factor for r in routes)
    return Route(tuple(coords), tuple(durations) if durations else None, provisional, detour)


def parse_route(value: object) -> Route:
    """Read a route from any accepted shape.

    - a GeoJSON LineString `{"type": "LineString", "coordinates": [[lon, lat], ...]}`;
    - a GeoJSON Feature with such a geometry and optional `properties.durations_s`;
    - an encoded polyline string (precision 5);
    - `{"polyline": str, "precision": 5 | 6, "durations_s": [...]}`.

    >>> parse_route("_p~iF~ps|U_ulLnnqC_mqNvxq`@").coords[0]
    (-120.2, 38.5)
    >>> parse_route({"type": "LineString", "coordinates": [[1, 2]]})
    Traceback (most recent call last):
    ...
    geo.route.RouteError: a route needs at least 2 points, got 1
    """
    if isinstance(value, str):
        return Route(_decode_polyline(value, 5))
    if not isinstance(value, Mapping):
        raise RouteError(
            "route must be a GeoJSON LineString or Feature, an encoded polyline string, "
            'or {"polyline": ..., "precision": 5|6}'
        )
    if "polyline" in value:
        precision = value.get("precision", 5)
        if precision not in (5, 6) or isinstance(precision, bool):
            raise RouteError(f"precision must be 5 or 6, got {precision!r}")
        encoded = value["polyline"]
        if not isinstance(encoded, str):
            raise RouteError("polyline must be a string")
        coords = _decode_polyline(encoded, int(precision))
        return Route(coords, _read_durations(value.get("durations_s"), len(coords)))
    kind = value.get("type")
    if kind == "Feature":
        geometry = value.get("geometry")
        if not isinstance(geometry, Mapping) or geometry.get("type") != "LineString":
            raise RouteError("a route Feature's geometry must be a LineString")
        coords = _read_coordinates(geometry.get("coordinates"))
        properties = value.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise RouteError("Feature properties must be an object")
        return Route(coords, _read_durations(properties.get("durations_s"), len(coords)))
    if kind == "LineString":
        return Route(_read_coordinates(value.get("coordinates")))
    raise RouteError(f"unsupported GeoJSON type {kind!r}: send a LineString or a Feature")


def _decode_polyline(encoded: str, precision: int) -> tuple[tuple[float, float], ...]:
    if len(encoded) > MAX_VERTICES * 12:
        raise RouteError(f"polyline is too long: limit {MAX_VERTICES} vertices")
    if not set(encoded) <= _POLYLINE_CHARS:
        raise RouteError("polyline has characters outside an encoded polyline's alphabet")
    try:
        points = polyline_codec.decode(encoded, precision)
    except (IndexError, ValueError) as exc:
        raise RouteError(f"polyline is truncated or malformed ({exc})") from None
    return tuple((float(lon), float(lat)) for lat, lon in points)


def _read_coordinates(raw: object) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise RouteError("coordinates must be an array of [lon, lat] positions")
    if len(raw) > MAX_VERTICES:
        raise RouteError(f"route has {len(raw)} vertices, limit {MAX_VERTICES}")
    coords = []
    for i, position in enumerate(raw):
        if (
            # list and float first: a long run's legs are parsed by the thousand per change
            not (type(position) is list or _is_sequence(position))
            or len(position) not in (2, 3)
            or not all(type(v) is float or _is_number(v) for v in position)
        ):
            raise RouteError(f"coordinates[{i}] must be [lon, lat] numbers, got {position!r}")
        coords.append((float(position[0]), float(position[1])))
    return tuple(coords)


def _read_durations(raw: object, n: int) -> tuple[float, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise RouteError("durations_s must be an array of cumulative seconds, one per vertex")
    if not all(_is_number(v) for v in raw):
        raise RouteError("durations_s must hold numbers only")
    durations = tuple(float(v) for v in raw)
    _check_durations(durations, n)
    return durations


def _check_coords(coords: Sequence[tuple[float, float]]) -> None:
    if len(coords) < 2:
        raise RouteError(f"a route needs at least 2 points, got {len(coords)}")
    if len(coords) > MAX_VERTICES:
        raise RouteError(f"route has {len(coords)} vertices, limit {MAX_VERTICES}")
    for i, (lon, lat) in enumerate(coords):
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise RouteError(f"vertex {i} is not a finite number: ({lon}, {lat})")
        if not -90.0 <= lat <= 90.0:
            raise RouteError(f"vertex {i} has lat {lat} outside -90..90 (is it [lon, lat]?)")
        if not -180.0 <= lon <= 180.0:
            raise RouteError(f"vertex {i} has lon {lon} outside -180..180")
    if all(c == coords[0] for c in coords):
        raise RouteError("all the route's points are the same place: it has no length")


def _check_durations(durations: Sequence[float], n: int) -> None:
    if len(durations) != n:
        raise RouteError(f"durations_s has {len(durations)} values for {n} vertices")
    previous = 0.0
    for i, d in enumerate(durations):
        if not math.isfinite(d) or d < 0:
            raise RouteError(f"durations_s[{i}] = {d} must be a finite number >= 0")
        if d < previous:
            raise RouteError(f"durations_s must not decrease: [{i}] = {d} < {previous}")
        previous = d


def _is_sequence(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
