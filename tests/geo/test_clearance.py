"""What customers may see of a run: routes and positions clear of other stops."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geo.clearance import Keepout, LegView

GEOD = Geod(ellps="WGS84")
DEG_PER_KM = 0.01407  # of longitude at lat 50.30


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def east(m: float, lat: float = 50.30) -> tuple[float, float]:
    return (11.90 + m / 1000 * DEG_PER_KM, lat)


def line_length_m(coords: tuple[tuple[float, float], ...]) -> float:
    return sum(distance_m(a, b) for a, b in itertools.pairwise(coords))


def densified(coords: tuple[tuple[float, float], ...], step_m: float) -> list[tuple[float, float]]:
    """The line's points every `step_m` or so (linear in degrees: fine at these scales)."""
    points = [coords[0]]
    for a, b in itertools.pairwise(coords):
        n = max(1, math.ceil(distance_m(a, b) / step_m))
        points += [
            (a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(1, n + 1)
        ]
    return points


# A leg from the previous stop (at 0 m) east, past a later stop's door, to this order's door.
LEG = [east(m) for m in range(0, 3001, 250)]
PREVIOUS = east(0)
LATER = east(1200, 50.3015)  # ~170 m north of the street at 1.2 km


def test_the_leg_starts_clear_of_the_previous_stop_and_of_stops_it_passes() -> None:
    view = LegView(LEG, [PREVIOUS, LATER], 300.0)
    visible = view.ahead()
    assert visible is not None and visible[-1] == LEG[-1]
    assert min(distance_m(c, p) for c in visible for p in (PREVIOUS, LATER)) >= 300.0
    # It starts where the street leaves the later stop's clearance, not before.
    assert distance_m(visible[0], LATER) < 302.0 and visible[0][0] > LATER[0]


def test_the_visible_part_shrinks_as_the_courier_drives() -> None:
    view = LegView(LEG, [PREVIOUS], 300.0)
    lengths = []
    for ahead_m in (None, 2500.0, 1500.0, 400.0, 0.5):
        visible = view.ahead(ahead_m)
        lengths.append(0.0 if visible is None else line_length_m(visible))
    assert lengths == sorted(lengths, reverse=True) and lengths[-1] == 0.0
    assert math.isclose(lengths[2], 1500.0, rel_tol=0.01)
    assert math.isclose(lengths[0], view.length_m - view.clear_from_m, rel_tol=0.01)


def test_a_door_within_the_clearance_of_another_leaves_no_route() -> None:
    assert LegView(LEG, [east(2900)], 300.0).ahead() is None


@settings(max_examples=60, deadline=None)
@given(
    st.floats(0.0, 3000.0),
    st.floats(-400.0, 400.0),
    st.floats(50.0, 500.0),
)
def test_no_point_of_the_route_within_the_clearance(
    along_m: float, north_m: float, clearance_m: float
) -> None:
    stop = (east(along_m)[0], 50.30 + north_m / 111_235)
    visible = LegView(LEG, [stop], clearance_m).ahead()
    if visible is not None:
        assert min(distance_m(c, stop) for c in visible) >= clearance_m
        # Between the vertices too: a segment can pass closer than both its ends.
        assert min(distance_m(c, stop) for c in densified(visible, 5.0)) >= clearance_m - 0.5
        assert visible[-1] == LEG[-1]
    else:
        assert distance_m(LEG[-1], stop) < clearance_m + 2.0


@settings(max_examples=200, deadline=None)
@given(st.floats(-500.0, 500.0), st.floats(-500.0, 500.0), st.floats(-60.0, 60.0))
def test_keepout_agrees_with_the_ellipsoid(dx_m: float, dy_m: float, lat: float) -> None:
    lon, lat2, _ = GEOD.fwd(10.0, lat, math.degrees(math.atan2(dx_m, dy_m)), math.hypot(dx_m, dy_m))
    d = distance_m((10.0, lat), (lon, lat2))
    near = Keepout([(1, 10.0, lat)], 300.0).near(lon, lat2)
    if abs(d - 300.0) > 0.5:  # the local scale is good to ~1e-4 over this distance
        assert near == ([1] if d < 300.0 else [])
