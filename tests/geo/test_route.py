"""Reading routes from clients, and the provisional straight-line route."""

from __future__ import annotations

import math

import polyline
import pytest

from geo.distance import haversine_m
from geo.line import MetricLine
from geo.route import (
    MAX_VERTICES,
    Route,
    RouteError,
    concat_routes,
    parse_route,
    provisional_route,
)

HOF = [(11.9258, 50.3019), (11.9236, 50.3031), (11.9195, 50.3047)]


def test_geojson_linestring_and_feature_with_durations() -> None:
    line = parse_route({"type": "LineString", "coordinates": [list(c) for c in HOF]})
    assert line.coords == tuple(HOF) and line.durations_s is None
    feature = parse_route(
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": [list(c) for c in HOF]},
            "properties": {"durations_s": [0, 20.5, 41]},
        }
    )
    assert feature.durations_s == (0.0, 20.5, 41.0)


@pytest.mark.parametrize("precision", [5, 6])
def test_polyline_precision_5_and_6(precision: int) -> None:
    encoded = polyline.encode([(lat, lon) for lon, lat in HOF], precision)
    route = parse_route({"polyline": encoded, "precision": precision, "durations_s": [0, 9, 30]})
    for (lon, lat), (elon, elat) in zip(route.coords, HOF, strict=True):
        assert lon == pytest.approx(elon, abs=10**-precision)
        assert lat == pytest.approx(elat, abs=10**-precision)
    assert route.durations_s == (0.0, 9.0, 30.0)


def test_reading_precision_6_as_5_lands_far_away() -> None:
    """The precision matters: the same string read at the wrong one is 10x off (or invalid)."""
    encoded = polyline.encode([(lat, lon) for lon, lat in HOF], 6)
    with pytest.raises(RouteError, match="outside"):
        parse_route(encoded)  # a bare string is precision 5: lat 503 is out of range


def test_bare_polyline_string_is_precision_5() -> None:
    encoded = polyline.encode([(lat, lon) for lon, lat in HOF], 5)
    assert parse_route(encoded).coords[0] == pytest.approx(HOF[0])


LINE = {"type": "LineString"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "route must be a GeoJSON"),
        ({**LINE, "coordinates": [[11.9, 50.3]]}, "at least 2 points"),
        ({**LINE, "coordinates": []}, "at least 2 points"),
        ({**LINE, "coordinates": "11.9,50.3"}, "array of \\[lon, lat\\]"),
        ({**LINE, "coordinates": [[11.9, 50.3], [11.9]]}, r"coordinates\[1\]"),
        ({**LINE, "coordinates": [[11.9, 50.3], ["a", 50.3]]}, r"coordinates\[1\]"),
        ({**LINE, "coordinates": [[11.9, 50.3], [True, 50.3]]}, r"coordinates\[1\]"),
        ({**LINE, "coordinates": [[11.9, 50.3], [11.9, 91.0]]}, "lat 91.0 outside"),
        ({**LINE, "coordinates": [[50.3, 11.9], [181.0, 11.9]]}, "lon 181.0 outside"),
        ({**LINE, "coordinates": [[11.9, 50.3], [math.nan, 50.3]]}, "not a finite"),
        ({**LINE, "coordinates": [[11.9, 50.3], [11.9, 50.3]]}, "no length"),
        ({**LINE, "coordinates": [[11.9, 50.3]] * (MAX_VERTICES + 1)}, "limit 20000"),
        ({"type": "Point", "coordinates": [11.9, 50.3]}, "unsupported GeoJSON type"),
        ({"type": "Feature", "geometry": {"type": "Point"}}, "must be a LineString"),
        (
            {
                "type": "Feature",
                "geometry": {**LINE, "coordinates": [[11.9, 50.3], [11.91, 50.3]]},
                "properties": {"durations_s": [0, 5, 9]},
            },
            "3 values for 2 vertices",
        ),
        (
            {
                "type": "Feature",
                "geometry": {**LINE, "coordinates": [[11.9, 50.3], [11.91, 50.3]]},
                "properties": {"durations_s": [10, 5]},
            },
            "must not decrease",
        ),
        (
            {
                "type": "Feature",
                "geometry": {**LINE, "coordinates": [[11.9, 50.3], [11.91, 50.3]]},
                "properties": {"durations_s": [0, math.inf]},
            },
            "finite number",
        ),
        ({"polyline": "_p~iF~ps|U", "precision": 7}, "precision must be 5 or 6"),
        ({"polyline": 17}, "polyline must be a string"),
        ({"polyline": "_p~iF~ps|U_ulL"}, "truncated or malformed"),
        ("héllo wörld", "alphabet"),
        ("_p~iF", "truncated or malformed"),
    ],
)
def test_bad_routes_say_what_is_wrong(value: object, message: str) -> None:
    with pytest.raises(RouteError, match=message):
        parse_route(value)


def test_provisional_route_stretches_lengths_by_the_detour_factor() -> None:
    start, end = (11.90, 50.30), (11.92, 50.31)
    route = provisional_route(start, end)
    assert route.provisional and route.detour_factor == 1.3
    straight_m = haversine_m(*start, *end)
    line = MetricLine(route.coords, length_scale=route.detour_factor)
    assert line.length_m == pytest.approx(1.3 * straight_m, rel=0.003)
    assert route.to_geojson()["properties"]["provisional"] is True


def test_to_geojson_reads_back_as_the_same_route() -> None:
    route = Route(tuple(HOF), durations_s=(0.0, 12.0, 30.0))
    assert parse_route(route.to_geojson()) == route


def test_concatenated_legs_share_their_joint_and_offset_durations() -> None:
    a = Route(tuple(HOF[:2]), durations_s=(0.0, 10.0))
    b = Route(tuple(HOF[1:]), durations_s=(100.0, 125.0))  # a routing engine's own clock
    joined = concat_routes([a, b])
    assert joined.coords == tuple(HOF)
    assert joined.durations_s == (0.0, 10.0, 35.0)
