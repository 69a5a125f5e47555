"""The detour correction: a winding road is slower than the place profile says, by a factor
learned from past predictions."""

from __future__ import annotations

import json
import math
import random

import pytest

from geo.detour import BINS, FACTOR_MAX, Detour, Shares, straightness
from geo.expected import ExpectedTimes
from geo.line import MetricLine
from geo.route import provisional_route
from geo.speed_profile import SpeedProfile
from tests.geo.helpers import lonlat, route_m

STRAIGHT = [(0.0, 0.0), (3000.0, 0.0)]
# 1 km straight, then a 2 km hairpin section (100 m legs back and forth), then 1 km straight.
WINDING = (
    [(0.0, 0.0), (1000.0, 0.0)]
    + [(1000.0 + 10.0 * k, 100.0 * ((k + 1) % 2)) for k in range(20)]
    + [(1190.0, 0.0), (2190.0, 0.0)]
)
SLOWER = Detour(intercept=1.0, slope=-1.2, trips=50.0)  # x0.82 straight, x2.0 on a hairpin


def line_m(points: list[tuple[float, float]]) -> MetricLine:
    return MetricLine([lonlat(x, y) for x, y in points])


def test_straightness_is_one_on_a_straight_road_and_low_among_hairpins() -> None:
    assert straightness(line_m(STRAIGHT), [0.0, 1500.0, 3000.0]) == pytest.approx(1.0, abs=1e-6)
    line = line_m(WINDING)
    middle = 1000.0 + (line.length_m - 2000.0) / 2
    values = straightness(line, [200.0, middle, line.length_m - 200.0])
    assert values[0] == pytest.approx(1.0, abs=1e-6)  # 800 m of straight road around it
    assert values[1] < 0.2
    assert values[2] == pytest.approx(1.0, abs=1e-6)


def test_a_line_shorter_than_the_scale_is_measured_whole() -> None:
    line = line_m([(0.0, 0.0), (150.0, 0.0), (150.0, 150.0)])  # 300 m, a right angle
    assert straightness(line, [0.0, 300.0]) == pytest.approx(
        [math.hypot(150, 150) / 300] * 2, abs=1e-6
    )


def test_the_factor_is_kept_within_bounds() -> None:
    assert Detour().factor(0.0) == 1.0
    assert Detour(5.0, 0.0).factor(1.0) == FACTOR_MAX
    assert SLOWER.factor(1.0) == pytest.approx(math.exp(-0.2))


def test_learning_finds_the_relation_in_past_errors() -> None:
    rng = random.Random(4)
    samples, weights = [], []
    for _trip in range(60):  # ten predictions each, weighted 1/10
        for _ in range(10):
            tenth = rng.randrange(BINS)
            shares = [0.0] * BINS
            shares[tenth] = 1.0
            predicted = rng.uniform(60.0, 900.0)
            truth = math.exp(0.6 - 0.8 * (tenth + 0.5) / BINS + rng.gauss(0.0, 0.05))
            samples.append((predicted, (predicted + 30.0) * truth - 30.0, shares))
            weights.append(0.1)
    detour = Detour.learn(samples, weights)
    assert detour.slope == pytest.approx(-0.8, abs=0.1)
    assert detour.intercept == pytest.approx(0.6, abs=0.06)
    assert detour.trips == pytest.approx(60.0)
    # Too few trips teach nothing.
    assert Detour.learn(samples[:150], weights[:150]).identity


def test_a_profile_keeps_its_detour_through_json_and_an_old_one_has_none() -> None:
    profile = SpeedProfile().with_detour(SLOWER)
    stored = json.loads(json.dumps(profile.to_json()))
    assert SpeedProfile.from_json(stored).detour == SLOWER
    del stored["detour"]
    assert SpeedProfile.from_json(stored).detour.identity


def test_expected_times_slow_the_hairpins_and_leave_straight_road_as_fit() -> None:
    route = route_m(WINDING)
    line = MetricLine(route.coords)
    plain = ExpectedTimes(line, route, SpeedProfile())
    corrected = ExpectedTimes(line, route, SpeedProfile().with_detour(SLOWER))
    hour = 9

    def seconds(times: ExpectedTimes, lo_m: float, hi_m: float) -> float:
        return times.at(hi_m, hour) - times.at(lo_m, hour)

    hairpins = (1400.0, line.length_m - 1400.0)
    assert seconds(corrected, *hairpins) / seconds(plain, *hairpins) > 1.8
    assert seconds(corrected, 0.0, 500.0) / seconds(plain, 0.0, 500.0) == pytest.approx(
        math.exp(-0.2), rel=1e-3
    )


def test_routing_engine_times_and_straight_guesses_are_left_alone() -> None:
    route = route_m(WINDING)
    timed = route_m(WINDING, durations_s=tuple(10.0 * k for k in range(len(WINDING))))
    provisional = provisional_route(lonlat(0.0, 0.0), lonlat(2190.0, 0.0))
    profile = SpeedProfile().with_detour(SLOWER)
    for r in (timed, provisional):
        line = MetricLine(r.coords, length_scale=r.detour_factor)
        end = line.length_m
        assert ExpectedTimes(line, r, profile).at(end, 9) == pytest.approx(
            ExpectedTimes(line, r, SpeedProfile()).at(end, 9)
        )
    assert route.durations_s is None


def test_shares_split_the_time_ahead_by_straightness() -> None:
    route = route_m(WINDING)
    line = MetricLine(route.coords)
    times = ExpectedTimes(line, route, SpeedProfile())
    shares = Shares(times.piece_seconds(9), times.piece_m, line)
    for along in (0.0, 1234.5, line.length_m / 2):
        ahead = shares.at(along)
        assert sum(ahead) == pytest.approx(times.at(line.length_m, 9) - times.at(along, 9))
    start = shares.at(0.0)
    assert start[BINS - 1] > 0 and sum(start[:2]) > 0  # straight road and hairpins
    assert sum(shares.at(line.length_m)) == pytest.approx(0.0, abs=1e-9)
