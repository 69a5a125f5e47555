"""Learning the fleet's speed by place and hour, and the ETA window, with JSON round trips."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest

from geo.calibration import Calibration
from geo.run import Stop, build_run
from geo.speed_profile import SpeedProfile, hour_of_week, learn
from geo.tracker import Tracker
from tests.geo.helpers import T0, drive, fix_m, lonlat, route_m

SLOW_STREET = [(0.0, 0.0), (2000.0, 0.0)]  # 3 m/s
FAST_STREET = [(0.0, 1000.0), (2000.0, 1000.0)]  # 15 m/s


def history(days: int = 3) -> list[list]:  # type: ignore[type-arg]
    trips = []
    for day in range(days):
        t0 = day * 86_400.0
        trips.append(drive(SLOW_STREET, 3.0, 5.0, t0_s=t0))
        trips.append(drive(FAST_STREET, 15.0, 5.0, t0_s=t0 + 3_600))
    return trips


def eta_along(profile: SpeedProfile, street: list[tuple[float, float]]) -> float:
    stop = Stop("end", *lonlat(*street[-1]))
    tracker = Tracker(build_run(route_m(street), [stop]), profile)
    return tracker.update(fix_m(7 * 86_400, *street[0])).etas[0].eta_s


def test_a_learned_profile_knows_slow_and_fast_streets() -> None:
    profile = learn(history())
    slow, fast = eta_along(profile, SLOW_STREET), eta_along(profile, FAST_STREET)
    # 2000 m at 3 m/s is 667 s, at 15 m/s 133 s; the shrinkage towards the fleet pulls a little.
    assert slow == pytest.approx(667, rel=0.15)
    assert fast == pytest.approx(133, rel=0.25)
    # The fleet-wide speed alone would give both the same.
    assert eta_along(SpeedProfile(), SLOW_STREET) == pytest.approx(
        eta_along(SpeedProfile(), FAST_STREET)
    )


def test_the_profile_learns_the_hour_of_the_week() -> None:
    # The same street, slow on Monday at 08:00 and fast on Monday at 14:00, for four weeks.
    trips = []
    for week in range(4):
        monday = week * 7 * 86_400
        trips.append(drive(SLOW_STREET, 3.0, 5.0, t0_s=monday - 3_600))
        trips.append(drive(SLOW_STREET, 15.0, 5.0, t0_s=monday + 5 * 3_600))
    profile = learn(trips)
    x, y = 500_000.0, 5_000_000.0  # not this street: the fleet-wide pace at any hour
    assert profile.pace_s_per_m(32632, x, y, 90.0, 8)[0] == pytest.approx(
        1 / profile.fleet_speed_mps
    )
    morning = T0 - timedelta(hours=1)
    afternoon = T0 + timedelta(hours=5)
    route = route_m(SLOW_STREET)
    tracker = Tracker(build_run(route, [Stop("end", *route.end)]), profile)
    at_8 = tracker.expected.at(2000.0, hour_of_week(morning + timedelta(minutes=30)))
    at_14 = tracker.expected.at(2000.0, hour_of_week(afternoon + timedelta(minutes=30)))
    assert at_8 > 1.8 * at_14


def test_long_parking_is_not_learned_as_slow_traffic() -> None:
    parked = drive(SLOW_STREET, 10.0, 5.0)
    end = parked[-1]
    parked += [fix_m(200 + 15 * k, 2000.0, 0.0) for k in range(1, 120)]  # 30 min standing
    with_parking = learn([parked])
    without = learn([drive(SLOW_STREET, 10.0, 5.0)])
    assert end.recorded_at < parked[-1].recorded_at
    assert with_parking.fleet_speed_mps == pytest.approx(without.fleet_speed_mps, rel=0.01)


def test_profile_json_round_trip_gives_the_same_answers() -> None:
    profile = learn(history())
    restored = SpeedProfile.from_json(json.loads(json.dumps(profile.to_json())))
    assert restored.totals.keys() == profile.totals.keys()
    assert eta_along(restored, SLOW_STREET) == pytest.approx(
        eta_along(profile, SLOW_STREET), rel=1e-4
    )
    with pytest.raises(ValueError, match="format"):
        SpeedProfile.from_json({**profile.to_json(), "version": 99})


def test_a_calibrated_window_holds_about_80_percent_of_arrivals() -> None:
    rng = random.Random(7)
    samples = []
    for _ in range(4000):
        predicted = rng.uniform(30, 3000)
        samples.append((predicted, predicted * rng.lognormvariate(0.05, 0.2)))
    calibration = Calibration.learn(samples[:2000])
    inside = 0
    for predicted, actual in samples[2000:]:
        lo, hi = calibration.window_s(predicted)
        inside += lo <= actual <= hi
    assert 0.75 <= inside / 2000 <= 0.85
    # The default guess is not that good a fit to this spread: learning mattered.
    default = Calibration.default()
    covered = sum(default.window_s(p)[0] <= a <= default.window_s(p)[1] for p, a in samples[2000:])
    assert abs(covered / 2000 - 0.8) > abs(inside / 2000 - 0.8)
    restored = Calibration.from_json(json.loads(json.dumps(calibration.to_json())))
    assert restored == calibration


def test_a_long_red_light_charges_the_place_only_the_usual_wait() -> None:
    """Standing 150 s mid-street: the trip keeps it (it is under the parking limit), the
    place is charged max_wait_s of it, so one long wait does not slow every later ETA."""
    before = drive([(0.0, 0.0), (1000.0, 0.0)], 10.0, 5.0)
    light = [fix_m(100 + 5 * k, 1000.0, 0.0) for k in range(1, 31)]
    after = drive([(1000.0, 0.0), (2000.0, 0.0)], 10.0, 5.0, t0_s=255.0)[1:]
    trip = before + light + after
    profile = learn([trip])
    moving_s = 100.0 + 105.0  # 0-100 s, then 250-355 s
    assert profile.params.max_wait_s < 150.0 < profile.params.max_stop_s
    assert 2000.0 / profile.fleet_speed_mps == pytest.approx(
        moving_s + profile.params.max_wait_s, rel=0.02
    )
    # The trip's own average speed (the baseline's) still counts the whole stop.
    span_s = (trip[-1].recorded_at - trip[0].recorded_at).total_seconds()
    assert profile.median_trip_speed_mps == pytest.approx(2000.0 / span_s, rel=0.02)


def test_window_and_spread_together_match_them_apart() -> None:
    calibration = Calibration.learn([(p, p * (0.8 + 0.1 * (p % 5))) for p in range(10, 3000, 7)])
    for eta_s in (0.0, 45.0, 250.0, 900.0, 5000.0):
        for widen in (1.0, 1.5):
            early, late, spread = calibration.window_and_spread_s(eta_s, widen)
            assert (early, late) == calibration.window_s(eta_s, widen)
            assert spread == pytest.approx(calibration.spread(eta_s) * widen)
