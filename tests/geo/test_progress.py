"""Progress along a route: metric projection, loops, overlaps, noise, off-route hysteresis."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from pyproj import Geod

from geo.line import MetricLine
from geo.params import TrackerParams
from geo.progress import Locator, Transition
from geo.run import Stop, build_run
from tests.geo.helpers import FRAME, lonlat, route_m

PARAMS = TrackerParams()


def locator_for(points: Sequence[tuple[float, float]]) -> Locator:
    return Locator(MetricLine([lonlat(x, y) for x, y in points]), PARAMS)


def feed(locator: Locator, t_s: float, x: float, y: float) -> tuple[float, float, str | None]:
    fx, fy = locator.line.to_xy(*lonlat(x, y))
    progress, transition = locator.locate(fx, fy, t_s)
    return progress.along_m, progress.offset_m, transition


def test_lengths_and_offsets_are_metres() -> None:
    east = [(0.0, 0.0), (2000.0, 0.0)]
    line = MetricLine([lonlat(x, y) for x, y in east])
    (lon1, lat1), (lon2, lat2) = lonlat(*east[0]), lonlat(*east[1])
    geodesic_m = Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2]
    assert line.length_m == pytest.approx(geodesic_m, rel=1e-4)
    x, y = line.to_xy(*lonlat(700.0, 35.0))
    hit = line.nearest(x, y, 0.0, line.length_m)
    assert hit.along_m == pytest.approx(700.0, abs=1.0)
    assert hit.offset_m == pytest.approx(35.0, abs=0.5)


def test_the_frame_is_cached_per_place() -> None:
    assert MetricLine([lonlat(0, 0), lonlat(100, 0)]).frame is FRAME


def test_out_and_back_on_one_street_follows_the_pass_being_driven() -> None:
    # East 1000 m, then back west 10 m further north: the two passes are 10 m apart.
    locator = locator_for([(0, 0), (1000, 0), (1000, 10), (0, 10)])
    # Fixes on the centre line between the passes, equally close to both.
    outbound = [feed(locator, t, 10.0 * t, 5.0)[0] for t in range(0, 100, 5)]
    assert outbound[-1] == pytest.approx(950.0, abs=15.0)
    back = [feed(locator, 100 + t, 1000.0 - 10.0 * t, 5.0)[0] for t in range(5, 100, 5)]
    assert back[-1] == pytest.approx(1010.0 + 950.0, abs=15.0)
    assert outbound + back == sorted(outbound + back)


def test_a_loop_that_repeats_its_first_street_is_followed_round() -> None:
    square = [(0, 0), (500, 0), (500, 500), (0, 500), (0, 0), (500, 0)]
    locator = locator_for(square)
    assert feed(locator, 0, 250.0, 3.0)[0] == pytest.approx(250.0, abs=5.0)
    # Round the loop at 10 m/s, a fix a second, and 340 m into the first street again.
    for k in range(1, 210):
        along = feed(locator, k, *_on_square(250.0 + 10.0 * k))[0]
    assert along == pytest.approx(2340.0, abs=10.0)


def _on_square(d: float) -> tuple[float, float]:
    side = int(d // 500) % 4
    f = d % 500
    return [(f, 0.0), (500.0, f), (500.0 - f, 500.0), (0.0, 500.0 - f)][side]


def test_progress_does_not_go_backwards_on_a_noisy_fix() -> None:
    locator = locator_for([(0, 0), (2000, 0)])
    feed(locator, 0, 0, 0)
    assert feed(locator, 10, 500, 4)[0] == pytest.approx(500.0, abs=1.0)
    assert feed(locator, 12, 480, -6)[0] == pytest.approx(500.0, abs=1.0)
    assert feed(locator, 14, 530, 2)[0] == pytest.approx(530.0, abs=1.0)


def test_one_far_fix_is_not_off_route_but_a_sustained_detour_is() -> None:
    locator = locator_for([(0, 0), (5000, 0)])
    transitions = []
    for t in range(0, 50, 5):
        transitions.append(feed(locator, t, 10.0 * t, 0)[2])
    transitions.append(feed(locator, 50, 500, 300)[2])  # a glitch
    for t in range(55, 80, 5):
        transitions.append(feed(locator, t, 10.0 * t, 0)[2])
    assert [x for x in transitions if x] == []
    # A parallel street 150 m away, for 40 s.
    detour = [feed(locator, t, 10.0 * t, 150.0)[2] for t in range(80, 125, 5)]
    assert detour.count(Transition.OFF_ROUTE) == 1
    first_off = 80 + 5 * detour.index(Transition.OFF_ROUTE)
    assert first_off - 80 >= PARAMS.off_route_s
    assert locator.off_route
    back = [feed(locator, t, 10.0 * t, 0.0)[2] for t in range(125, 150, 5)]
    assert back.count(Transition.BACK_ON_ROUTE) == 1 and not locator.off_route
    assert back.index(Transition.BACK_ON_ROUTE) == PARAMS.back_on_fixes - 1


def test_a_detour_that_rejoins_far_ahead_is_picked_up_there() -> None:
    locator = locator_for([(0, 0), (3000, 0)])
    for t in range(0, 30, 5):
        feed(locator, t, 10.0 * t, 0)
    for t in range(30, 300, 10):  # a long way round, 400 m away, no progress counted
        along, _, _ = feed(locator, t, 300 + 8.0 * (t - 30), 400.0)
    assert locator.off_route and along == pytest.approx(250.0, abs=10.0)
    feed(locator, 300, 2500, 5)
    along, offset, transition = feed(locator, 305, 2550, 5)
    assert transition == Transition.BACK_ON_ROUTE
    assert along == pytest.approx(2550.0, abs=5.0) and offset < 10.0


def test_stops_on_an_out_and_back_route_are_placed_on_their_own_pass() -> None:
    route = route_m([(0, 0), (1000, 0), (1000, 10), (0, 10)])
    here = lonlat(400, 5)
    run = build_run(
        route,
        [Stop("out", *here), Stop("mid", *lonlat(1000, 5)), Stop("back", *here)],
    )
    alongs = [s.along_m for s in run.stops]
    assert alongs[0] == pytest.approx(400.0, abs=2.0)
    assert alongs[1] == pytest.approx(1000.0, abs=6.0)
    assert alongs[2] == pytest.approx(1010.0 + 600.0, abs=2.0)


def test_a_final_stop_at_a_loop_start_is_placed_at_the_end() -> None:
    route = route_m([(0, 0), (500, 0), (500, 500), (0, 500), (0, 0)])
    run = build_run(route, [Stop("home", *lonlat(0, 0))])
    assert run.stops[0].along_m == pytest.approx(2000.0, abs=1.0)
