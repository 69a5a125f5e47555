"""Progress is continuous: a fix that also fits a later part of the route does not move the
courier there, unless the courier is seen there for a while (issue 17)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from geo.line import MetricLine
from geo.params import TrackerParams
from geo.progress import Locator
from tests.geo.helpers import lonlat, point_along

PARAMS = TrackerParams()
# North 200 m, east 250 m, south 287 m, then west past the start 37 m south of the place the
# courier waits at (50 m south of the route's start, where the last drop was), to the stop
# 410 m on.
LOOP_BACK = [(0.0, 0.0), (0.0, 200.0), (250.0, 200.0), (250.0, -87.0), (-410.0, -87.0)]
DROP = (0.0, -50.0)
PASS_ALONG_M = 200.0 + 250.0 + 287.0 + 250.0  # where the later part passes the drop


def locator_for(points: Sequence[tuple[float, float]]) -> Locator:
    return Locator(MetricLine([lonlat(x, y) for x, y in points]), PARAMS)


def feed(locator: Locator, t_s: float, x: float, y: float) -> float:
    fx, fy = locator.line.to_xy(*lonlat(x, y))
    return locator.locate(fx, fy, t_s)[0].along_m


def test_a_courier_at_the_start_is_not_placed_on_a_later_pass_nearby() -> None:
    locator = locator_for(LOOP_BACK)
    # Waiting at the drop for a minute, then to the route's start and along its first street.
    waiting = [feed(locator, t, *DROP) for t in range(0, 60, 5)]
    assert max(waiting) < 60.0
    driving = [feed(locator, 60 + t, 0.0, -50.0 + 10.0 * t) for t in range(1, 20)]
    assert driving[-1] == pytest.approx(140.0, abs=15.0)
    assert max(driving) < 160.0


def test_one_fix_nearer_a_later_street_does_not_jump_there() -> None:
    # East 400 m, north 60 m, back west: two parallel passes 60 m apart.
    locator = locator_for([(0, 0), (400, 0), (400, 60), (0, 60)])
    for t in range(0, 30, 5):
        feed(locator, t, 10.0 * t, 0.0)
    # A fix pulled 45 m north: 15 m from the way back, 45 m from where the courier drives.
    assert feed(locator, 30, 300.0, 45.0) < 320.0
    assert feed(locator, 35, 350.0, 0.0) == pytest.approx(350.0, abs=5.0)


def test_a_courier_seen_on_a_later_pass_for_a_while_is_placed_there() -> None:
    locator = locator_for([(0, 0), (400, 0), (400, 60), (0, 60)])
    for t in range(0, 30, 5):
        feed(locator, t, 10.0 * t, 0.0)
    # Really on the way back (a short cut the route did not take), 60 m from the outbound
    # street, which is still within reach of a fix: the far pass is taken once sustained.
    way_back = [(t, 300.0 - 5.0 * (t - 30), 60.0) for t in range(30, 80, 5)]
    alongs = [(t, feed(locator, t, x, y)) for t, x, y in way_back]
    held = [along for t, along in alongs if t - 30 < PARAMS.jump_s]
    assert max(held) < 320.0
    taken = [(t, along) for t, along in alongs if along > 460.0]
    assert taken and taken[0][0] - 30 >= PARAMS.jump_s
    t_last, along_last = alongs[-1]
    assert along_last == pytest.approx(460.0 + 100.0 + 5.0 * (t_last - 30), abs=5.0)
    assert [a for _, a in alongs] == sorted(a for _, a in alongs)


def test_the_jump_check_keeps_fixes_on_a_straight_road_exact() -> None:
    path = [(0.0, 0.0), (3000.0, 0.0)]
    locator = locator_for(path)
    for t in range(0, 300, 3):
        x, y = point_along(path, 10.0 * t)
        assert feed(locator, t, x, y + 4.0) == pytest.approx(min(10.0 * t, 3000.0), abs=1.0)


def test_a_first_fix_where_a_later_pass_nears_the_start_follows_that_pass_once_clear() -> None:
    # The way back passes 40 m south of the start. A courier already on it (a run rebuilt
    # mid-way) is taken for one at the start while that fits, then placed on the pass as
    # soon as a fix fits only there: not after an off-route detour.
    locator = locator_for([(0, 0), (0, 200), (250, 200), (250, -40), (-400, -40)])
    pass_start_m = 200.0 + 250.0 + 240.0 + 250.0  # x = 0 on the way back
    assert feed(locator, 0, 10.0, -40.0) < 60.0
    assert feed(locator, 5, -40.0, -40.0) < 60.0
    assert feed(locator, 10, -90.0, -40.0) == pytest.approx(pass_start_m + 90.0, abs=5.0)
    assert not locator.off_route
